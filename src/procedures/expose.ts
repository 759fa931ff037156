/** `expose(impl)`: serve an object's methods (or one function) behind a sendable Endpoint. */
import { CONSTRUCT } from '../brand.js'
import { channel } from '../channel/index.js'
import { Endpoint } from './endpoint.js'
import { resolveProcedureLimits, type ProcedureLimits } from './limits.js'
import type { SessionOpen } from './messages.js'
import { Callee } from './callee/callee.js'

export interface ExposeOptions {
  /** Withdraw the procedures: running calls are aborted, callers' pending and later calls reject with `DisconnectedError`. */
  signal?: AbortSignal
  /** Limits on what callers may ask of these procedures (see ProcedureLimits for the defaults). */
  limits?: Partial<ProcedureLimits>
  /**
   * Make `currentCall()` answer anywhere in a call's async flow, not only up to the procedure's
   * first `await`. It runs calls inside an AsyncLocalStorage, which on Node 20 and 22 turns on
   * promise hooks for the whole process (every promise and callback pays; a procedure round trip
   * costs about a quarter more). Off by default.
   */
  asyncContext?: boolean
}

/**
 * Serve `impl`'s methods (own function properties and class methods; nothing inherited from
 * Object) to whoever holds the returned endpoint. The endpoint travels in messages like a Sender.
 * The procedures are served until every copy of the endpoint is closed, or `signal` aborts.
 *
 * ```js
 * const endpoint = expose({ add: (a, b) => a + b })
 * const calc = remote(endpoint) // here, or in any process the endpoint was sent to
 * console.log(await calc.add(1, 2)) // 3
 * endpoint.close()
 * calc[Symbol.dispose]()
 * ```
 */
export function expose<T extends object>(impl: T, options: ExposeOptions = {}): Endpoint<T> {
  if ((typeof impl !== 'object' && typeof impl !== 'function') || impl === null) throw new TypeError('expose() takes an object (or a function)')
  const limits = resolveProcedureLimits(options.limits)
  const [tx, rx] = channel<SessionOpen>()
  if (options.asyncContext !== undefined && typeof options.asyncContext !== 'boolean') {
    throw new TypeError(`asyncContext must be a boolean, got ${typeof options.asyncContext}`)
  }
  const callee = new Callee(impl, rx, limits, options.asyncContext === true)
  const signal = options.signal
  if (signal?.aborted) callee.stop(false)
  else if (signal) {
    const withdraw = () => callee.stop(false)
    signal.addEventListener('abort', withdraw, { once: true })
    // A long-lived signal must not keep procedures that ended by themselves (and their object) alive.
    callee.whenEnded(() => signal.removeEventListener('abort', withdraw))
  }
  return new Endpoint<T>(CONSTRUCT, tx)
}
