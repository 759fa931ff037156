/** A streamed argument as the procedure reads it: pulled from the caller (PULL), `window` items at a time. */
import { FAIL, ITEM, PULL, STOP } from '../messages.js'
import { fromRemote } from '../remote-error.js'
import type { CalleeCall } from './call.js'

export class ArgStream implements AsyncIterableIterator<unknown> {
  readonly #queue: unknown[] = []
  /** Items asked for and not yet arrived. */
  #owed = 0
  #ended = false
  #error: { e: unknown } | null = null
  #waiter: { resolve: (r: IteratorResult<unknown>) => void; reject: (e: unknown) => void } | null = null

  constructor(
    private readonly call: CalleeCall,
    readonly index: number,
  ) {}

  [Symbol.asyncIterator](): this {
    return this
  }

  next(): Promise<IteratorResult<unknown>> {
    if (this.#queue.length > 0) {
      const value = this.#queue.shift()
      this.#refill()
      return Promise.resolve({ value, done: false })
    }
    if (this.#error) return Promise.reject(this.#error.e)
    if (this.#ended) return Promise.resolve({ value: undefined, done: true })
    if (this.#waiter) return Promise.reject(new TypeError('a streamed argument is read one item at a time'))
    this.#refill()
    return new Promise((resolve, reject) => (this.#waiter = { resolve, reject }))
  }

  return(): Promise<IteratorResult<unknown>> {
    this.stopFromHere()
    return Promise.resolve({ value: undefined, done: true })
  }

  #refill(): void {
    if (this.#ended) return
    const w = this.call.window
    const have = this.#owed + this.#queue.length
    if (have * 2 > w) return
    const n = w - have
    this.#owed += n
    this.call.send([PULL, this.call.id, this.index, n], true) // at once: the caller waits for it
  }

  /** The procedure stopped reading (or finished): tell the caller to stop producing. */
  stopFromHere(): void {
    if (this.#ended) return
    this.#ended = true
    this.#queue.length = 0
    this.call.send([STOP, this.call.id, this.index])
    this.#settle()
  }

  abort(reason: unknown): void {
    if (this.#ended) return
    this.#ended = true
    this.#error = { e: reason }
    this.#settle()
  }

  receive(op: number, value: unknown): string | null {
    if (this.#ended) return null // stopped here; what was in flight is dropped
    if (op === ITEM) {
      if (this.#owed <= 0) return `streamed argument ${this.index} sent an item that was not asked for`
      this.#owed--
      const w = this.#waiter
      if (w) {
        this.#waiter = null
        w.resolve({ value, done: false })
        this.#refill()
      } else this.#queue.push(value)
    } else {
      this.#ended = true
      if (op === FAIL) this.#error = { e: fromRemote(value, 'argument stream') }
      if (this.#queue.length === 0) this.#settle()
    }
    return null
  }

  #settle(): void {
    const w = this.#waiter
    if (!w || this.#queue.length > 0) return
    this.#waiter = null
    if (this.#error) w.reject(this.#error.e)
    else w.resolve({ value: undefined, done: true })
  }
}
