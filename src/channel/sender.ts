import { HANDLE } from '../codec/walk.js'
import { HandleError } from '../errors.js'
import type { HandleAccess } from '../link/handles.js'
import type { Cap, Port } from '../link/port.js'
import { CONSTRUCT, brandClass } from '../brand.js'
import { trackSender, untrackSender } from './finalize.js'
import { clearTransferMark, transferListOf } from '../codec/transfer-list.js'
import { localEntry, localTransfer } from './transfer.js'

/** @internal The door to `Sender[SEND_NOW]`: a send whose batch is written at once. */
export const SEND_NOW: unique symbol = Symbol('ipfi.sendNow')

type Connector = (name: string, options?: object) => Promise<Sender<unknown>>
let connector: Connector | null = null
/** The process layer supplies `Sender.connect` (it owns sockets); see process/one-shot.ts. */
export function setConnector(c: Connector): void {
  connector = c
}

const LIVE = 0
const MOVED = 1
const CLOSED = 2

/**
 * The sending end of a channel. `send` never blocks. Clone it to have more senders; the channel is
 * disconnected for its receiver once every sender, everywhere, is closed.
 *
 * A Sender can be sent inside any message, to any process: that moves it (this object becomes
 * unusable) and the message carries a working sender. Send `tx.clone()` to keep one.
 */
export class Sender<T> {
  #port: Port | null
  #state = LIVE

  /** @internal Senders come from `channel()`, `clone()`, or arrive in messages. */
  constructor(token: typeof CONSTRUCT, port: Port) {
    if (token !== CONSTRUCT) throw new TypeError('use channel() to make a channel')
    this.#port = port
    trackSender(this, port)
  }

  /** Connect to a `OneShotServer` by its name; resolves once the link is up. */
  static connect<T>(name: string, options?: { timeout?: number }): Promise<Sender<T>> {
    if (!connector) return Promise.reject(new Error('ipfi: Sender.connect is not available in this build'))
    return connector(name, options) as Promise<Sender<T>>
  }

  /** @internal `send`, then the link's batch goes to the wire at once (what the peer waits for). */
  [SEND_NOW](value: T): void {
    this.send(value)
    this.#port!.resolve().route?.link.flushNow()
  }

  /**
   * Send a value. Throws `DisconnectedError` if the receiver is known to be closed. A value marked
   * with `transfer(value, buffers)` moves those buffers instead of copying them (they are detached
   * here once the send succeeded); a send that throws leaves them, and the mark, as they were.
   */
  send(value: T): void {
    const port = this.#live().resolve()
    if (port.receiverGone) throw port.goneError()
    const route = port.route
    const list = transferListOf(value)
    if (list) {
      if (route) route.link.sendValue(route, value, port, list)
      else {
        const { delivered, entry } = localTransfer(value, port, list)
        port.deliver(delivered, entry)
      }
      clearTransferMark(value)
    } else if (route) route.link.sendValue(route, value, port)
    else port.deliver(value, localEntry(value, port))
  }

  /**
   * Bytes sent and not yet handed to the transport, on the link this channel crosses (0 in
   * process). A producer that may outrun a slow peer waits for `drained()` past a mark of its own
   * choosing, as a Node stream's writer waits for 'drain'; a link fails with LimitExceededError
   * past `maxUnsentBytes`.
   */
  get bufferedBytes(): number {
    return this.#live().resolve().route?.link.unsentBytes ?? 0
  }

  /** Resolves once everything sent so far has been handed to the transport (at once in process). */
  drained(): Promise<void> {
    const route = this.#live().resolve().route
    return route ? route.link.drained() : Promise.resolve()
  }

  /**
   * This sender as a web `WritableStream` (for `Writable.fromWeb` in Node streams, or
   * `readable.pipeTo(tx.writable())`). Each chunk is one message. A write waits while more than
   * `highWaterMark` bytes sent on the link have not reached the transport (`bufferedBytes`), so a
   * producer piped in goes at the pace the wire takes. Closing the stream closes the sender;
   * aborting it closes the sender too.
   */
  writable(options: { highWaterMark?: number } = {}): WritableStream<T> {
    const mark = options.highWaterMark ?? 1024 * 1024
    if (!(mark >= 0)) throw new RangeError(`highWaterMark must be a number of bytes, at least 0, got ${String(mark)}`)
    return new WritableStream<T>({
      write: (chunk) => {
        this.send(chunk)
        if (this.bufferedBytes > mark) return this.drained()
      },
      close: () => this.close(),
      abort: () => this.close(),
    })
  }

  /** Another sender for the same channel. */
  clone(): Sender<T> {
    const port = this.#live()
    port.addSender()
    return new Sender<T>(CONSTRUCT, port)
  }

  /** Close this sender (idempotent). When the last one closes, the receiver sees the disconnect. */
  close(): void {
    if (this.#state !== LIVE) {
      this.#state = this.#state === MOVED ? MOVED : CLOSED
      return
    }
    this.#state = CLOSED
    const port = this.#port!
    this.#port = null
    untrackSender(this)
    port.releaseSender()
  }

  /** Whether the receiver is known to be gone (a send would throw). */
  get isDisconnected(): boolean {
    const p = this.#port
    return !p || p.resolve().receiverGone
  }

  [Symbol.dispose](): void {
    this.close()
  }

  /** @internal The brand by which the codec finds this handle in a message. */
  get [HANDLE](): HandleAccess {
    return {
      kind: 'sender',
      check: () => this.#live(),
      detach: (): Cap => {
        const port = this.#live()
        this.#state = MOVED
        this.#port = null
        untrackSender(this)
        return { kind: 'sender', port }
      },
    }
  }

  #live(): Port {
    if (this.#state === LIVE) return this.#port!
    throw new HandleError(
      this.#state === MOVED
        ? 'this Sender was moved into a message (send tx.clone() to keep one)'
        : 'this Sender is closed',
    )
  }

  get [Symbol.toStringTag](): string {
    return 'Sender'
  }
}
brandClass(Sender, 'Sender')

/** @internal Adopt a reference the caller already counted. */
export function senderFromPort<T>(port: Port): Sender<T> {
  return new Sender<T>(CONSTRUCT, port)
}
