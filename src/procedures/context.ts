/**
 * `currentCall()`: what a running procedure knows about the call it serves.
 *
 * By default it answers while the procedure runs synchronously: from its start up to its first
 * `await` (for a stream, in each step of the generator that the callee's `next()` runs, up to its
 * first `await`). That is where a procedure takes its signal, and it costs nothing.
 *
 * Procedures exposed with `asyncContext: true` are run inside an AsyncLocalStorage, so
 * `currentCall()` answers anywhere in the call's async flow. On Node 20 and 22 that turns on
 * promise hooks for the whole process, a cost every promise and callback then pays (a procedure
 * round trip about a quarter slower): hence opt-in.
 */
import { AsyncLocalStorage } from 'node:async_hooks'

export interface CallContext {
  /** The procedure's name (null for a callback). */
  readonly name: string | null
  /** Aborted when the caller cancels (abort, timeout, stopped reading) or goes away. */
  readonly signal: AbortSignal
}

/** The call whose procedure is running synchronously right now. */
let running: CallContext | undefined
/** Made on the first `asyncContext` call: until then no hook is on. */
let storage: AsyncLocalStorage<CallContext> | null = null

/**
 * The call being served, inside a procedure: up to its first `await`, or anywhere in its async
 * flow if it was exposed with `asyncContext: true`. Undefined elsewhere.
 */
export function currentCall(): CallContext | undefined {
  return running ?? storage?.getStore()
}

/** Run `f` (a procedure, or a step of its stream) as `context`'s call. */
export function runInCall<R>(context: CallContext, f: () => R, asyncContext: boolean): R {
  const outer = running
  running = context
  try {
    if (asyncContext) return (storage ??= new AsyncLocalStorage<CallContext>()).run(context, f)
    // Once the storage is on, a call without it must not inherit another call's store through
    // the promise chain it was started from (an asyncContext procedure calling this one).
    return storage ? storage.run(undefined as unknown as CallContext, f) : f()
  } finally {
    running = outer
  }
}
