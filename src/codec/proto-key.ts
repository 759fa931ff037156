/**
 * `__proto__` as a key. Sent, it is an own property like any other; decoded, it must be one again,
 * without setting anything's prototype. msgpackr renames a map key `__proto__` to `__proto_` (its
 * guard against prototype pollution), and has no option to keep it. So decode() looks for the bytes
 * `__proto__` first (most payloads have no `_` at all); a payload that holds them is decoded with
 * its maps read as `Map`s, which are then made objects here, every key an own data property. The
 * tag readers whose value is made of maps (Map, Error, object without prototype) run after that
 * conversion (`later`).
 */
import { ProtocolError } from '../errors.js'
import { ByteSearch } from './scan.js'
import { shared } from './shared.js'

/** Assign an own property, even one named `__proto__`, without touching the prototype. */
export function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(target, key, { value, writable: true, enumerable: true, configurable: true })
  else target[key] = value
}

const underscore = new ByteSearch(0x5f)
/** Only 7 bytes: Node's search for a needle of 8 bytes or more is about 15 times slower on binary data. */
const PREFIX = Buffer.from('__proto')
/** Up to this many bytes from the first `_`, a loop here is quicker than a call to Node's search. */
const SHORT = 256

/** Whether `source[start, end)` may hold a map key `__proto__`: whether the bytes `__proto__` occur in it. */
export function mayHoldProtoKey(source: Buffer, start: number, end: number): boolean {
  if (end - start < 12) return false // a map header, the 10-byte key and a value
  const first = underscore.find(source, start, end)
  if (first === -1) return false
  if (end - first <= SHORT) {
    for (let i = first; i + 9 <= end; i++) if (source[i] === 0x5f && isProto(source, i)) return true
    return false
  }
  const rest = source.subarray(first, end)
  for (let i = rest.indexOf(PREFIX); i !== -1; i = rest.indexOf(PREFIX, i + 1)) {
    if (rest[i + 7] === 0x5f && rest[i + 8] === 0x5f) return true
  }
  return false
}

function isProto(b: Buffer, i: number): boolean {
  for (let j = 1; j < 9; j++) if (b[i + j] !== PROTO[j]) return false
  return true
}
const PROTO = Buffer.from('__proto__')

/** The brand of a tag value kept for later (`Symbol.for`: a second copy of ipfi may own the readers). */
const LATER = Symbol.for('ipfi.codec.later')
interface Later {
  [LATER]: (value: unknown) => unknown
  value: unknown
}

/** A tag reader whose value is made of maps: while they are read as `Map`s, it runs once they are objects. */
export function later<T>(read: (value: unknown) => T): (value: unknown) => T | Later {
  return (value) => (shared.mapsAsMaps ? { [LATER]: read, value } : read(value))
}

/** A value decoded with its maps as `Map`s, with each map made an object and the later tag readers run. */
export function objectsFromMaps(v: unknown): unknown {
  if (typeof v !== 'object' || v === null) return v
  const proto = Object.getPrototypeOf(v)
  if (proto === Map.prototype) {
    const object: Record<string, unknown> = {}
    for (const [k, x] of v as Map<unknown, unknown>) setOwn(object, propertyName(k), objectsFromMaps(x))
    return object
  }
  if (proto === Array.prototype) {
    const a = v as unknown[]
    for (let i = 0; i < a.length; i++) a[i] = objectsFromMaps(a[i])
    return a
  }
  if (proto === Set.prototype) return new Set(Array.from(v as Set<unknown>, objectsFromMaps))
  const read = (v as Partial<Later>)[LATER]
  return read ? read(objectsFromMaps((v as Later).value)) : v
}

/** A map key as msgpackr makes it a property name (numbers, booleans, nil and BigInts become strings). */
function propertyName(k: unknown): string {
  if (typeof k === 'string') return k
  if (k == null || typeof k === 'number' || typeof k === 'boolean' || typeof k === 'bigint') return String(k)
  throw new ProtocolError('undecodable message: a map key must be a string, a number, a boolean, nil or a BigInt')
}
