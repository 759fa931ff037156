/**
 * An Endpoint is a sendable handle to procedures exposed somewhere. Underneath it is a Sender of
 * session openings (SessionOpen, messages.ts): it moves, clones and closes exactly like a Sender, and it
 * crosses wires with the payload tag 0x04 so that it arrives as an Endpoint.
 */
import { HANDLE } from '../codec/walk.js'
import { TAG_ENDPOINT } from '../codec/msgpack.js'
import { ProtocolError } from '../errors.js'
import { Sender, senderFromPort } from '../channel/index.js'
import { registerHandleFactory, type HandleAccess } from '../link/handles.js'
import { CONSTRUCT, OPEN_SESSION, brandClass } from '../brand.js'
import type { SessionOpen } from './messages.js'

export class Endpoint<T = unknown> {
  readonly #sender: Sender<SessionOpen>
  /** @internal Only for the type parameter: an Endpoint<T> exposes T. */
  declare readonly __exposes?: T

  /** @internal Endpoints come from `expose()` or arrive in messages. */
  constructor(token: typeof CONSTRUCT, sender: Sender<SessionOpen>) {
    if (token !== CONSTRUCT) throw new TypeError('use expose() to make an endpoint')
    this.#sender = sender
  }

  /** Another handle to the same procedures. */
  clone(): Endpoint<T> {
    return new Endpoint<T>(CONSTRUCT, this.#sender.clone())
  }

  /** Close this handle (idempotent). Once every handle is closed the callee stops taking sessions. */
  close(): void {
    this.#sender.close()
  }

  [Symbol.dispose](): void {
    this.close()
  }

  /** Whether the procedures behind this endpoint are known to be gone. */
  get isDisconnected(): boolean {
    return this.#sender.isDisconnected
  }

  /** @internal The brand by which the codec finds this handle in a message. */
  get [HANDLE](): HandleAccess {
    const inner = this.#sender[HANDLE] as HandleAccess
    return { kind: 'sender', tag: TAG_ENDPOINT, check: inner.check, detach: inner.detach }
  }

  /** @internal Open a session (caller/session.ts). */
  [OPEN_SESSION](open: SessionOpen): void {
    this.#sender.send(open)
  }

  get [Symbol.toStringTag](): string {
    return 'Endpoint'
  }
}
brandClass(Endpoint, 'Endpoint')

registerHandleFactory(TAG_ENDPOINT, (cap) => {
  if (cap.kind !== 'sender') throw new ProtocolError('an endpoint handle (tag 0x04) must name a sender capability (descriptor tag 0, 1 or 2), not a moved receiver (tag 3)')
  return new Endpoint(CONSTRUCT, senderFromPort<SessionOpen>(cap.port))
})
