/**
 * One call as the callee runs it: the procedure (run as `currentCall()`), its abort signal, the
 * credit that paces its result stream, and its streamed arguments (arg-stream.ts).
 */
import { carryTransfer, clearTransferMarks } from '../../codec/transfer-list.js'
import { UnsupportedValueError } from '../../errors.js'
import { runInCall, type CallContext } from '../context.js'
import { DONE, ERROR, RESULT, YIELD, isStream, type CalleeMessage } from '../messages.js'
import { ArgStream } from './arg-stream.js'
import type { CalleeSession } from './session.js'

export type Fn = (...args: unknown[]) => unknown

/** What `await` would call `then` on (a getter named then runs here, and again in the await). */
const isThenable = (x: unknown): boolean =>
  x !== null && (typeof x === 'object' || typeof x === 'function') && typeof (x as { then?: unknown }).then === 'function'

export class CalleeCall implements CallContext {
  /** Made when the procedure first asks for its signal (most never do: an AbortController costs µs). */
  #controller: AbortController | null = null
  #abortReason: unknown = undefined
  #credit: number
  #creditWaiter: (() => void) | null = null
  /** The streamed arguments, by position. */
  #args: Map<number, ArgStream> | null = null
  #cancelled = false
  #done = false

  constructor(
    readonly session: CalleeSession,
    readonly id: number,
    readonly name: string | null,
    readonly window: number,
  ) {
    this.#credit = window
  }

  get signal(): AbortSignal {
    if (!this.#controller) {
      this.#controller = new AbortController()
      if (this.#cancelled) this.#controller.abort(this.#abortReason)
    }
    return this.#controller.signal
  }

  /**
   * Run the procedure. A procedure that returns a plain value (not a thenable, not a stream) or
   * throws is answered at once, in this turn: no promise, no await (most are like this). A promise
   * or a stream goes on in #settle.
   */
  run(fn: Fn, args: unknown[]): void {
    const callee = this.session.callee
    let result: unknown
    try {
      result = runInCall(this, () => fn.apply(callee.impl, args), callee.asyncContext)
    } catch (e) {
      return this.finish([ERROR, this.id, e])
    }
    if (!isThenable(result) && !isStream(result)) return this.finish([RESULT, this.id, result])
    void this.#settle(result)
  }

  async #settle(pending: unknown): Promise<void> {
    let out: CalleeMessage
    try {
      const result = await pending
      out = isStream(result) ? await this.#pump(result) : [RESULT, this.id, result]
    } catch (e) {
      out = [ERROR, this.id, e]
    }
    this.finish(out)
  }

  /** Send the final answer (unless the caller cancelled), stop argument streams, and leave. */
  finish(out: CalleeMessage): void {
    if (this.#done) return
    if (this.#args) for (const s of this.#args.values()) s.stopFromHere()
    this.#done = true
    if (!this.#cancelled) {
      try {
        if (out[0] === RESULT) {
          this.session.send(carryTransfer([out[2]], out))
          clearTransferMarks([out[2]])
        } else this.session.send(out)
      } catch (e) {
        // The result (or what was thrown) cannot travel: say so instead.
        try {
          this.session.send([ERROR, this.id, e])
        } catch {
          this.session.send([ERROR, this.id, new UnsupportedValueError(`the ${out[0] === ERROR ? 'error' : 'result'} could not be sent`)])
        }
      }
    }
    this.session.callDone(this)
  }

  /**
   * Drive a result stream. The credit starts at `window`, each YIELD spends one and each CREDIT n
   * adds n, so the stream sends at most `window` + (every CREDIT's n) items in all: exactly what
   * the caller counts (result-stream.ts). Nothing caps the credit (a caller may grant ahead).
   */
  async #pump(source: AsyncIterable<unknown>): Promise<CalleeMessage> {
    const it = source[Symbol.asyncIterator]()
    const asyncContext = this.session.callee.asyncContext
    // Each step of the stream runs as this call (a generator's code runs inside next()).
    const step = () => it.next()
    let finished = false
    try {
      for (;;) {
        if (this.#cancelled) return [DONE, this.id]
        if (this.#credit <= 0) {
          await new Promise<void>((resolve) => (this.#creditWaiter = resolve))
          continue
        }
        let r: IteratorResult<unknown>
        try {
          r = await runInCall(this, step, asyncContext)
        } catch (e) {
          finished = true
          throw e
        }
        if (r.done) {
          finished = true
          return [DONE, this.id]
        }
        if (this.#cancelled) return [DONE, this.id]
        this.#credit--
        if (!this.trySend(carryTransfer([r.value], [YIELD, this.id, r.value]))) return [DONE, this.id]
        clearTransferMarks([r.value])
      }
    } finally {
      if (!finished) await runInCall(this, () => it.return?.(), asyncContext)
    }
  }

  /** Send a stream item; an item that cannot travel ends the stream with that error. */
  trySend(msg: CalleeMessage): boolean {
    try {
      return this.session.send(msg)
    } catch (e) {
      this.session.send([ERROR, this.id, e])
      this.#cancelled = true // the answer is sent
      return false
    }
  }

  addCredit(n: number): void {
    // Bounded only to stay an exact integer: a caller that granted this much granted "no limit".
    this.#credit = Math.min(this.#credit + n, Number.MAX_SAFE_INTEGER)
    const w = this.#creditWaiter
    this.#creditWaiter = null
    w?.()
  }

  /** The caller cancelled (reason null), or the session ends (reason given). */
  cancel(reason: Error | null): void {
    if (this.#cancelled || this.#done) return
    this.#cancelled = true
    const why = reason ?? new DOMException('the caller cancelled the call', 'AbortError')
    this.#abortReason = why
    this.#controller?.abort(why)
    const w = this.#creditWaiter
    this.#creditWaiter = null
    w?.()
    if (this.#args) for (const s of this.#args.values()) s.abort(why)
  }

  argStream(index: number): ArgStream {
    const s = new ArgStream(this, index)
    ;(this.#args ??= new Map()).set(index, s)
    return s
  }

  /** ITEM, END or FAIL for an argument stream; returns a protocol error's text, or null. */
  argMessage(op: number, index: number, value: unknown): string | null {
    const s = this.#args?.get(index)
    if (!s) return `no streamed argument ${index} in call ${this.id}`
    return s.receive(op, value)
  }

  send(msg: CalleeMessage, now = false): void {
    if (!this.#done && !this.#cancelled) this.session.send(msg, now)
  }
}
