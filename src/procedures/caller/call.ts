/**
 * One call as the caller sees it: the promise it returns (which is also async-iterable), and what
 * it holds while it is in flight: its result stream (result-stream.ts), the pumps of its streamed
 * arguments (arg-pump.ts) and the functions it lent out.
 */
import { ProtocolError, TimeoutError } from '../../errors.js'
import { CANCEL, DONE, ERROR, PULL, RESULT, STOP, YIELD, type CallerMessage, type CalleeMessage } from '../messages.js'
import { fromRemote } from '../remote-error.js'
import type { ArgPump } from './arg-pump.js'
import { ResultStream } from './result-stream.js'
import { callSettled, callStarted, type CallTraceContext } from '../trace.js'

/** What a call needs from its session. */
export interface CallHost {
  send(msg: CallerMessage): void
  /** Send, and write the batch at once: what the callee waits for (CREDIT). */
  sendNow(msg: CallerMessage): void
  forget(call: CallerCall): void
}

/** Something lent out for the duration of a call (the callee that serves a lent function). */
export interface Lent {
  revoke(): void
}

export interface CallSettings {
  timeout?: number
  signal?: AbortSignal
  window: number
}

/** The value a remote call returns: a Promise of the result that is also the iterator of its stream. */
export type CallResult = Promise<unknown> & AsyncIterableIterator<unknown>

const noop = () => {}

/** Where a call's promise keeps its call (for the iterator methods below). */
const CALL_OF = Symbol('ipfi.call')

/*
 * The promise a call returns is a native Promise that is also the iterator of its stream: it gets
 * these three shared functions as own properties. (A Promise subclass would make every `await` of
 * it take the slow path, two extra ticks and a `then` call; shared functions cost nothing per call.)
 */
function callAsyncIterator(this: { [CALL_OF]: CallerCall }): AsyncIterator<unknown> {
  return this[CALL_OF].iterator()
}
function callNext(this: { [CALL_OF]: CallerCall }): Promise<IteratorResult<unknown>> {
  return this[CALL_OF].iterator().next()
}
function callReturn(this: { [CALL_OF]: CallerCall }, v?: unknown): Promise<IteratorResult<unknown>> {
  return this[CALL_OF].iterator().return!(v)
}

export class CallerCall {
  readonly promise: CallResult
  #resolve!: (v: unknown) => void
  #reject!: (e: unknown) => void
  #settled = false
  #finished = false
  #stream: ResultStream | null = null
  #timer: NodeJS.Timeout | undefined
  #onAbort: (() => void) | null = null
  lent: Lent[] | null = null
  pumps: Map<number, ArgPump> | null = null
  /** Set when tools listen (trace.ts): the call's context, and how it ended so far. */
  readonly #trace: CallTraceContext | null
  #outcome: { ok: boolean; value: unknown } | null = null

  constructor(
    readonly host: CallHost,
    readonly id: number,
    readonly name: string | null,
    readonly settings: CallSettings,
  ) {
    const p = new Promise<unknown>((resolve, reject) => {
      this.#resolve = resolve
      this.#reject = reject
    }) as CallResult & { [CALL_OF]: CallerCall }
    p[CALL_OF] = this
    p[Symbol.asyncIterator] = callAsyncIterator as () => AsyncIterableIterator<unknown>
    p.next = callNext
    p.return = callReturn
    this.promise = p
    this.#trace = callStarted(name, id)
  }

  #iterator: AsyncIterator<unknown> | null = null
  /** @internal The call's iterator (one per call: `call.next()` and `for await` share it). */
  iterator(): AsyncIterator<unknown> {
    return (this.#iterator ??= this.#iterate())
  }

  get label(): string {
    return this.name === null ? 'callback' : JSON.stringify(this.name)
  }

  /** Start the timeout and abort listener (after the call is sent). */
  arm(): void {
    const { timeout, signal } = this.settings
    if (timeout !== undefined) {
      this.#timer = setTimeout(() => this.cancel(new TimeoutError(`call to ${this.label} timed out after ${timeout} ms`)), timeout)
    }
    if (signal) {
      this.#onAbort = () => this.cancel(signal.reason)
      signal.addEventListener('abort', this.#onAbort, { once: true })
    }
  }

  onReply(msg: CalleeMessage): void {
    switch (msg[0]) {
      case RESULT:
        // A result after stream items breaks the protocol: end the stream with that, not silence.
        if (this.#stream) this.#streamFailed(new ProtocolError(`the procedure ${this.label} answered with a result in the middle of its stream`))
        else this.#settle(true, msg[2])
        return this.finish()
      case ERROR: {
        const e = fromRemote(msg[2], this.label)
        if (this.#stream) this.#streamFailed(e)
        else this.#settle(false, e)
        return this.finish()
      }
      case YIELD:
        return this.#ensureStream().push(msg[2])
      case DONE:
        this.#ensureStream().end()
        return this.finish()
      case PULL:
        return this.pumps?.get(msg[2])?.pull(msg[3])
      case STOP:
        return this.pumps?.get(msg[2])?.stop()
    }
  }

  #ensureStream(): ResultStream {
    if (!this.#stream) {
      this.#stream = new ResultStream(this)
      this.#settle(true, this.#stream)
    }
    return this.#stream
  }

  #streamFailed(e: unknown): void {
    this.#stream!.fail(e)
    if (this.#trace) this.#outcome = { ok: false, value: e }
  }

  #settle(ok: boolean, v: unknown): void {
    if (this.#settled) return
    this.#settled = true
    if (this.#trace) this.#outcome = { ok, value: v }
    if (ok) this.#resolve(v)
    else this.#reject(v)
  }

  /** The caller gives up: abort, timeout, or it stopped reading the stream. The remote side is told. */
  cancel(reason: unknown, quiet = false): void {
    if (this.#finished) return
    try {
      this.host.send([CANCEL, this.id])
    } catch {
      // the session is gone: nothing to tell
    }
    if (!quiet) {
      this.#stream?.abort(reason)
      this.#settle(false, reason)
    } else if (!this.#settled) {
      // Stopped before anything came: the call is an empty, finished stream (nothing waits forever).
      this.#ensureStream().end()
    }
    this.finish()
  }

  /**
   * The callee broke the stream rules (past its credit, or a PULL past the window): the callee is
   * told to stop (CANCEL) and the call fails with `e`, after the stream items that came within the rules.
   */
  violated(e: ProtocolError): void {
    if (this.#finished) return
    try {
      this.host.send([CANCEL, this.id])
    } catch {
      // the session is gone: nothing to tell
    }
    this.finish(e)
  }

  /** Nothing more will come for this call (answered, cancelled, or its session died with `error`). */
  finish(error?: unknown): void {
    if (this.#finished) return
    this.#finished = true
    if (error !== undefined) {
      if (this.#stream) this.#streamFailed(error)
      this.#settle(false, error)
    }
    if (this.#trace) callSettled(this.#trace, this.#outcome?.ok ?? true, this.#outcome?.value)
    if (this.#timer) clearTimeout(this.#timer)
    if (this.#onAbort) this.settings.signal!.removeEventListener('abort', this.#onAbort)
    if (this.lent) for (const l of this.lent) l.revoke()
    if (this.pumps) for (const p of this.pumps.values()) p.stop()
    this.host.forget(this)
  }

  /** `for await (const x of call)`: the result stream, or the result if it is itself async-iterable. */
  #iterate(): AsyncIterator<unknown> {
    this.promise.catch(noop) // the iterator reports the error
    let inner: AsyncIterator<unknown> | null = null
    const open = async (): Promise<AsyncIterator<unknown>> => {
      if (inner) return inner
      const v = await this.promise
      if (typeof v !== 'object' || v === null || typeof (v as AsyncIterable<unknown>)[Symbol.asyncIterator] !== 'function') {
        throw new TypeError(`the procedure ${this.label} returned a value, not a stream: await it instead`)
      }
      return (inner = (v as AsyncIterable<unknown>)[Symbol.asyncIterator]())
    }
    return {
      // Once the stream is known, its own next() (no async step around each item).
      next: () => (inner instanceof ResultStream ? inner.next() : open().then((it) => it.next())),
      return: async (value?: unknown) => {
        if (!inner) {
          // Not read yet: stop the stream if there is one (or will be), so its producer ends.
          if (this.#stream) return this.#stream.return(value)
          if (!this.#settled) this.cancel(null, true)
          return { value, done: true }
        }
        return inner.return ? inner.return(value) : { value, done: true }
      },
    }
  }
}
