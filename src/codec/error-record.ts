/**
 * Errors on the wire: an Error becomes a plain record `{ name, message, stack, cause?, fields? }`
 * and is rebuilt on the other side without ever looking a constructor up by a name the peer chose,
 * except in the fixed table of built-ins below and the classes the application registered itself.
 */

import { setOwn } from './proto-key.js'
import { shared, type ErrorCtor } from './shared.js'

const builtins: Record<string, ErrorCtor> = Object.assign(Object.create(null), {
  Error,
  TypeError,
  RangeError,
  SyntaxError,
  ReferenceError,
  EvalError,
  URIError,
})

const registered = shared.errorClasses

/**
 * Let errors whose `name` is `name` (by default `Class.name`) arrive as instances of `Class`.
 * The constructor is not called: the instance is made with `Object.create(Class.prototype)` and
 * given the sent `message`, `stack`, `cause` and own fields.
 */
export function registerErrorClass(Class: abstract new (...args: never[]) => Error, name: string = Class.name): void {
  if (!name) throw new TypeError('registerErrorClass: the class needs a name')
  registered.set(name, Class as unknown as ErrorCtor)
}

export interface ErrorRecord {
  name: string
  message: string
  stack?: string
  cause?: unknown
  errors?: unknown[]
  fields?: Record<string, unknown>
}

const reserved = new Set(['name', 'message', 'stack', 'cause'])

export function errorToRecord(error: Error): ErrorRecord {
  const record: ErrorRecord = { name: String(error.name), message: String(error.message) }
  if (typeof error.stack === 'string') record.stack = error.stack
  if ('cause' in error) record.cause = error.cause
  if (error instanceof AggregateError) record.errors = [...error.errors]
  let fields: Record<string, unknown> | undefined
  for (const key of Object.keys(error)) {
    if (reserved.has(key) || (key === 'errors' && record.errors)) continue
    const v = (error as unknown as Record<string, unknown>)[key]
    if (typeof v === 'function' || typeof v === 'symbol') continue
    setOwn((fields ??= {}), key, v)
  }
  if (fields) record.fields = fields
  return record
}

function define(target: object, key: string, value: unknown, enumerable: boolean) {
  Object.defineProperty(target, key, { value, writable: true, configurable: true, enumerable })
}

/**
 * An error from its record (a map: the caller checks). A member of the wrong type counts as absent:
 * `name`, `message`, `stack` that are not strings, `errors` that is not an array, `fields` that is
 * not a map.
 */
export function recordToError(input: object): Error {
  const r = input as Partial<ErrorRecord>
  const name = typeof r.name === 'string' ? r.name : 'Error'
  const message = typeof r.message === 'string' ? r.message : ''
  let error: Error
  const custom = registered.get(name)
  if (custom) {
    error = Object.create(custom.prototype) as Error
    define(error, 'message', message, false)
    // A class that sets `name` as a class field has it on instances only, and no constructor ran.
    if (error.name !== name) define(error, 'name', name, false)
  } else if (name === 'AggregateError') {
    error = new AggregateError(Array.isArray(r.errors) ? r.errors : [], message)
  } else {
    const Ctor = Object.prototype.hasOwnProperty.call(builtins, name) ? builtins[name]! : Error
    error = new Ctor(message)
    if (Ctor === Error && name !== 'Error') define(error, 'name', name, false)
  }
  if (custom && Array.isArray(r.errors)) define(error, 'errors', r.errors, false)
  define(error, 'stack', typeof r.stack === 'string' ? r.stack : `${name}: ${message}`, false)
  if ('cause' in r) define(error, 'cause', r.cause, false)
  if (typeof r.fields === 'object' && r.fields !== null && Object.getPrototypeOf(r.fields) === Object.prototype) {
    // Defined, not assigned: a field named `__proto__` or `constructor` is an own property, as sent.
    for (const key of Object.keys(r.fields)) define(error, key, (r.fields as Record<string, unknown>)[key], true)
  }
  return error
}
