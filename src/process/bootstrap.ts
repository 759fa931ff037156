/**
 * How a parent and a child start talking over a fresh link: the parent sends, on the link's
 * bootstrap channel, one message `{ receiver, sender, data }` holding the child's two ends.
 */
import { Receiver, Sender, bootstrapReceiver, bootstrapSender, channel } from '../channel/index.js'
import type { LinkImpl } from '../link/link.js'

export interface Ends<In, Out> {
  receiver: Receiver<In>
  sender: Sender<Out>
}

export interface BootMessage {
  receiver: Receiver<unknown>
  sender: Sender<unknown>
  data: unknown
}

/** Parent side: make both channels, hand the child its ends, keep ours. */
export function offerEnds<ToChild, ToParent>(link: LinkImpl, data: unknown): { sender: Sender<ToChild>; receiver: Receiver<ToParent> } {
  const [toChild, childRx] = channel<ToChild>()
  const [childTx, fromChild] = channel<ToParent>()
  const boot = bootstrapSender<BootMessage>(link)
  boot.send({ receiver: childRx as Receiver<unknown>, sender: childTx as Sender<unknown>, data })
  boot.close()
  return { sender: toChild, receiver: fromChild }
}

/** Child side: wait for the parent's boot message. */
export async function takeEnds<In, Out>(link: LinkImpl): Promise<Ends<In, Out> & { data: unknown }> {
  const inbox = bootstrapReceiver<BootMessage>(link)
  try {
    const m = await inbox.recv()
    if (!(m && m.receiver instanceof Receiver && m.sender instanceof Sender)) throw new TypeError('ipfi: malformed boot message from the parent')
    return { receiver: m.receiver as Receiver<In>, sender: m.sender as Sender<Out>, data: m.data }
  } finally {
    inbox.close()
  }
}
