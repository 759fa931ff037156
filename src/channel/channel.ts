import { TAG_HANDLE } from '../codec/msgpack.js'
import { registerHandleFactory } from '../link/handles.js'
import { Port } from '../link/port.js'
import { Receiver, receiverFromPort } from './receiver.js'
import { Sender, senderFromPort } from './sender.js'

registerHandleFactory(TAG_HANDLE, (cap) => (cap.kind === 'sender' ? senderFromPort(cap.port) : receiverFromPort(cap.port)))

/**
 * An unbounded channel: `send` never blocks, `recv` waits. Both ends may later move to other
 * threads or processes by being sent in a message; the code that uses them stays the same.
 *
 * ```js
 * const [tx, rx] = channel()
 * tx.send('hello')
 * tx.close()
 * for await (const m of rx) console.log(m) // hello
 * // ...and the loop ends: every sender is closed
 * ```
 */
export function channel<T>(): [Sender<T>, Receiver<T>] {
  const port = new Port()
  port.addSender()
  return [senderFromPort<T>(port), receiverFromPort<T>(port)]
}
