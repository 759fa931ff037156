/**
 * Errors thrown by a remote procedure. The codec rebuilds them with their name, message, code,
 * cause chain and own fields (built-ins and registered classes as themselves); here they are marked
 * as remote, so `err instanceof RemoteError` holds whatever their class, and their stack says where
 * they came from.
 */
import {
  AuthenticationError,
  ConnectionLostError,
  DisconnectedError,
  HandleError,
  LimitExceededError,
  ProtocolError,
  TimeoutError,
  UnsupportedValueError,
} from '../errors.js'
import { brandClass } from '../brand.js'


/**
 * ipfi's own errors, by name. The codec rebuilds an unregistered class as a plain Error with its
 * name; a procedure's refusals (LimitExceededError, ProtocolError) and the errors it passes on
 * (DisconnectedError, TimeoutError, ...) arrive as their classes again.
 */
const OWN_ERRORS: ReadonlyMap<string, { prototype: Error }> = new Map<string, { prototype: Error }>([
  ['DisconnectedError', DisconnectedError],
  ['ConnectionLostError', ConnectionLostError],
  ['ProtocolError', ProtocolError],
  ['LimitExceededError', LimitExceededError],
  ['TimeoutError', TimeoutError],
  ['HandleError', HandleError],
  ['UnsupportedValueError', UnsupportedValueError],
  ['AuthenticationError', AuthenticationError],
])

/** A plain Error named like one of ipfi's own errors becomes an instance of that class. */
function revive(e: Error): void {
  if (Object.getPrototypeOf(e) !== Error.prototype) return
  const Class = OWN_ERRORS.get(e.name)
  if (Class) Object.setPrototypeOf(e, Class.prototype)
}

/** The marker line between the local description and the stack the procedure threw with. */
export const REMOTE_STACK_MARKER = '    --- remote stack ---'

/**
 * `instanceof RemoteError` is true of every error that a remote procedure threw (and of the errors
 * in its cause chain), whatever its own class: a remote `TypeError` is a `TypeError` and a
 * `RemoteError`. Not meant to be constructed by applications.
 */
export class RemoteError extends Error {}
/** Set on the prototype and on every error `fromRemote` marks. */
const REMOTE = brandClass(RemoteError, 'RemoteError')

/** Mark what a procedure threw, as it arrived here. Non-Error values are returned unchanged. */
export function fromRemote(thrown: unknown, procedure: string): unknown {
  // The error, its cause chain and an AggregateError's errors: a tree, bounded in size.
  const todo: unknown[] = [thrown]
  for (let seen = 0; todo.length > 0 && seen < 256; seen++) {
    const e = todo.pop()
    if (!(e instanceof Error) || e instanceof RemoteError) continue
    revive(e)
    Object.defineProperty(e, REMOTE, { value: true })
    const remoteStack = typeof e.stack === 'string' ? e.stack : `${e.name}: ${e.message}`
    const stack = `${e.name}: ${e.message}\n    at remote procedure ${procedure}\n${REMOTE_STACK_MARKER}\n${remoteStack}`
    Object.defineProperty(e, 'stack', { value: stack, writable: true, configurable: true, enumerable: false })
    todo.push((e as { cause?: unknown }).cause)
    const errors = (e as { errors?: unknown }).errors
    if (Array.isArray(errors)) todo.push(...errors.slice(0, 64))
  }
  return thrown
}
