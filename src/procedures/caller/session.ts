/**
 * The caller's side of a session: one call channel out, one reply channel back, many calls in
 * flight matched by id. Replies are read only while calls are pending, so an idle session holds
 * no wait (the process may exit) and a forgotten one can be garbage collected, which closes it.
 */
import { DisconnectedError } from '../../errors.js'
import { OPEN_SESSION } from '../../brand.js'
import { carryTransfer, clearTransferMarks } from '../../codec/transfer-list.js'
import { RECV_SIZED, SEND_NOW, TAKE_SIZED, channel, Interrupt, type Receiver, type Sender, type Sized } from '../../channel/index.js'
import { ArgPump } from './arg-pump.js'
import { CallerCall, type CallHost, type CallResult, type CallSettings } from './call.js'
import { NO_STREAMS, prepareArgs, type PreparedArgs } from './args.js'
import type { Endpoint } from '../endpoint.js'
import { CALL, CLOSE, DEFAULT_WINDOW, closeAll, type CallerMessage, type CalleeMessage } from '../messages.js'
import { fromRemote } from '../remote-error.js'
import type { CallOptions } from '../types.js'

/** Thrown into a pending read to end it when the last call left. */
const IDLE = Symbol('idle')

export class CallerSession implements CallHost {
  readonly #calls: Sender<CallerMessage>
  readonly #replies: Receiver<CalleeMessage>
  readonly #pending = new Map<number, CallerCall>()
  #nextId = 0
  #reading = false
  /** Ends the reply read when the last call leaves while it waits. */
  readonly #idle = new Interrupt()
  #waiting = false
  /** Set once the session is dead: every later call fails with it. */
  #dead: unknown = undefined

  /** The settings of a call without options of its own (shared: calls only read them). */
  readonly #plain: CallSettings

  constructor(
    private readonly endpoint: Endpoint<unknown>,
    defaults: CallOptions = {},
  ) {
    this.#plain = { timeout: defaults.timeout, signal: defaults.signal, window: defaults.window ?? DEFAULT_WINDOW }
    const [callTx, callRx] = channel<CallerMessage>()
    const [replyTx, replyRx] = channel<CalleeMessage>()
    this.#calls = callTx
    this.#replies = replyRx
    try {
      endpoint[OPEN_SESSION]({ calls: callRx, reply: replyTx })
    } catch (e) {
      callRx.close()
      replyTx.close()
      this.#dead = e
    }
  }

  call(name: string | null, args: unknown[], options: CallOptions | undefined): CallResult {
    // Options were checked where they were written (remote(), .with()): nothing to check per call.
    const settings: CallSettings = options
      ? {
          timeout: options.timeout ?? this.#plain.timeout,
          signal: bothSignals(options.signal, this.#plain.signal),
          window: options.window ?? this.#plain.window,
        }
      : this.#plain
    const call = new CallerCall(this, this.#nextId++, name, settings)
    if (this.#dead !== undefined) {
      call.finish(this.#dead)
      return call.promise
    }
    if (settings.signal?.aborted) {
      call.finish(settings.signal.reason)
      return call.promise
    }
    let sent: PreparedArgs | null
    try {
      sent = prepareArgs(args, call)
      this.#calls.send(carryTransfer(args, [CALL, call.id, name, sent ? sent.args : args, settings.window, sent ? sent.streams : NO_STREAMS]))
      clearTransferMarks(args)
    } catch (e) {
      if (e instanceof DisconnectedError) this.#dead = e
      call.finish(e)
      return call.promise
    }
    if (sent && sent.streams.length > 0) {
      const { sources } = sent
      call.pumps = new Map(sent.streams.map((index, i) => [index, new ArgPump(call, index, sources[i]!)]))
    }
    this.#pending.set(call.id, call)
    call.arm()
    if (!this.#reading) void this.#read()
    return call.promise
  }

  send(msg: CallerMessage): void {
    this.#calls.send(msg)
  }

  sendNow(msg: CallerMessage): void {
    this.#calls[SEND_NOW](msg)
  }

  forget(call: CallerCall): void {
    if (this.#pending.get(call.id) !== call) return
    this.#pending.delete(call.id)
    if (this.#pending.size === 0 && this.#waiting) {
      // The last call left while a read waits (it was cancelled): end the read, so nothing waits.
      this.#idle.cancel(IDLE)
    }
  }

  /** Close the session: pending calls reject with `DisconnectedError`, the remote side aborts them. */
  close(): void {
    if (this.#dead === undefined) this.#dead = new DisconnectedError('this remote proxy was closed')
    this.#calls.close()
    this.#replies.close()
    this.endpoint.close()
    this.#failAll(this.#dead)
  }

  #failAll(error: unknown): void {
    for (const call of [...this.#pending.values()]) call.finish(error)
  }

  async #read(): Promise<void> {
    this.#reading = true
    try {
      while (this.#pending.size > 0) {
        let m: Sized<CalleeMessage> | undefined = this.#replies[TAKE_SIZED]()
        if (!m) {
          this.#waiting = true
          try {
            m = await this.#replies[RECV_SIZED](undefined, this.#idle)
          } catch (e) {
            // The last call left while we waited; a new call may have come since (the loop checks).
            if (e === IDLE) continue
            // The callee closed the session, or the link under it died.
            this.#dead = e
            this.#failAll(e)
            return
          } finally {
            this.#waiting = false
          }
        }
        this.#dispatch(m)
      }
    } finally {
      this.#reading = false
    }
  }

  #dispatch(m: Sized<CalleeMessage>): void {
    const msg = m.value
    if (!Array.isArray(msg)) return closeAll(m.handles)
    if (msg[0] === CLOSE) {
      const e = msg[1]
      this.#dead = e instanceof Error ? fromRemote(e, '(the session was closed)') : new DisconnectedError('the procedures closed the session')
      this.#calls.close()
      return this.#failAll(this.#dead)
    }
    const call = this.#pending.get(msg[1])
    // A late answer (the call gave up: timeout, abort, a stream stopped) or one for no call of ours:
    // the handles in it are closed, not left to the garbage collector.
    if (!call) return closeAll(m.handles)
    call.onReply(msg)
  }
}

/** A per-call signal and the proxy's default signal: either one aborting cancels the call. */
function bothSignals(a: AbortSignal | undefined, b: AbortSignal | undefined): AbortSignal | undefined {
  if (!a || !b || a === b) return a ?? b
  return AbortSignal.any([a, b])
}
