export { channel } from './channel.js'
export { Sender, setConnector, senderFromPort } from './sender.js'
export { Receiver, receiverFromPort, RECV_SIZED, TAKE_SIZED, type Sized, Interrupt, type RecvOptions, type TryRecvResult } from './receiver.js'
export { ReceiverSet, type SelectEvent } from './select.js'
