/**
 * One walk over a value before it is sent: it finds the handles inside (senders, receivers, and
 * anything else that carries the `HANDLE` brand), rejects what cannot be sent, and returns the value
 * with each handle replaced by what the caller chooses. Containers are copied only on the path to
 * something that was replaced, so a value without handles comes back as the very same object.
 */
import { UnsupportedValueError } from '../errors.js'
import { MAX_NESTING_DEPTH } from './depth.js'
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
  /** Called for every binary (ArrayBuffer, DataView, Buffer, typed array); returns what stands in its place. Without it, binaries stay. */
  bytes?(b: ArrayBuffer | ArrayBufferView): unknown
}

const noHandleInErrors = (): never => {
  throw new UnsupportedValueError('a handle inside an Error cannot be sent (put it next to the error instead)')
}

/**
 * `depth` below is the number of arrays and maps the value is written inside (depth.ts): what is
 * written as an array or a map itself (plain and null-prototype objects, arrays, Maps, Sets, error
 * records, RegExps) may be written only at a depth under MAX_NESTING_DEPTH.
 */
const tooDeep = () =>
  new UnsupportedValueError(`value is nested deeper than ${MAX_NESTING_DEPTH} levels of arrays and maps (MAX_NESTING_DEPTH), or is cyclic`)

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
  const obj = value as object
  if ((obj as Partial<Branded>)[HANDLE] !== undefined) return o.handle(obj as Branded)
  // The common case first: a plain record skips the class checks below.
  const proto = Object.getPrototypeOf(obj)
  if (proto === Object.prototype || proto === null) {
    if (depth >= MAX_NESTING_DEPTH) throw tooDeep()
    if (typeof (obj as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === 'function') throw asyncIterable()
    return visitRecord(obj, o, depth + 1)
  }
  if (LEAVES.has(proto)) {
    // A RegExp is written as the array [source, flags].
    if (proto === RegExp.prototype && depth >= MAX_NESTING_DEPTH) throw tooDeep()
    return o.bytes && BINARIES.has(proto) ? o.bytes(obj as ArrayBuffer | ArrayBufferView) : obj
  }
  if (depth >= MAX_NESTING_DEPTH) throw tooDeep()
  const d = depth + 1
  if (obj instanceof Error) {
    // Written as its record, in its place: the record's map is at the error's own depth.
    const record = visit(errorToRecord(obj), { ...o, handle: noHandleInErrors }, depth)
    return o.error ? o.error(record) : obj
  }
  if (proto === Array.prototype) {
    const array = obj as unknown[]
    let copy: unknown[] | undefined
    for (let i = 0; i < array.length; i++) {
      const v = array[i]
      const w = visit(v, o, d)
      if (w !== v && !copy) copy = array.slice(0, i)
      if (copy) copy.push(w)
    }
    return copy ?? array
  }
  if (proto === Map.prototype) {
    const map = obj as Map<unknown, unknown>
    let changed = false
    const entries: unknown[] = []
    for (const [k, v] of map) {
      const k2 = visit(k, o, d)
      const v2 = visit(v, o, d)
      if (k2 !== k || v2 !== v) changed = true
      entries.push(k2, v2)
    }
    if (o.map) return o.map(entries, map)
    if (!changed) return map
    const m = new Map()
    for (let i = 0; i < entries.length; i += 2) m.set(entries[i], entries[i + 1])
    return m
  }
  if (proto === Set.prototype) {
    let changed = false
    const items: unknown[] = []
    for (const v of obj as Set<unknown>) {
      const w = visit(v, o, d)
      if (w !== v) changed = true
      items.push(w)
    }
    return changed ? new Set(items) : obj
  }
  if (typeof (obj as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === 'function') throw asyncIterable()
  throw notSendable(proto)
}

/**
 * The classes whose instances cross as they are, holding nothing the walk must visit. Exact
 * prototypes: an instance of a subclass (of these, of Array, Map or Set) would arrive as an
 * instance of the base class, so it is refused like any other class instance.
 */
const BINARIES = new Set<unknown>(
  [ArrayBuffer, DataView, Buffer, Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array, Float32Array, Float64Array, BigInt64Array, BigUint64Array].map((c) => c.prototype),
)
const LEAVES = new Set<unknown>([Date.prototype, RegExp.prototype, URL.prototype, ...BINARIES])

const BOXED = new Set<unknown>([Number, String, Boolean, BigInt, Symbol].map((c) => c.prototype))

/** The refusal of an instance of a class that cannot cross (it would arrive without its class). */
function notSendable(proto: object): UnsupportedValueError {
  const ctor = Object.prototype.hasOwnProperty.call(proto, 'constructor') ? (proto as { constructor: unknown }).constructor : undefined
  const name = typeof ctor === 'function' ? ctor.name : ''
  if (BOXED.has(proto)) return new UnsupportedValueError(`a ${name} object cannot be sent through a channel: send its primitive value (value.valueOf())`)
  if (proto === Promise.prototype) return new UnsupportedValueError('a Promise cannot be sent through a channel: await it and send its value')
  if (proto === WeakMap.prototype || proto === WeakSet.prototype || proto === WeakRef.prototype) {
    return new UnsupportedValueError(`a ${name} cannot be sent through a channel: what it holds cannot be listed`)
  }
  const what = name && name !== 'Object' ? `a ${name} instance` : 'an object whose prototype is neither Object.prototype nor null'
  return new UnsupportedValueError(
    `${what} cannot be sent through a channel: it would arrive without its class. Send plain data instead (for example { ...value }); ` +
      'what crosses as it is: plain and null-prototype objects, arrays, Map, Set, Date, RegExp, URL, errors, binaries and primitives',
  )
}

/** Bytes of binaries and characters of strings met by the last `isPlainData` (a size estimate). */
let plainBytes = 0
export function plainDataBytes(): number {
  return plainBytes
}

/**
 * Whether `value` is plain data that the walk would return unchanged with nothing to report:
 * primitives (no symbols, no -0), binaries, Dates, RegExps, URLs, and arrays and plain records of those. A quick check
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
  const obj = value as Record<string, unknown>
  if (obj[HANDLE as unknown as string] !== undefined) return false
  const proto = Object.getPrototypeOf(obj)
  if (proto === Object.prototype || proto === null) {
    if (depth >= MAX_NESTING_DEPTH || obj[Symbol.asyncIterator as unknown as string] !== undefined) return false
    // for-in walks the enum cache (no key array); an inherited enumerable key only adds a check.
    for (const k in obj) if (!plain(obj[k], depth + 1)) return false
    return true
  }
  if (proto === Array.prototype) {
    if (depth >= MAX_NESTING_DEPTH) return false
    const array = obj as unknown as unknown[]
    for (let i = 0; i < array.length; i++) if (!plain(array[i], depth + 1)) return false
    return true
  }
  if (!LEAVES.has(proto) || (proto === RegExp.prototype && depth >= MAX_NESTING_DEPTH)) return false
  plainBytes += (obj as { byteLength?: number }).byteLength ?? 0
  return true
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
      // The copy keeps the object's kind: an object without a prototype stays one (and is tagged so).
      copy = Object.getPrototypeOf(obj) === null ? (Object.create(null) as Record<string, unknown>) : {}
      for (let j = 0; j < i; j++) setOwn(copy, keys[j]!, (obj as Record<string, unknown>)[keys[j]!])
    }
    if (copy) setOwn(copy, k, w)
  }
  return copy ?? obj
}
