/**
 * connectWire(): speak ipfi over any Wire. Both ends call it; each gets a sender into the other's
 * bootstrap channel and the receiver of its own, so a link starts as a pair of channels. Send
 * senders, receivers and (later) endpoints through them to wire up anything else.
 */
import type { Receiver, Sender } from '../channel/index.js'
import { LinkImpl, type Link, type LinkOptions } from '../link/link.js'
import type { Wire } from '../wire/wire.js'
import { bootstrapReceiver, bootstrapSender } from '../channel/index.js'

export interface Connection<Out, In> {
  /** Arrives at the peer's `receiver`. */
  sender: Sender<Out>
  /** What the peer's `sender` sends. */
  receiver: Receiver<In>
  link: Link
  /** Resolves once the peer's handshake arrived; rejects if the link failed first. */
  ready: Promise<void>
  /** Resolves with the cause once the link is closed. */
  closed: Promise<unknown>
  /** Close the link in order: the channels that cross it end as closed ones (`DisconnectedError`), on both sides. */
  close(reason?: string): void
}

export function connectWire<Out, In>(wire: Wire, options: LinkOptions = {}): Connection<Out, In> {
  const link = new LinkImpl(wire, options)
  return {
    sender: bootstrapSender<Out>(link),
    receiver: bootstrapReceiver<In>(link),
    link,
    ready: link.ready,
    closed: link.closed,
    close: (reason) => link.close(reason),
  }
}
