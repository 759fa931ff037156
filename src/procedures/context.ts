/**
 * `currentCall()`: what a running procedure knows about the call it serves, found through
 * AsyncLocalStorage so it reaches every await and callee of the procedure without a parameter.
 */
import { AsyncLocalStorage } from 'node:async_hooks'

export interface CallContext {
  /** The procedure's name (null for a callback). */
  readonly name: string | null
  /** Aborted when the caller cancels (abort, timeout, stopped reading) or goes away. */
  readonly signal: AbortSignal
}

const storage = new AsyncLocalStorage<CallContext>()

/** The call being served, inside a procedure (and anything it awaits); undefined elsewhere. */
export function currentCall(): CallContext | undefined {
  return storage.getStore()
}

export function runInCall<R>(context: CallContext, f: () => R): R {
  return storage.run(context, f)
}
