/**
 * One session as the callee sees it: it reads the call channel, checks each message (a protocol
 * error closes the session with CLOSE), refuses what breaks a limit, and starts a CalleeCall
 * (call.ts) for each CALL, all running at once; replies go out on the session's reply channel.
 */
import { DisconnectedError, LimitExceededError, ProtocolError } from '../../errors.js'
import { RECV_SIZED, SEND_NOW, TAKE_SIZED, Interrupt, type Receiver, type Sender, type Sized } from '../../channel/index.js'
import { lookup } from '../lookup.js'
import {
  CALL, CANCEL, CLOSE, CREDIT, END, ERROR, FAIL, ITEM, MAX_WINDOW,
  closeAll, isIndex, type CallerMessage, type CalleeMessage,
} from '../messages.js'
import type { Callee, InFlight } from './callee.js'
import { CalleeCall, type Fn } from './call.js'

const OPEN = 0
const DRAINING = 1
const ENDED = 2

/** Ends a session's waiting receive at a graceful stop: whatever comes after that is refused. */
const DRAIN = Symbol('drain')

export class CalleeSession {
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
  /** The calls running for this session's link, counted against maxCallsInFlight. */
  readonly #inFlight: InFlight

  constructor(
    readonly callee: Callee,
    readonly calls: Receiver<CallerMessage>,
    readonly reply: Sender<CalleeMessage>,
    linkKey: object,
  ) {
    this.#inFlight = callee.inFlightOf(linkKey)
  }

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
  send(msg: CalleeMessage, now = false): boolean {
    if (this.#replyClosed) return false
    try {
      if (now) this.reply[SEND_NOW](msg)
      else this.reply.send(msg)
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
    this.#inFlight.calls--
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
    // Each position once (a Set, not indexOf: a long list from a hostile caller must cost linear time).
    const seen = streams.length > 1 ? new Set<number>() : null
    for (let i = 0; i < streams.length; i++) {
      const a = streams[i]
      if (!isIndex(a) || a >= args.length || args[a] !== null || seen?.has(a)) {
        return this.#protocolError('malformed call: bad stream argument list', m.handles)
      }
      seen?.add(a)
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
    if (refusal === null && !this.callee.admit(this.#inFlight)) {
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
    call.run(fn, args)
  }
}
