/**
 * Functions that cross to another side, the callee's half. A function in a call's arguments is
 * exposed for that call (an endpoint serving just it, revoked when the call settles) and travels
 * with payload tag 0x05; `callback(fn)` makes a long-lived one that the application closes itself.
 * Where it arrives it is a function that calls back: remote-function.ts.
 */
import { TAG_FUNCTION } from '../codec/msgpack.js'
import { HANDLE } from '../codec/walk.js'
import { CONSTRUCT } from '../brand.js'
import { channel } from '../channel/index.js'
import type { HandleAccess } from '../link/handles.js'
import type { Lent } from './caller/call.js'
import { Endpoint } from './endpoint.js'
import { DEFAULT_PROCEDURE_LIMITS } from './limits.js'
import type { SessionOpen } from './messages.js'
import { Callee } from './callee/callee.js'

/** @inline */
type Fn = (...args: never[]) => unknown

/** Serve one function behind a fresh endpoint; `stop` closes it (calls already made still run and answer). */
function exposeFunction(fn: Fn): { endpoint: Endpoint<unknown>; stop: () => void } {
  const [tx, rx] = channel<SessionOpen>()
  const callee = new Callee(fn, rx, DEFAULT_PROCEDURE_LIMITS)
  const endpoint = new Endpoint(CONSTRUCT, tx)
  return {
    endpoint,
    stop: () => {
      endpoint.close()
      callee.stop(true)
    },
  }
}

/** A function lent for one call: it moves into the call message and is revoked when the call settles. */
export class LentFunction implements Lent {
  readonly #endpoint: Endpoint<unknown>
  /** Calls already made still run and answer; later ones fail with `DisconnectedError`. */
  readonly revoke: () => void

  constructor(fn: Fn) {
    const { endpoint, stop } = exposeFunction(fn)
    this.#endpoint = endpoint
    this.revoke = stop
  }

  /** @internal The brand by which the codec finds this handle in a message. */
  get [HANDLE](): HandleAccess {
    return { ...(this.#endpoint[HANDLE] as HandleAccess), tag: TAG_FUNCTION }
  }
}

/** A long-lived callback: pass it in any number of calls (or messages); it works until closed. */
export type Callback<F extends Fn> = F & {
  /** Stop serving: calls made from elsewhere after this fail with `DisconnectedError`. */
  close(): void
  [Symbol.dispose](): void
}

/**
 * Make `fn` a long-lived callback. Passed in a call's arguments (or sent in a message), it arrives
 * as a function that calls `fn` here, and stays callable after the call settles, until `close()`.
 * Each time it is sent, the receiver gets its own reference; the local function stays usable.
 */
export function callback<F extends Fn>(fn: F): Callback<F> {
  if (typeof fn !== 'function') throw new TypeError('callback() takes a function')
  const { endpoint, stop: close } = exposeFunction(fn)
  const cb = ((...args: Parameters<F>) => fn(...args)) as Callback<F>
  Object.defineProperties(cb, {
    close: { value: close },
    [Symbol.dispose]: { value: close },
    [HANDLE]: { get: () => cloningAccess(endpoint) },
  })
  return cb
}

/** Handle access that sends a new reference each time and leaves the local one in place. */
export function cloningAccess(endpoint: Endpoint<unknown>): HandleAccess {
  const inner = endpoint[HANDLE] as HandleAccess
  return {
    kind: 'sender',
    tag: TAG_FUNCTION,
    check: inner.check,
    detach: () => (endpoint.clone()[HANDLE] as HandleAccess).detach(),
  }
}
