/**
 * Tagged JSON (conformance/README.md, "Values"): the language-neutral notation of values in
 * conformance/values.json, read into JS values, and the deep comparison the roles judge with.
 */

const TYPED = {
  Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array,
  Float32Array, Float64Array, BigInt64Array, BigUint64Array,
}
const ERRORS = { Error, TypeError, RangeError, SyntaxError, ReferenceError, EvalError, URIError }

function define(target, key, value) {
  Object.defineProperty(target, key, { value, writable: true, enumerable: true, configurable: true })
}

function bytesOf(hex) {
  if (typeof hex !== 'string' || !/^([0-9a-f]{2})*$/i.test(hex.replace(/\s+/g, ''))) throw new TypeError(`bad hex: ${hex}`)
  return Buffer.from(hex.replace(/\s+/g, ''), 'hex')
}

/** The one tag key of a tag object, or null for a plain object. */
function tagKey(o) {
  const keys = Object.keys(o)
  return keys.length === 1 && keys[0].startsWith('$') ? keys[0] : null
}

function objectOf(json, proto) {
  const out = Object.create(proto)
  for (const k of Object.keys(json)) define(out, k, fromTagged(json[k]))
  return out
}

/** A JS value from its tagged-JSON form. */
export function fromTagged(t) {
  if (t === null || typeof t === 'string' || typeof t === 'boolean') return t
  if (typeof t === 'number') {
    if (!Number.isInteger(t) || t < -(2 ** 31) || t >= 2 ** 32) throw new TypeError(`a plain JSON number must be an integer in [-2^31, 2^32), got ${t}: write {"$float": ...}`)
    return t
  }
  if (Array.isArray(t)) return t.map(fromTagged)
  if (typeof t !== 'object') throw new TypeError(`not tagged JSON: ${t}`)
  const tag = tagKey(t)
  if (tag === null) return objectOf(t, Object.prototype)
  const v = t[tag]
  switch (tag) {
    case '$undefined':
      return undefined
    case '$float':
      if (typeof v === 'number') return v
      if (v === '-0') return -0
      if (v === 'NaN') return NaN
      if (v === 'Infinity') return Infinity
      if (v === '-Infinity') return -Infinity
      throw new TypeError(`bad $float ${v}`)
    case '$bigint':
      return BigInt(v)
    case '$bytes':
      return bytesOf(v)
    case '$typed': {
      const [type, hex] = v
      const raw = bytesOf(hex)
      const ab = new ArrayBuffer(raw.length)
      new Uint8Array(ab).set(raw)
      if (type === 'ArrayBuffer') return ab
      if (type === 'DataView') return new DataView(ab)
      const C = TYPED[type]
      if (!C) throw new TypeError(`unknown typed array ${type}`)
      return new C(ab)
    }
    case '$map':
      return new Map(v.map(([k, x]) => [fromTagged(k), fromTagged(x)]))
    case '$set':
      return new Set(v.map(fromTagged))
    case '$date':
      return new Date(v === 'invalid' ? NaN : v)
    case '$regexp':
      return new RegExp(v[0], v[1])
    case '$url':
      return new URL(v)
    case '$nullproto':
      return objectOf(v, null)
    case '$object':
      return objectOf(v, Object.prototype)
    case '$error': {
      const name = v.name ?? 'Error'
      let e
      if (name === 'AggregateError') e = new AggregateError((v.errors ?? []).map(fromTagged), v.message ?? '')
      else {
        const C = Object.hasOwn(ERRORS, name) ? ERRORS[name] : Error
        e = 'cause' in v ? new C(v.message ?? '', { cause: fromTagged(v.cause) }) : new C(v.message ?? '')
        if (C === Error && name !== 'Error') Object.defineProperty(e, 'name', { value: name, writable: true, configurable: true, enumerable: false })
      }
      if (name === 'AggregateError' && 'cause' in v) Object.defineProperty(e, 'cause', { value: fromTagged(v.cause), writable: true, configurable: true })
      for (const k of Object.keys(v.fields ?? {})) define(e, k, fromTagged(v.fields[k]))
      return e
    }
    default:
      throw new TypeError(`unknown tag ${tag}`)
  }
}

function kind(v) {
  if (v === null) return 'null'
  if (typeof v !== 'object') return typeof v
  if (Buffer.isBuffer(v)) return 'Buffer'
  if (Array.isArray(v)) return 'Array'
  if (v instanceof Error) return 'Error'
  const proto = Object.getPrototypeOf(v)
  if (proto === null) return 'null-prototype object'
  if (proto === Object.prototype) return 'object'
  return proto.constructor?.name ?? 'unknown object'
}

function show(v) {
  try {
    if (typeof v === 'bigint') return `${v}n`
    if (Object.is(v, -0)) return '-0'
    if (typeof v === 'string') return JSON.stringify(v.length > 40 ? v.slice(0, 40) + '...' : v)
    if (typeof v === 'object' && v !== null) return kind(v)
    return String(v)
  } catch {
    return '?'
  }
}

function rawBytes(v) {
  return Buffer.from(v instanceof ArrayBuffer ? v : v.buffer, v instanceof ArrayBuffer ? 0 : v.byteOffset, v.byteLength)
}

/** null when `actual` is the same value as `expected` (as the protocol carries it), else where it differs. */
export function difference(actual, expected, path = '$') {
  const ka = kind(actual)
  const ke = kind(expected)
  const shown = (k, v) => (typeof v === 'object' && v !== null ? k : `${k} ${show(v)}`)
  if (ka !== ke) return `${path}: expected ${shown(ke, expected)}, got ${shown(ka, actual)}`
  switch (ke) {
    case 'number':
      return Object.is(actual, expected) ? null : `${path}: expected ${show(expected)}, got ${show(actual)}`
    case 'bigint':
    case 'string':
    case 'boolean':
    case 'undefined':
    case 'null':
      return actual === expected ? null : `${path}: expected ${show(expected)}, got ${show(actual)}`
    case 'Array': {
      if (actual.length !== expected.length) return `${path}: expected ${expected.length} items, got ${actual.length}`
      for (let i = 0; i < expected.length; i++) {
        const d = difference(actual[i], expected[i], `${path}[${i}]`)
        if (d) return d
      }
      return null
    }
    case 'object':
    case 'null-prototype object':
      return sameKeys(actual, expected, path)
    case 'Map': {
      if (actual.size !== expected.size) return `${path}: expected a Map of ${expected.size}, got ${actual.size}`
      const a = [...actual]
      const e = [...expected]
      for (let i = 0; i < e.length; i++) {
        const d = difference(a[i][0], e[i][0], `${path}.key(${i})`) ?? difference(a[i][1], e[i][1], `${path}.get(${show(e[i][0])})`)
        if (d) return d
      }
      return null
    }
    case 'Set': {
      const a = [...actual]
      const e = [...expected]
      if (a.length !== e.length) return `${path}: expected a Set of ${e.length}, got ${a.length}`
      for (let i = 0; i < e.length; i++) {
        const d = difference(a[i], e[i], `${path}.item(${i})`)
        if (d) return d
      }
      return null
    }
    case 'Date':
      return Object.is(actual.getTime(), expected.getTime()) ? null : `${path}: expected Date ${expected.getTime()}, got ${actual.getTime()}`
    case 'RegExp':
      return actual.source === expected.source && actual.flags === expected.flags ? null : `${path}: expected ${expected}, got ${actual}`
    case 'URL':
      return actual.href === expected.href ? null : `${path}: expected URL ${expected.href}, got ${actual.href}`
    case 'Error': {
      for (const k of ['name', 'message']) if (actual[k] !== expected[k]) return `${path}.${k}: expected ${show(expected[k])}, got ${show(actual[k])}`
      if (Object.getPrototypeOf(actual) !== Object.getPrototypeOf(expected)) return `${path}: expected an instance of ${expected.constructor.name}, got ${actual.constructor.name}`
      if ('cause' in expected !== 'cause' in actual) return `${path}.cause: expected ${'cause' in expected ? 'one' : 'none'}`
      if ('cause' in expected) {
        const d = difference(actual.cause, expected.cause, `${path}.cause`)
        if (d) return d
      }
      if (expected instanceof AggregateError) {
        const d = difference(actual.errors, expected.errors, `${path}.errors`)
        if (d) return d
      }
      return sameKeys(actual, expected, path)
    }
    default:
      if (ArrayBuffer.isView(expected) || expected instanceof ArrayBuffer) {
        return rawBytes(actual).equals(rawBytes(expected)) ? null : `${path}: expected bytes ${rawBytes(expected).toString('hex')}, got ${rawBytes(actual).toString('hex')}`
      }
      return `${path}: cannot compare ${ke}`
  }
}

function sameKeys(actual, expected, path) {
  const ka = Object.keys(actual).sort()
  const ke = Object.keys(expected).sort()
  if (ka.join('\0') !== ke.join('\0')) return `${path}: expected keys [${ke.join(', ')}], got [${ka.join(', ')}]`
  for (const k of ke) {
    if (!Object.prototype.propertyIsEnumerable.call(actual, k)) return `${path}.${k}: not an own enumerable property`
    const d = difference(actual[k], expected[k], `${path}.${k}`)
    if (d) return d
  }
  return null
}
