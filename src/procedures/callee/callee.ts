/**
 * The callee, the side that exposed the procedures: a Callee takes session openings from its
 * endpoint's channel, starts a CalleeSession for each (session.ts), counts the calls in flight per
 * link against its limits, and stops (gracefully or not) when it is withdrawn.
 */
import { HANDLE } from '../../codec/walk.js'
import { RECV_SIZED, Receiver, Sender, TAKE_SIZED, type Sized } from '../../channel/index.js'
import type { HandleAccess } from '../../link/handles.js'
import type { ProcedureLimits } from '../limits.js'
import type { SessionOpen } from '../messages.js'
import { closeAll } from '../messages.js'
import { CalleeSession } from './session.js'

const LOCAL = {}

/** The calls running for one link. */
export interface InFlight {
  calls: number
}

export class Callee {
  readonly #sessions = new Set<CalleeSession>()
  /** Calls in flight per link (the sessions of a link share its count; a WeakMap, so a link gone is forgotten). */
  readonly #inFlight = new WeakMap<object, InFlight>()
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

  /** @internal The count of calls in flight that the sessions over the link `key` share. */
  inFlightOf(key: object): InFlight {
    let c = this.#inFlight.get(key)
    if (!c) this.#inFlight.set(key, (c = { calls: 0 }))
    return c
  }

  /** @internal Count a call in; false if the caller's link is at its limit. */
  admit(c: InFlight): boolean {
    if (c.calls >= this.limits.maxCallsInFlight) return false
    c.calls++
    return true
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
