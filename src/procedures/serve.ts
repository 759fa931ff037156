/**
 * The callee, the side that exposed the procedures: a Callee takes sessions from its endpoint's channel and runs each
 * session's calls concurrently, answering on the session's reply channel.
 */
import { HANDLE } from '../codec/walk.js'
import { DisconnectedError, LimitExceededError, ProtocolError, UnsupportedValueError } from '../errors.js'
import { RECV_SIZED, Receiver, Sender, TAKE_SIZED, Interrupt, type Sized } from '../channel/index.js'
import type { HandleAccess } from '../link/handles.js'
import { runInCall, type CallContext } from './context.js'
import type { ProcedureLimits } from './limits.js'
import { lookup } from './lookup.js'
import {
  CALL, CANCEL, CLOSE, CREDIT, DONE, END, ERROR, FAIL, ITEM, MAX_WINDOW, PULL, RESULT, STOP, YIELD,
  isIndex, isStream, type CallerMessage, type CalleeMessage, type SessionOpen,
} from './messages.js'
import { fromRemote } from './remote-error.js'

type Fn = (...args: unknown[]) => unknown

const LOCAL = {}

function closeAll(handles: readonly unknown[] | null): void {
  if (handles) for (const h of handles) (h as { close?: () => void }).close?.()
}

export class Callee {
  readonly #sessions = new Set<CalleeSession>()
  readonly #inFlight = new Map<object, number>()
  #stopped = false
  #graceful = false
  /** The loop taking session openings still runs. */
  #taking = true
  #onEnded: (() => void) | null = null

  constructor(
    readonly impl: object,
    private readonly opens: Receiver<SessionOpen>,
    readonly limits: ProcedureLimits,
    /** Run calls inside an AsyncLocalStorage, so currentCall() answers across awaits. */
    readonly asyncContext = false,
  ) {
    void this.#run()
  }

  async #run(): Promise<void> {
    try {
      for (;;) {
        let open: Sized<SessionOpen>
        try {
          open = await this.opens[RECV_SIZED]()
        } catch {
          return // every endpoint is closed, or we stopped
        }
        // This opening arrived before any stop (a stopped receiver takes nothing), so a graceful
        // stop still serves it; #accept drops it after a hard stop.
        this.#accept(open)
        let more: Sized<SessionOpen> | undefined
        while (!this.#stopped && (more = this.opens[TAKE_SIZED]())) this.#accept(more)
        if (this.#stopped) return
      }
    } finally {
      this.#taking = false
      this.#checkEnded()
    }
  }

  /** Call `f` once nothing is served any more: no endpoint left (or stopped), and every session over. */
  whenEnded(f: () => void): void {
    this.#onEnded = f
    this.#checkEnded()
  }

  #checkEnded(): void {
    const f = this.#onEnded
    if (!f || this.#taking || this.#sessions.size > 0) return
    this.#onEnded = null
    f()
  }

  #accept({ value, handles }: Sized<SessionOpen>): void {
    const calls = (value as Partial<SessionOpen> | null)?.calls
    const reply = (value as Partial<SessionOpen> | null)?.reply
    if ((this.#stopped && !this.#graceful) || !(calls instanceof Receiver) || !(reply instanceof Sender) || handles?.length !== 2) {
      closeAll(handles) // not a session opening (nothing to answer it on), or withdrawn
      return
    }
    const s = new CalleeSession(this, calls, reply, linkOf(reply))
    this.#sessions.add(s)
    void s.run()
    // Arrived before a graceful stop: what it already carries is served, nothing later.
    if (this.#stopped) s.stop(true)
  }

  /** @internal */
  sessionEnded(s: CalleeSession): void {
    this.#sessions.delete(s)
    this.#checkEnded()
  }

  /** @internal Count a call in or out; false if the caller's link is at its limit. */
  admit(key: object): boolean {
    const n = this.#inFlight.get(key) ?? 0
    if (n >= this.limits.maxCallsInFlight) return false
    this.#inFlight.set(key, n + 1)
    return true
  }
  /** @internal */
  release(key: object): void {
    const n = (this.#inFlight.get(key) ?? 1) - 1
    if (n <= 0) this.#inFlight.delete(key)
    else this.#inFlight.set(key, n)
  }

  /**
   * Stop serving, at once. `graceful`: what had already arrived (session openings, and calls on
   * open sessions) still runs to its end and is answered, streams included; calls arriving later
   * are refused with `DisconnectedError`; each session ends when its last call is done. Otherwise
   * running calls are aborted and every caller's pending calls reject with `DisconnectedError`.
   *
   * A message that arrived before the stop may sit in a receive that resolved but whose
   * continuation has not run yet: the receive loops still serve it after a graceful stop.
   */
  stop(graceful: boolean): void {
    if (this.#stopped) return
    this.#stopped = true
    this.#graceful = graceful
    if (graceful) {
      let more: Sized<SessionOpen> | undefined
      while ((more = this.opens[TAKE_SIZED]())) this.#accept(more)
    }
    this.opens.close()
    for (const s of [...this.#sessions]) s.stop(graceful)
  }
}

/** The link a reply sender goes over (LOCAL for a caller in this process): limits count per link. */
function linkOf(reply: Sender<unknown>): object {
  try {
    const port = ((reply as unknown as { [HANDLE]: HandleAccess })[HANDLE]).check().resolve()
    return (port.route?.link as object | undefined) ?? LOCAL
  } catch {
    return LOCAL
  }
}

const OPEN = 0
const DRAINING = 1
const ENDED = 2

/** Ends a session's waiting receive at a graceful stop: whatever comes after that is refused. */
const DRAIN = Symbol('drain')

class CalleeSession {
  readonly active = new Map<number, CalleeCall>()
  /**
   * OPEN; then DRAINING after a graceful stop (the calls that had arrived run to their end, credits
   * and streamed arguments for them still flow, new calls are refused with DisconnectedError) or
   * ENDED (everything aborted, both channels closed).
   */
  #state = OPEN
  #replyClosed = false
  /**
   * A receive that began while OPEN is in progress. A graceful stop aborts it (through #drain); if
   * it had already taken a message (its continuation not run yet), that message arrived before the
   * stop and is served, so the session must not close before it is seen.
   */
  #early = false
  readonly #drain = new Interrupt()

  constructor(
    readonly callee: Callee,
    readonly calls: Receiver<CallerMessage>,
    readonly reply: Sender<CalleeMessage>,
    readonly linkKey: object,
  ) {}

  async run(): Promise<void> {
    for (;;) {
      const early = this.#state === OPEN
      this.#early = early
      let m: Sized<CallerMessage>
      try {
        m = await this.calls[RECV_SIZED](undefined, early ? this.#drain : undefined)
      } catch (e) {
        this.#early = false
        if (e === DRAIN) {
          // Stopped while nothing was on its way: read on (for the running calls), refusing new ones.
          this.#maybeClose()
          continue
        }
        // The caller closed its session or its link died: abort what it was waiting for.
        if (!this.#replyClosed) this.#end(e instanceof DisconnectedError ? e : new DisconnectedError('the caller went away'), false)
        return
      }
      this.#early = false
      if (this.#state === ENDED || this.#replyClosed) return closeAll(m.handles)
      this.#handle(m, !early)
      let more: Sized<CallerMessage> | undefined
      while (this.#state !== ENDED && !this.#replyClosed && (more = this.calls[TAKE_SIZED]())) this.#handle(more, this.#state === DRAINING)
      if (this.#state === ENDED) return
      this.#maybeClose()
    }
  }

  stop(graceful: boolean): void {
    if (this.#state !== OPEN) return
    if (!graceful) return this.#end(new DisconnectedError('the procedures were withdrawn'), false)
    // What is queued arrived before the stop: it is served.
    let more: Sized<CallerMessage> | undefined
    while (this.#state === OPEN && (more = this.calls[TAKE_SIZED]())) this.#handle(more, false)
    if (this.#state !== OPEN) return
    this.#state = DRAINING
    this.#drain.cancel(DRAIN)
    this.#maybeClose()
  }

  /** Send a reply; false if it could not be sent (the caller is gone, or the value cannot travel). */
  send(msg: CalleeMessage): boolean {
    if (this.#replyClosed) return false
    try {
      this.reply.send(msg)
      return true
    } catch (e) {
      if (e instanceof DisconnectedError) {
        this.#end(e, false)
        return false
      }
      throw e
    }
  }

  callDone(call: CalleeCall): void {
    if (this.active.get(call.id) === call) this.active.delete(call.id)
    this.callee.release(this.linkKey)
    this.#maybeClose()
  }

  /** A draining session ends once its last call is done (and no early message is on its way). */
  #maybeClose(): void {
    if (this.#state !== DRAINING || this.active.size > 0 || this.#early) return
    this.#close()
  }

  #close(): void {
    if (this.#replyClosed) return
    this.#replyClosed = true
    this.calls.close()
    this.reply.close()
    this.callee.sessionEnded(this)
  }

  /** End the session: abort its calls, close both channels (a protocol error is told first). */
  #end(reason: Error, tell: boolean): void {
    if (this.#state === ENDED) return
    this.#state = ENDED
    if (tell) this.send([CLOSE, reason])
    for (const c of [...this.active.values()]) c.cancel(reason)
    // Calls still unwinding cannot answer a closed session: close now, they find it closed.
    this.#close()
  }

  #protocolError(message: string, handles: readonly unknown[] | null): void {
    closeAll(handles)
    this.#end(new ProtocolError(message), true)
  }

  /** One message from the caller; `late`: it came after a graceful stop (a CALL is refused). */
  #handle(m: Sized<CallerMessage>, late: boolean): void {
    const msg = m.value as unknown[]
    if (!Array.isArray(msg) || !isIndex(msg[1])) return this.#protocolError('malformed call message', m.handles)
    const id = msg[1]
    switch (msg[0]) {
      case CALL:
        return this.#call(msg, id, m, late)
      case CANCEL: {
        // The caller has settled this call: its id is free again at once (nothing more is sent
        // for it), even if the procedure takes a while to notice its signal.
        const call = this.active.get(id)
        if (call) {
          this.active.delete(id)
          call.cancel(null)
          this.#maybeClose()
        }
        return closeAll(m.handles)
      }
      case CREDIT:
        if (!isIndex(msg[2])) return this.#protocolError('malformed credit', m.handles)
        this.active.get(id)?.addCredit(msg[2])
        return closeAll(m.handles)
      case ITEM:
      case END:
      case FAIL: {
        if (!isIndex(msg[2])) return this.#protocolError('malformed stream message', m.handles)
        const call = this.active.get(id)
        if (!call) return closeAll(m.handles) // the call ended: items still in flight are dropped
        const err = call.argMessage(msg[0], msg[2], msg[3])
        if (err) this.#protocolError(err, m.handles)
        return
      }
      default:
        return this.#protocolError('unknown call message', m.handles)
    }
  }

  #call(msg: unknown[], id: number, m: Sized<CallerMessage>, late: boolean): void {
    const [, , name, args, window, streams] = msg
    if (
      msg.length !== 6 || (name !== null && typeof name !== 'string') || !Array.isArray(args) ||
      !isIndex(window) || window < 1 || window > MAX_WINDOW || !Array.isArray(streams)
    ) return this.#protocolError('malformed call', m.handles)
    for (let i = 0; i < streams.length; i++) {
      const a = streams[i]
      if (!isIndex(a) || a >= args.length || args[a] !== null || streams.indexOf(a) !== i) {
        return this.#protocolError('malformed call: bad stream argument list', m.handles)
      }
    }
    if (this.active.has(id)) return this.#protocolError(`call id ${id} is already in use`, m.handles)
    if (this.#state === ENDED) return closeAll(m.handles)
    if (late) {
      closeAll(m.handles)
      this.send([ERROR, id, new DisconnectedError('these procedures are no longer served')])
      return
    }
    const limits = this.callee.limits
    let refusal: string | null = null
    if (m.bytes > limits.maxArgBytes) refusal = `the call's arguments take ${m.bytes} bytes, more than maxArgBytes (${limits.maxArgBytes})`
    else {
      let callbacks = 0
      if (m.handles) for (const h of m.handles) if (typeof h === 'function') callbacks++
      if (callbacks > limits.maxCallbacksPerCall) refusal = `the call passes ${callbacks} callbacks, more than maxCallbacksPerCall (${limits.maxCallbacksPerCall})`
    }
    if (refusal === null && !this.callee.admit(this.linkKey)) {
      refusal = `more than maxCallsInFlight (${limits.maxCallsInFlight}) calls are running for this link`
    }
    if (refusal !== null) {
      closeAll(m.handles)
      this.send([ERROR, id, new LimitExceededError(refusal)])
      return
    }
    const call = new CalleeCall(this, id, name as string | null, window)
    this.active.set(id, call)
    let fn: Fn
    try {
      const impl = this.callee.impl
      fn = name === null && typeof impl === 'function' ? (impl as Fn) : lookup(impl, name)
    } catch (e) {
      closeAll(m.handles)
      call.finish([ERROR, id, e])
      return
    }
    for (const a of streams as number[]) args[a] = call.argStream(a)
    void call.run(fn, args)
  }
}

class CalleeCall implements CallContext {
  /** Made when the procedure first asks for its signal (most never do: an AbortController costs µs). */
  #controller: AbortController | null = null
  #abortReason: unknown = undefined
  #credit: number
  #creditWaiter: (() => void) | null = null
  #args: ArgStream[] | null = null
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

  async run(fn: Fn, args: unknown[]): Promise<void> {
    let out: CalleeMessage
    try {
      const callee = this.session.callee
      const result = await runInCall(this, () => fn.apply(callee.impl, args), callee.asyncContext)
      out = isStream(result) ? await this.#pump(result) : [RESULT, this.id, result]
    } catch (e) {
      out = [ERROR, this.id, e]
    }
    this.finish(out)
  }

  /** Send the final answer (unless the caller cancelled), stop argument streams, and leave. */
  finish(out: CalleeMessage): void {
    if (this.#done) return
    if (this.#args) for (const s of this.#args) s.stopFromHere()
    this.#done = true
    if (!this.#cancelled) {
      try {
        this.session.send(out)
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

  /** Drive a result stream: at most `window` items ahead of what the caller consumed. */
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
        if (!this.trySend([YIELD, this.id, r.value])) return [DONE, this.id]
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
    this.#credit = Math.min(this.#credit + n, MAX_WINDOW)
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
    if (this.#args) for (const s of this.#args) s.abort(why)
  }

  argStream(index: number): ArgStream {
    const s = new ArgStream(this, index)
    ;(this.#args ??= []).push(s)
    return s
  }

  /** ITEM, END or FAIL for an argument stream; returns a protocol error's text, or null. */
  argMessage(op: number, index: number, value: unknown): string | null {
    const s = this.#args?.find((a) => a.index === index)
    if (!s) return `no streamed argument ${index} in call ${this.id}`
    return s.receive(op, value)
  }

  send(msg: CalleeMessage): void {
    if (!this.#done && !this.#cancelled) this.session.send(msg)
  }
}

/** A streamed argument as the procedure sees it: pulled from the caller, `window` items at a time. */
class ArgStream implements AsyncIterableIterator<unknown> {
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
    this.call.send([PULL, this.call.id, this.index, n])
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
