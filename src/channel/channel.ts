import { TAG_HANDLE } from '../codec/msgpack.js'
import { registerHandleFactory } from '../link/handles.js'
import { Port } from '../link/port.js'
import { Receiver, receiverFromPort } from './receiver.js'
import { Sender, senderFromPort } from './sender.js'

registerHandleFactory(TAG_HANDLE, (cap) => (cap.kind === 'sender' ? senderFromPort(cap.port) : receiverFromPort(cap.port)))

/** An unbounded channel. Both ends may later move to other threads or processes. */
export function channel<T>(): [Sender<T>, Receiver<T>] {
  const port = new Port()
  port.addSender()
  return [senderFromPort<T>(port), receiverFromPort<T>(port)]
}
