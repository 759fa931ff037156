/**
 * One walk over a value before it is sent: it finds the handles inside (senders, receivers, and
 * anything else that carries the `HANDLE` brand), rejects what cannot be sent, and returns the value
 * with each handle replaced by what the caller chooses. Containers are copied only on the path to
 * something that was replaced, so a value without handles comes back as the very same object.
 */
import { UnsupportedValueError } from '../errors.js'
import { errorToRecord } from './error-record.js'
import { setOwn } from './proto-key.js'

/** The brand every transferable handle carries (shared by every copy of the package). */
export const HANDLE = Symbol.for('ipfi.handle')

export interface Branded {
  [HANDLE]: unknown
}

export function isHandle(x: unknown): x is Branded {
  return typeof x === 'object' && x !== null && (x as Partial<Branded>)[HANDLE] !== undefined
}

export interface WalkOptions {
  /** Called for every handle occurrence; returns what stands in its place. */
  handle(h: Branded): unknown
  /** Called for every Map (after its entries were walked); returns what stands in its place. */
  map?(entries: unknown[], original: Map<unknown, unknown>): unknown
  /** Called for every Error with its record, walked; returns what stands in its place. Without it, errors pass as they are. */
  error?(record: unknown): unknown
  /** Called for every function that is not a handle; without it, functions are refused. */
  fn?(f: (...args: never[]) => unknown): unknown
  /** What stands in place of -0 (msgpackr would write it as the integer 0); without it, -0 stays. */
  minusZero?: unknown
}

const noHandleInErrors = (): never => {
  throw new UnsupportedValueError('a handle inside an Error cannot be sent (put it next to the error instead)')
}

const MAX_DEPTH = 512

export function walk(value: unknown, options: WalkOptions): unknown {
  return visit(value, options, 0)
}

function visit(value: unknown, o: WalkOptions, depth: number): unknown {
  switch (typeof value) {
    case 'object':
      break
    case 'function':
      if ((value as Partial<Branded>)[HANDLE] !== undefined) return o.handle(value as unknown as Branded)
      if (o.fn) return o.fn(value as (...args: never[]) => unknown)
      throw new UnsupportedValueError(
        'a function cannot be sent through a channel (expose() an object, or pass it as a procedure callback)',
      )
    case 'symbol':
      throw new UnsupportedValueError('a symbol cannot be sent through a channel')
    case 'number':
      return value === 0 && o.minusZero !== undefined && Object.is(value, -0) ? o.minusZero : value
    default:
      return value
  }
  if (value === null) return value
  if (depth > MAX_DEPTH) throw new UnsupportedValueError(`value is nested deeper than ${MAX_DEPTH} levels, or is cyclic`)
  const obj = value as object
  if ((obj as Partial<Branded>)[HANDLE] !== undefined) return o.handle(obj as Branded)
  // The common case first: a plain record skips the class checks below.
  const proto = Object.getPrototypeOf(obj)
  if (proto === Object.prototype || proto === null) {
    if (typeof (obj as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === 'function') throw asyncIterable()
    return visitRecord(obj, o, depth + 1)
  }
  if (ArrayBuffer.isView(obj) || obj instanceof ArrayBuffer || obj instanceof Date || obj instanceof RegExp) {
    return obj
  }
  const d = depth + 1
  if (obj instanceof Error) {
    const record = visit(errorToRecord(obj), { ...o, handle: noHandleInErrors }, d)
    return o.error ? o.error(record) : obj
  }
  if (Array.isArray(obj)) {
    let copy: unknown[] | undefined
    for (let i = 0; i < obj.length; i++) {
      const v = obj[i]
      const w = visit(v, o, d)
      if (w !== v && !copy) copy = obj.slice(0, i)
      if (copy) copy.push(w)
    }
    return copy ?? obj
  }
  if (obj instanceof Map) {
    let changed = false
    const entries: unknown[] = []
    for (const [k, v] of obj) {
      const k2 = visit(k, o, d)
      const v2 = visit(v, o, d)
      if (k2 !== k || v2 !== v) changed = true
      entries.push(k2, v2)
    }
    if (o.map) return o.map(entries, obj)
    if (!changed) return obj
    const m = new Map()
    for (let i = 0; i < entries.length; i += 2) m.set(entries[i], entries[i + 1])
    return m
  }
  if (obj instanceof Set) {
    let changed = false
    const items: unknown[] = []
    for (const v of obj) {
      const w = visit(v, o, d)
      if (w !== v) changed = true
      items.push(w)
    }
    return changed ? new Set(items) : obj
  }
  if (typeof (obj as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === 'function') throw asyncIterable()
  if (obj instanceof Promise || obj instanceof WeakMap || obj instanceof WeakSet) {
    throw new UnsupportedValueError(`a ${obj.constructor.name} cannot be sent through a channel`)
  }
  return visitRecord(obj, o, d)
}

/** Bytes of binaries and characters of strings met by the last `isPlainData` (a size estimate). */
let plainBytes = 0
export function plainDataBytes(): number {
  return plainBytes
}

/**
 * Whether `value` is plain data that the walk would return unchanged with nothing to report:
 * primitives (no symbols, no -0), binaries, Dates, and arrays and plain records of those. A quick check
 * that allocates nothing; false only means "take the full walk" (which gives the errors). Counts
 * the bytes of binaries and characters of strings on the way (`plainDataBytes()`).
 */
export function isPlainData(value: unknown): boolean {
  plainBytes = 0
  return plain(value, 0)
}

function plain(value: unknown, depth: number): boolean {
  switch (typeof value) {
    case 'object':
      break
    case 'string':
      plainBytes += (value as string).length
      return true
    case 'function':
    case 'symbol':
      return false
    case 'number':
      return value !== 0 || !Object.is(value, -0) // -0 takes the walk, to be written as a float
    default:
      return true
  }
  if (value === null) return true
  if (depth > MAX_DEPTH) return false
  const obj = value as Record<string, unknown>
  if (obj[HANDLE as unknown as string] !== undefined) return false
  const proto = Object.getPrototypeOf(obj)
  if (proto === Object.prototype || proto === null) {
    if (obj[Symbol.asyncIterator as unknown as string] !== undefined) return false
    // for-in walks the enum cache (no key array); an inherited enumerable key only adds a check.
    for (const k in obj) if (!plain(obj[k], depth + 1)) return false
    return true
  }
  if (Array.isArray(obj)) {
    for (let i = 0; i < obj.length; i++) if (!plain(obj[i], depth + 1)) return false
    return true
  }
  if (ArrayBuffer.isView(obj)) {
    plainBytes += obj.byteLength
    return true
  }
  return obj instanceof Date
}

const asyncIterable = () =>
  new UnsupportedValueError(
    'an async iterable (a generator, a stream) cannot be sent inside a value: pass it as a top-level argument of a procedure call to stream it, or send a Receiver',
  )

/** An object's own enumerable string keys; copied only if something inside was replaced. */
function visitRecord(obj: object, o: WalkOptions, d: number): unknown {
  let copy: Record<string, unknown> | undefined
  const keys = Object.keys(obj)
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]!
    const v = (obj as Record<string, unknown>)[k]
    const w = visit(v, o, d)
    if (w !== v && !copy) {
      copy = {}
      for (let j = 0; j < i; j++) setOwn(copy, keys[j]!, (obj as Record<string, unknown>)[keys[j]!])
    }
    if (copy) setOwn(copy, k, w)
  }
  return copy ?? obj
}
