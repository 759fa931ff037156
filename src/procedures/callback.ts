/**
 * Functions that cross to another side. A function in a call's arguments is exposed for that call
 * (an endpoint serving just it, revoked when the call settles) and travels with payload tag 0x05;
 * it arrives as a function that calls back. `callback(fn)` makes a long-lived one that the
 * application closes itself.
 */
import { TAG_FUNCTION } from '../codec/msgpack.js'
import { HANDLE, type Branded } from '../codec/walk.js'
import { ProtocolError } from '../errors.js'
import { INTERNAL } from '../channel/brand.js'
import { channel, senderFromPort } from '../channel/index.js'
import { registerHandleFactory, type HandleAccess } from '../link/handles.js'
import type { Lent } from './call.js'
import { Endpoint } from './endpoint.js'
import { DEFAULT_PROCEDURE_LIMITS } from './limits.js'
import type { SessionOpen } from './messages.js'
import { ProcedureServer } from './serve.js'
import { CallerSession } from './session.js'

type Fn = (...args: never[]) => unknown
const noop = () => {}

/** Serve one function behind a fresh endpoint; `stop` closes it (calls already made still run and answer). */
function serveFunction(fn: Fn): { endpoint: Endpoint<unknown>; stop: () => void } {
  const [tx, rx] = channel<SessionOpen>()
  const server = new ProcedureServer(fn, rx, DEFAULT_PROCEDURE_LIMITS)
  const endpoint = new Endpoint(INTERNAL, tx)
  return {
    endpoint,
    stop: () => {
      endpoint.close()
      server.stop(true)
    },
  }
}

/** A function lent for one call: it moves into the call message and is revoked when the call settles. */
export class LentFunction implements Lent {
  readonly #endpoint: Endpoint<unknown>
  /** Calls already made still run and answer; later ones fail with `DisconnectedError`. */
  readonly revoke: () => void

  constructor(fn: Fn) {
    const { endpoint, stop } = serveFunction(fn)
    this.#endpoint = endpoint
    this.revoke = stop
  }

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
  const { endpoint, stop: close } = serveFunction(fn)
  const cb = ((...args: Parameters<F>) => fn(...args)) as Callback<F>
  Object.defineProperties(cb, {
    close: { value: close },
    [Symbol.dispose]: { value: close },
    [HANDLE]: { get: () => cloningAccess(endpoint) },
  })
  return cb
}

/** Handle access that sends a new reference each time and leaves the local one in place. */
function cloningAccess(endpoint: Endpoint<unknown>): HandleAccess {
  const inner = endpoint[HANDLE] as HandleAccess
  return {
    kind: 'sender',
    tag: TAG_FUNCTION,
    check: inner.check,
    detach: () => (endpoint.clone()[HANDLE] as HandleAccess).detach(),
  }
}

/** A function that arrived from elsewhere: calling it runs the original there. */
export type RemoteFunction = ((...args: unknown[]) => Promise<unknown>) & {
  /** Let go of it now (it is also let go when garbage collected). */
  close(): void
  [Symbol.dispose](): void
}

export function remoteFunction(endpoint: Endpoint<unknown>): RemoteFunction {
  let session: CallerSession | null = null
  const f = ((...args: unknown[]) => {
    let p: Promise<unknown>
    try {
      p = (session ??= new CallerSession(endpoint.clone())).call(null, args, undefined)
    } catch (e) {
      p = Promise.reject(e) // closed here: a rejection like any other failure, never a throw
    }
    // Callbacks are often called without awaiting (`onProgress(50)`): a failure of such a call
    // (the caller's side has moved on) must not crash this process. Awaiting it still sees it.
    p.catch(noop)
    return p
  }) as unknown as RemoteFunction
  const close = () => {
    session?.close()
    endpoint.close()
  }
  Object.defineProperties(f, {
    close: { value: close },
    [Symbol.dispose]: { value: close },
    // Sending it on sends another reference: the function stays callable here.
    [HANDLE]: { get: () => cloningAccess(endpoint) },
  })
  return f
}

registerHandleFactory(TAG_FUNCTION, (cap) => {
  if (cap.kind !== 'sender') throw new ProtocolError('a function handle must be a sender capability')
  return remoteFunction(new Endpoint(INTERNAL, senderFromPort<SessionOpen>(cap.port))) as RemoteFunction & Branded
})
