/** A Peer: one client of a `listen()` server, or the server as a `connect()` client sees it. */
import type { Duplex } from 'node:stream'
import type { TLSSocket } from 'node:tls'
import type { Receiver, Sender } from '../channel/index.js'
import { LinkImpl, type Link, type LinkOptions } from '../link/link.js'
import { bootstrapReceiver, bootstrapSender } from '../channel/index.js'
import { duplexWire } from '../wire/duplex.js'

export interface PeerAddress {
  /** The Unix socket path, or the remote IP address; over NATS, the link id (at a listener) or the address connected to (at a client). */
  address: string
  /** The remote TCP port (absent for Unix sockets). */
  port?: number
  family?: string
  /** For TLS: whether the peer's certificate was verified, and its subject when it sent one. */
  authorized?: boolean
  certificateSubject?: Record<string, unknown>
}

export class Peer<Out, In> {
  /** Arrives at the other side's `receiver`. */
  readonly sender: Sender<Out>
  /** What the other side's `sender` sends. */
  readonly receiver: Receiver<In>
  readonly link: Link
  readonly remote: PeerAddress
  /** Resolves with the cause once the link to this peer is closed, whatever closed it. */
  readonly closed: Promise<unknown>

  readonly #link: LinkImpl

  /** @internal */
  constructor(link: LinkImpl, remote: PeerAddress) {
    this.link = link
    this.#link = link
    this.remote = remote
    this.sender = bootstrapSender<Out>(link)
    this.receiver = bootstrapReceiver<In>(link)
    this.closed = link.closed
  }

  /** @internal Messages from this peer not yet received. */
  get unread(): number {
    return this.#link.inbox.queued
  }

  /** Close this peer's link in order: the channels that crossed it end as closed ones (`DisconnectedError`), on both sides. */
  close(reason?: string): void {
    this.link.close(reason)
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.close()
    await this.closed
  }
}

/** Start a link on an admitted socket (bytes that came after the admission are still queued in it). */
export function linkSocket(socket: Duplex, options: LinkOptions): LinkImpl {
  const link = new LinkImpl(duplexWire(socket), options)
  socket.resume() // admission paused it
  return link
}

export function describeSocket(socket: Duplex & { remoteAddress?: string; remotePort?: number; remoteFamily?: string }, unixPath: string | null): PeerAddress {
  if (unixPath !== null) return { address: unixPath }
  const out: PeerAddress = { address: socket.remoteAddress ?? '', port: socket.remotePort, family: socket.remoteFamily }
  const tls = socket as Partial<TLSSocket>
  if (typeof tls.getPeerCertificate === 'function') {
    out.authorized = tls.authorized === true
    const cert = tls.getPeerCertificate()
    if (cert && cert.subject) out.certificateSubject = { ...cert.subject }
  }
  return out
}
