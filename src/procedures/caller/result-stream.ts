/** A result stream as the caller reads it: items queued as they come, credit granted as they are consumed. */
import { ProtocolError } from '../../errors.js'
import { CREDIT } from '../messages.js'
import type { CallerCall } from './call.js'

export class ResultStream implements AsyncIterableIterator<unknown> {
  readonly #queue: unknown[] = []
  #ended = false
  #error: { e: unknown } | null = null
  #consumed = 0
  /** Items the producer may have sent: the window plus every credit granted, and how many came. */
  #allowed: number
  #received = 0
  #waiter: { resolve: (r: IteratorResult<unknown>) => void; reject: (e: unknown) => void } | null = null

  constructor(private readonly call: CallerCall) {
    this.#allowed = call.settings.window
  }

  [Symbol.asyncIterator](): this {
    return this
  }

  push(v: unknown): void {
    if (this.#ended) return
    if (++this.#received > this.#allowed) {
      // A producer past its credit would grow this queue without bound: that breaks the protocol.
      // The items that came within the credit are still read, then the stream fails.
      return this.call.violated(new ProtocolError(`the procedure ${this.call.label} sent more stream items than the credit it was given`))
    }
    const w = this.#waiter
    if (w) {
      this.#waiter = null
      this.#took()
      w.resolve({ value: v, done: false })
    } else this.#queue.push(v)
  }

  end(): void {
    if (this.#ended) return
    this.#ended = true
    this.#wake()
  }

  fail(e: unknown): void {
    if (this.#ended) return
    this.#ended = true
    this.#error = { e }
    this.#wake()
  }

  /** The caller gave up (abort, timeout): items not yet read are dropped, the next read rejects. */
  abort(e: unknown): void {
    if (this.#ended) return
    this.#queue.length = 0
    this.fail(e)
  }

  #wake(): void {
    const w = this.#waiter
    if (!w) return
    this.#waiter = null
    if (this.#error) w.reject(this.#error.e)
    else w.resolve({ value: undefined, done: true })
  }

  /**
   * One item consumed. Once half a window is, the credit goes out at once (not at the end of this
   * turn: a consumer that reads what is queued in one turn would otherwise hold it until the
   * queue is empty, and the producer would wait a whole round trip with nothing to do).
   */
  #took(): void {
    if (++this.#consumed * 2 >= this.call.settings.window && !this.#ended) {
      const n = this.#consumed
      this.#consumed = 0
      this.#allowed += n
      try {
        this.call.host.sendNow([CREDIT, this.call.id, n])
      } catch {
        // the session is gone; the call learns it from its reply channel
      }
    }
  }

  next(): Promise<IteratorResult<unknown>> {
    if (this.#queue.length > 0) {
      const value = this.#queue.shift()
      this.#took()
      return Promise.resolve({ value, done: false })
    }
    if (this.#error) return Promise.reject(this.#error.e)
    if (this.#ended) return Promise.resolve({ value: undefined, done: true })
    if (this.#waiter) return Promise.reject(new TypeError('a result stream is read one item at a time'))
    return new Promise((resolve, reject) => (this.#waiter = { resolve, reject }))
  }

  /** Stop reading: the producer is told to stop (its `finally` runs). */
  return(value?: unknown): Promise<IteratorResult<unknown>> {
    if (!this.#ended) {
      this.#ended = true
      this.#queue.length = 0
      this.call.cancel(null, true)
      this.#wake()
    }
    return Promise.resolve({ value, done: true })
  }
}
