/**
 * A link's bootstrap channel as channel ends: export 0 on each side is its inbox, so every link
 * starts as a pair of channels (PROTOCOL §1.3). The process layer, servers and connectWire begin here.
 */
import type { LinkImpl } from '../link/link.js'
import { Receiver, receiverFromPort } from './receiver.js'
import { Sender, senderFromPort } from './sender.js'

/** A Sender into the peer's bootstrap inbox (export 0). */
export function bootstrapSender<T>(link: LinkImpl): Sender<T> {
  link.outbox.addSender()
  return senderFromPort<T>(link.outbox)
}

/** The Receiver of this side's bootstrap inbox. Take it once. */
export function bootstrapReceiver<T>(link: LinkImpl): Receiver<T> {
  return receiverFromPort<T>(link.inbox)
}
