/**
 * The value codec: MessagePack (msgpackr) plus the ipfi tags. A tag is msgpackr's convention of a
 * fixext 1 (`d4 TT 00`) followed by one MessagePack value:
 *   0x01 handle  -> an unsigned index into the frame's handle (capability) table
 *   0x02 Map     -> an array [k0, v0, k1, v1, ...]
 *   0x03 Error   -> a record { name, message, stack?, cause?, errors?, fields? }
 *   0x04 endpoint, 0x05 function -> like 0x01, for handles the procedures layer gives a meaning
 *   0x06 object without prototype -> a map
 *   0x07 URL     -> its href
 * msgpackr's own tags are kept for Set (0x73), typed arrays (0x74), RegExp (0x78), big integers
 * (0x42), undefined (d4 00 00) and Date (timestamp, -1). Record definitions (msgpackr's 0x72) are
 * refused on decode: they would make the decoder generate code from bytes the peer chose.
 */
import { C1, Packr, RESERVE_START_SPACE, Unpackr, addExtension } from 'msgpackr'
import { LimitExceededError, ProtocolError, UnsupportedValueError } from '../errors.js'
import { MAX_NESTING_DEPTH, nestsTooDeep } from './depth.js'
import { errorToRecord, recordToError } from './error-record.js'
import { later, mayHoldProtoKey, objectsFromMaps } from './proto-key.js'
import { c1 } from './scan.js'
import { shared, type HandleReader } from './shared.js'
import { Place, bufferOf, lend } from './transfer-list.js'
import { HANDLE, isPlainData, plainDataBytes, walk, type Branded, type WalkOptions } from './walk.js'

export const TAG_HANDLE = 0x01
export const TAG_MAP = 0x02
export const TAG_ERROR = 0x03
export const TAG_ENDPOINT = 0x04
export const TAG_FUNCTION = 0x05
export const TAG_NO_PROTOTYPE = 0x06
export const TAG_URL = 0x07
/** The payload tags that refer to an entry of the handle table. */
export const HANDLE_TAGS = [TAG_HANDLE, TAG_ENDPOINT, TAG_FUNCTION] as const
export type HandleTagNumber = (typeof HANDLE_TAGS)[number]

abstract class HandleTag {
  constructor(readonly index: number) {}
}
class MapTag {
  constructor(readonly entries: unknown[]) {}
}
class ErrorTag {
  constructor(readonly record: unknown) {}
}

/**
 * Matches the objects without a prototype: msgpackr picks an extension with `instanceof` (and
 * reaches the extensions only for objects that are not plain, arrays or Maps). Registered first,
 * so that it is tried last, just before msgpackr's own (Date, Set, binaries...).
 */
class NoPrototype {
  static [Symbol.hasInstance](v: unknown): boolean {
    return Object.getPrototypeOf(v) === null
  }
}
// Writing. Each class below is written as its tag and then one value (what `write` returns); how each
// tag is read is in the table of decoders further down, with everything else a peer may send.
// The map follows the tag (`write` returning the object itself makes msgpackr write it as a map).
addExtension({ Class: NoPrototype, type: TAG_NO_PROTOTYPE, write: (o: object) => o })
addExtension({ Class: URL, type: TAG_URL, write: (u: URL) => u.href })

const tagClasses = new Map<number, new (index: number) => HandleTag>()
for (const tag of HANDLE_TAGS) {
  const Class = class extends HandleTag {}
  tagClasses.set(tag, Class)
  addExtension({ Class, type: tag, write: (h: HandleTag) => h.index })
}

/** The payload tag a handle is written with (its access object may name one; 0x01 otherwise). */
export function tagOf(h: Branded): HandleTagNumber {
  const t = (h[HANDLE] as { tag?: number } | undefined)?.tag
  return t === TAG_ENDPOINT || t === TAG_FUNCTION ? t : TAG_HANDLE
}
addExtension({ Class: MapTag, type: TAG_MAP, write: (m: MapTag) => m.entries })
addExtension({ Class: Error, type: TAG_ERROR, write: errorToRecord })
addExtension({ Class: ErrorTag, type: TAG_ERROR, write: (e: ErrorTag) => e.record })
/**
 * Stands for -0 in a prepared value: msgpackr writes -0 as the integer 0, and this as float64 -0
 * (`cb 80 00 00 00 00 00 00 00`), through the `allocateForWrite` that msgpackr hands a `pack`
 * extension (its own Date and typed array extensions write their bytes the same way).
 */
class MinusZero {}
const MINUS_ZERO = new MinusZero()
const MINUS_ZERO_BYTES = Buffer.from([0xcb, 0x80, 0, 0, 0, 0, 0, 0, 0])
type Allocate = (size: number) => { target: Uint8Array; position: number }
// msgpackr requires a type for a `pack` extension and registers it for decoding too: 0x62, whose
// decoder the registration below replaces (nothing of this extension is written with that type).
addExtension({ Class: MinusZero, type: 0x62, pack: ((_: MinusZero, allocate: Allocate) => {
  const { target, position } = allocate(MINUS_ZERO_BYTES.length)
  target.set(MINUS_ZERO_BYTES, position)
}) as unknown as () => Buffer })
/**
 * Stands for a binary of a transfer list (transfer-list.ts) in a prepared value: its header is
 * written (the same bytes msgpackr writes before a Buffer's or a typed array's data: `bin`, or ext
 * 0x74 with the type code) and its data left out; `at` records where the data belongs, so the
 * caller sends the data from the buffer itself, between the pieces of the encoding.
 */
class Hole {
  /** Where msgpackr wrote the header: its buffer then, and the offset just past the header. */
  target: Uint8Array | null = null
  end = 0
  constructor(readonly place: Place, readonly header: Uint8Array) {}
}
addExtension({ Class: Hole, type: 0x62, pack: ((h: Hole, allocate: Allocate) => {
  const { target, position } = allocate(h.header.length)
  target.set(h.header, position)
  h.target = target
  h.end = position + h.header.length
}) as unknown as () => Buffer })
// msgpackr's string bundles (0x62) are not part of the protocol; they would also give 0xc1 a meaning.
addExtension({ type: 0x62, unpack: () => {
  throw new ProtocolError('msgpackr string bundles are not part of the ipfi protocol')
} } as unknown as Parameters<typeof addExtension>[0])

/*
 * Reading. Every ext type a peer may send is one of:
 *  - a tag: fixext 1 `d4 TT` + a filler byte (ignored), then one MessagePack value that the tag
 *    gives a meaning (undefined, 0x00, is complete in itself). Only these types are tags, and only
 *    as fixext 1: the same type in any other ext format is refused;
 *  - an ordinary ext whose data is the value: BigInt (0x42), typed arrays (0x74), Date (-1 = 0xff),
 *    in any ext format (so `d4 42 05` is the BigInt 5);
 *  - refused: every other type (record definitions 0x72 are refused before they reach this table,
 *    structured-clone references 0x69/0x70 by msgpackr itself, as this codec never enables them).
 * msgpackr calls a decoder with the ext data for any ext format, except a fixext 1 of a decoder that
 * has `read` (then it skips the filler and hands `read` the next value) or `noBuffer` (it skips the
 * filler and calls it with nothing). The table is process-wide: these decoders also answer for any
 * other user of msgpackr in this process (the same for valid input, an ipfi error otherwise); the
 * types ipfi does not use are left alone.
 */
const hex = (t: number) => `0x${t.toString(16).padStart(2, '0')}`

/** A tag's decoder: its value comes after `d4 TT 00`; any other ext format of the type is refused. */
function tag(type: number, name: string, read: (value: unknown) => unknown): (data: Uint8Array) => never {
  const wrongFormat = (data: Uint8Array): never => {
    throw new ProtocolError(`ext type ${hex(type)} (${name}) with ${data.length} bytes of data: a tag is the fixext 1 d4 ${hex(type).slice(2)} 00 followed by its value`)
  }
  return Object.assign(wrongFormat, { read })
}

const readHandle = (t: HandleTagNumber) => (i: unknown) => {
  const reader = shared.readHandle
  if (!reader) throw new ProtocolError('handle reference where none may appear')
  if (typeof i !== 'number' || !Number.isInteger(i) || i < 0) throw new ProtocolError('malformed handle reference')
  return reader(i, t)
}
const isMap = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && Object.getPrototypeOf(v) === Object.prototype

const decoders: [number, string, (value: unknown) => unknown][] = [
  [TAG_HANDLE, 'handle', readHandle(TAG_HANDLE)],
  [TAG_MAP, 'Map', later((a: unknown) => {
    if (!Array.isArray(a) || a.length % 2 !== 0) throw new ProtocolError('malformed Map: the Map tag must be followed by an array of even length')
    const m = new Map()
    for (let i = 0; i < a.length; i += 2) m.set(a[i], a[i + 1])
    return m
  })],
  [TAG_ERROR, 'Error', later((r: unknown) => {
    if (!isMap(r)) throw new ProtocolError('malformed Error: the Error tag must be followed by a map (an error record)')
    return recordToError(r)
  })],
  [TAG_ENDPOINT, 'endpoint', readHandle(TAG_ENDPOINT)],
  [TAG_FUNCTION, 'function', readHandle(TAG_FUNCTION)],
  [TAG_NO_PROTOTYPE, 'object without prototype', later((o: unknown) => {
    if (!isMap(o)) throw new ProtocolError('malformed object without prototype: the tag must be followed by a map')
    return Object.setPrototypeOf(o, null)
  })],
  [TAG_URL, 'URL', (href: unknown) => {
    if (typeof href !== 'string' || !URL.canParse(href)) throw new ProtocolError('malformed URL: the URL tag must be followed by a string that parses as a URL')
    return new URL(href)
  }],
  // msgpackr's own error tag, as another implementation may send it: rebuilt the same safe way.
  [0x65, "msgpackr's error", later((a: unknown) => {
    if (!Array.isArray(a)) throw new ProtocolError("malformed error: msgpackr's error tag must be followed by an array [name, message, cause?]")
    return recordToError({ name: a[0], message: a[1], ...(a[2] === undefined ? {} : { cause: a[2] }) })
  })],
  [0x73, 'Set', (a: unknown) => {
    if (!Array.isArray(a)) throw new ProtocolError('malformed Set: the Set tag must be followed by an array')
    return new Set(a)
  }],
  [0x78, 'RegExp', (a: unknown) => {
    if (!Array.isArray(a) || a.length !== 2 || typeof a[0] !== 'string' || typeof a[1] !== 'string') {
      throw new ProtocolError('malformed RegExp: the RegExp tag must be followed by an array [source, flags] of two strings')
    }
    try {
      return new RegExp(a[0], a[1])
    } catch (e) {
      throw new ProtocolError(`malformed RegExp: ${(e as Error).message}`)
    }
  }],
]
for (const [type, name, read] of decoders) addExtension({ type, unpack: tag(type, name, read) } as unknown as Parameters<typeof addExtension>[0])

/** undefined: `d4 00 00`, complete in itself (msgpackr calls it with nothing for a fixext 1). */
const readUndefined = Object.assign((data?: Uint8Array): undefined => {
  if (data !== undefined) throw new ProtocolError(`ext type 0x00 (undefined) with ${data.length} bytes of data: undefined is the fixext 1 d4 00 00`)
  return undefined
}, { noBuffer: true })
addExtension({ type: 0x00, unpack: readUndefined } as unknown as Parameters<typeof addExtension>[0])

/**
 * BigInt (ext 0x42), the data big-endian two's complement of any length but 0 (msgpackr's own
 * decoder would fail on an empty one with a message of its own: this is its layout, with ipfi's error).
 */
addExtension({ type: 0x42, unpack: (data: Uint8Array) => {
  if (data.length === 0) throw new ProtocolError('malformed BigInt: ext 0x42 with no bytes')
  const n = BigInt(`0x${Buffer.from(data.buffer, data.byteOffset, data.length).toString('hex')}`)
  return data[0]! & 0x80 ? n - (1n << BigInt(data.length * 8)) : n
} } as unknown as Parameters<typeof addExtension>[0])

/** Typed arrays, ArrayBuffer and DataView (ext 0x74): a type code, then the bytes (msgpackr's layout). */
const TYPED_ARRAYS = [Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array, Float32Array, Float64Array, BigInt64Array, BigUint64Array]
addExtension({ type: 0x74, unpack: (data: Uint8Array) => {
  if (data.length === 0) throw new ProtocolError('malformed typed array: ext 0x74 without a type code')
  const code = data[0]!
  // A copy: aligned for its elements, and owning its memory.
  const buffer = Uint8Array.prototype.slice.call(data, 1).buffer
  if (code === 16) return buffer
  if (code === 17) return new DataView(buffer)
  const Class = TYPED_ARRAYS[code]
  if (!Class) throw new ProtocolError(`malformed typed array: unknown type code ${code}`)
  if (buffer.byteLength % Class.BYTES_PER_ELEMENT !== 0) {
    throw new ProtocolError(`malformed typed array: ${buffer.byteLength} bytes are not a whole number of ${Class.name} elements`)
  }
  return new Class(buffer)
} } as unknown as Parameters<typeof addExtension>[0])

// Every other ext type is unknown to msgpackr, which refuses it ("Unknown extension type N"), in
// ipfi's words (msgpackrMessage). No refusal is registered for them: the table is process-wide, and
// an application's own msgpackr extensions must keep working beside ipfi.

/**
 * msgpackr's record table, made so that it refuses record definitions (they would make the decoder
 * generate code from bytes the peer chose). msgpackr reads this object on every message and on
 * every positive fixint from 64 to 127, so reads must stay plain: what it reads is an own property
 * (ids 0-63 as accessors that say "no record"), and a write of any other id reaches the trap on the
 * prototype. (A Proxy around the table would put a trap on every one of those reads: 358 ns a
 * small message against 193.)
 */
const refuseRecord = (): never => {
  throw new ProtocolError('msgpackr record extension is not part of the ipfi protocol')
}
const noRecords: {}[] = Object.create(new Proxy(Object.create(null), { set: refuseRecord, defineProperty: refuseRecord }))
Object.defineProperties(noRecords, {
  length: { value: 0, writable: true },
  sharedLength: { value: 0, writable: true },
  restoreStructures: { value: undefined, writable: true },
})
for (let id = 0; id < 64; id++) Object.defineProperty(noRecords, id, { get: () => undefined, set: refuseRecord })

const packr = new Packr({ useRecords: false, moreTypes: true, useBigIntExtension: true, useToJSON: false })
const unpackOptions = { useRecords: false, mapsAsObjects: true, moreTypes: true, structuredClone: false, structures: noRecords }
// copyBuffers: a decoded binary is its own Buffer, not a view that would keep alive a whole chunk
// of other messages. A large message that has (most of) its buffer to itself is read without the
// copy; then only a binary of at least half the message stays a view of it (ownSmallBinaries).
const unpackr = new Unpackr({ ...unpackOptions, copyBuffers: true })
const unpackrInPlace = new Unpackr({ ...unpackOptions, copyBuffers: false })
/** For a payload that may hold a `__proto__` key: its maps come as `Map`s and become objects after (proto-key.ts). */
const unpackrMaps = new Unpackr({ ...unpackOptions, mapsAsObjects: false, copyBuffers: true })
/** From this size, a message that fills at least half its buffer is read in place. */
const IN_PLACE_FROM = 64 * 1024

/** Above this size, msgpackr's shared output buffer is dropped after use so it is not kept alive. */
const LARGE = 1 << 20

/** Encode a value the walk prepared (handles, Maps and Errors replaced by their tags), or plain data. */
function encodePrepared(prepared: unknown): Buffer {
  const out = packr.pack(prepared)
  if (out.length > LARGE) packr.useBuffer(Buffer.allocUnsafeSlow(8192))
  return out
}

/** Plain data of at least this many bytes is encoded into a buffer of its own (`Encoded.frame`). */
const OWN_BUFFER_FROM = 64 * 1024

export interface Encoded {
  payload: Buffer
  /** The handles found, in table order: `payload` refers to them by index. */
  handles: Branded[]
  /**
   * With a transfer list: the binaries of its buffers left out of `payload`, in order; each one's
   * bytes belong at `payload[at]` (the payload sent is the pieces of `payload` with each binary's
   * bytes between them, `bytes` in all).
   */
  holes?: Gap[]
  bytes?: number
  /**
   * For a large value: `payload` with `headroom` free bytes in front of it, in a buffer of its own
   * that nothing else refers to, so that the caller can write a header there and send the whole
   * frame without a copy (and a wire may transfer the buffer).
   */
  frame?: Buffer
}

/**
 * Encode `value` for a wire. Handles are collected (not moved: the caller commits the move once the
 * whole message is known to be sendable) and replaced by their index. `headroom`: bytes to leave
 * free in front of a large value's encoding (`Encoded.frame`), for the caller's header. `spare`,
 * asked only for such a value: a buffer that nothing reads any more, to encode into if it fits.
 */
export function encode(value: unknown, headroom = 0, spare?: () => Buffer | undefined, transferList?: readonly ArrayBuffer[]): Encoded {
  if (transferList) return encodeWithHoles(value, transferList)
  // Plain data (the common case) goes to msgpackr as it is, with no walk to copy it.
  if (isPlainData(value)) {
    const size = plainDataBytes()
    if (size >= OWN_BUFFER_FROM) return encodeLarge(value, size, headroom, spare?.())
    return { payload: packChecked(value), handles: NO_HANDLES }
  }
  const handles: Branded[] = []
  return { payload: packChecked(prepare(value, handles)), handles }
}

/**
 * The value as msgpackr is given it: handles (collected into `handles`), Maps, Errors and -0
 * replaced by their tags; `bytes`, if given, picks what stands for each binary.
 */
function prepare(value: unknown, handles: Branded[], bytes?: WalkOptions['bytes']): unknown {
  return walk(value, {
    handle(h) {
      handles.push(h)
      return new (tagClasses.get(tagOf(h))!)(handles.length - 1)
    },
    map: (entries) => new MapTag(entries),
    error: (record) => new ErrorTag(record),
    minusZero: MINUS_ZERO,
    bytes,
  })
}

/** A binary left out of an encoding (Encoded.holes): its bytes (where they lay when it was encoded) go at `at`. */
export interface Gap {
  at: number
  place: Place
}

/** Encode `value` with each binary whose buffer is in `list` left out (Encoded.holes). */
function encodeWithHoles(value: unknown, list: readonly ArrayBuffer[]): Encoded {
  const handles: Branded[] = []
  const holes: Hole[] = []
  const prepared = prepare(value, handles, (b) => {
    if (!list.includes(bufferOf(b))) return b
    const h = new Hole(new Place(b), binaryHeader(b))
    holes.push(h)
    return h
  })
  let payload = packChecked(prepared)
  if (holes.some((h) => h.target!.buffer !== payload.buffer)) {
    // msgpackr moved to a larger buffer after some header was written: once more, into one large enough.
    packr.useBuffer(Buffer.allocUnsafeSlow(payload.length + 1024))
    try {
      payload = packChecked(prepared)
    } finally {
      packr.useBuffer(Buffer.allocUnsafeSlow(8192))
    }
  }
  let bytes = payload.length
  const gaps = holes.map((h): Gap => {
    bytes += h.place.length
    return { at: h.end + h.target!.byteOffset - payload.byteOffset, place: h.place }
  })
  return { payload, handles, holes: gaps, bytes }
}

/** What msgpackr writes before a binary's data: `bin` for a Buffer, ext 0x74 and the type code for the rest. */
function binaryHeader(b: ArrayBuffer | ArrayBufferView): Uint8Array {
  const n = b.byteLength
  if (Buffer.isBuffer(b)) {
    if (n < 0x100) return Uint8Array.of(0xc4, n)
    if (n < 0x10000) return Uint8Array.of(0xc5, n >> 8, n & 0xff)
    return Uint8Array.of(0xc6, n >>> 24, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff)
  }
  const code = b instanceof ArrayBuffer ? 16 : b instanceof DataView ? 17 : TYPED_ARRAYS.indexOf(b.constructor as (typeof TYPED_ARRAYS)[number])
  const len = n + 1
  if (len < 0x100) return Uint8Array.of(0xc7, len, 0x74, code)
  if (len < 0x10000) return Uint8Array.of(0xc8, len >> 8, len & 0xff, 0x74, code)
  return Uint8Array.of(0xc9, len >>> 24, (len >> 16) & 0xff, (len >> 8) & 0xff, len & 0xff, 0x74, code)
}

/**
 * A large plain value, packed into a buffer sized for it (msgpackr would otherwise grow its own to
 * four times the size and copy), with `headroom` bytes in front; the buffer is then let go of.
 */
function encodeLarge(value: unknown, size: number, headroom: number, spare: Buffer | undefined): Encoded {
  // Strings may take up to 3 bytes a character; msgpackr grows the buffer if the guess is short.
  const need = headroom + size + (size >> 6) + 4096
  // A spare buffer (one nobody reads any more) is written into if it fits without being twice too large.
  packr.useBuffer(spare && spare.length >= need && spare.length <= 2 * need ? spare : Buffer.allocUnsafeSlow(need))
  let frame: Buffer
  try {
    frame = packChecked(value, RESERVE_START_SPACE | headroom)
  } finally {
    packr.useBuffer(Buffer.allocUnsafeSlow(8192))
  }
  return { payload: frame.subarray(headroom), handles: NO_HANDLES, frame }
}

/** The `handles` of every message without any (shared: never written). */
const NO_HANDLES: Branded[] = Object.freeze([]) as unknown as Branded[]

function packChecked(prepared: unknown, options?: number): Buffer {
  try {
    return options === undefined ? encodePrepared(prepared) : packr.pack(prepared, options)
  } catch (e) {
    if (e instanceof RangeError && /call stack/i.test(e.message)) throw new UnsupportedValueError('value is too deeply nested', { cause: e })
    throw new UnsupportedValueError(`value cannot be encoded: ${(e as Error).message}`, { cause: e })
  }
}

/** The range of the source msgpackr reads (one object, reused: decoding allocates no options). */
const range = { start: 0, end: 0 }

/**
 * Decode one value from `bytes[start, end)`. `onHandle(i)` supplies the object for handle table
 * entry `i`. Anything malformed throws `ProtocolError`; arrays and maps nested deeper than
 * MAX_NESTING_DEPTH, `LimitExceededError`.
 */
export function decode(bytes: Uint8Array, onHandle: HandleReader | null, start = 0, end = bytes.length): unknown {
  const previous = shared.readHandle
  const previousMaps = shared.mapsAsMaps
  shared.readHandle = onHandle
  // A binary decodes as a copy of the same class as the source: make that always a Buffer.
  const source = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  let value: unknown
  try {
    if (start >= end) throw new ProtocolError('undecodable message: empty')
    if (nestsTooDeep(source, start, end)) {
      throw new LimitExceededError(`undecodable message: arrays and maps nested deeper than ${MAX_NESTING_DEPTH} levels (MAX_NESTING_DEPTH)`)
    }
    range.start = start
    range.end = end
    const size = end - start
    if (mayHoldProtoKey(source, start, end)) {
      shared.mapsAsMaps = true
      value = objectsFromMaps(unpackrMaps.unpack(source, range))
    } else if (size >= IN_PLACE_FROM && size * 2 >= source.buffer.byteLength) {
      value = ownSmallBinaries(unpackrInPlace.unpack(source, range), source.buffer, size / 2)
      lend(source.buffer) // its binaries are views of it: a transfer copies them unless it holds this frame alone
    } else {
      value = unpackr.unpack(source, range)
    }
  } catch (e) {
    if (e instanceof ProtocolError || e instanceof LimitExceededError) throw e
    throw new ProtocolError(`undecodable message: ${msgpackrMessage(e)}`, { cause: e })
  } finally {
    shared.readHandle = previous
    shared.mapsAsMaps = previousMaps
    if (end - start >= IN_PLACE_FROM) letGoOfSource()
  }
  // msgpackr decodes the reserved byte 0xc1 as a marker object instead of failing. Only a message
  // with that byte somewhere (memchr-fast to check) is searched for the marker.
  if (c1.find(source, start, end) !== -1 && containsC1(value)) throw new ProtocolError('undecodable message: reserved byte 0xc1')
  return value
}

export { newChunk } from './scan.js'

/** One nil: what msgpackr is given to read after a large message (letGoOfSource). */
const NIL = Buffer.from([0xc0])
/**
 * msgpackr keeps a DataView of the last buffer it read until it reads another: after a large
 * message, that would keep its frame (all of it, however little of it the value still uses) alive
 * until the next message arrives. Reading one nil makes that DataView one of NIL.
 */
function letGoOfSource(): void {
  unpackr.unpack(NIL)
}

/** What msgpackr's own refusal says, in the protocol's words where it has some. */
function msgpackrMessage(e: unknown): string {
  const m = e instanceof Error ? e.message : String(e)
  if (/structured clone extension is disabled/i.test(m)) return 'msgpackr structured-clone references (ext types 0x69, 0x70) are not part of the ipfi protocol'
  const unknown = /^Unknown extension (?:type )?(\d+)$/.exec(m)
  if (unknown) {
    const type = Number(unknown[1])
    return `ext type ${hex(type)}${type === 0x72 ? ' (a msgpackr record definition)' : ''} is not part of the ipfi protocol`
  }
  return m
}

/**
 * Copy every binary in a value read in place that is a view of `buffer` smaller than `below`
 * bytes: a small binary kept must not keep the large message it came in alive.
 */
function ownSmallBinaries(v: unknown, buffer: ArrayBufferLike, below: number): unknown {
  if (typeof v !== 'object' || v === null) return v
  if (ArrayBuffer.isView(v)) {
    // %TypedArray%.prototype.slice copies into the same class (a Buffer stays a Buffer).
    return v.buffer === buffer && v.byteLength < below ? Uint8Array.prototype.slice.call(v as unknown as Uint8Array) : v
  }
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) v[i] = ownSmallBinaries(v[i], buffer, below)
  } else if (v instanceof Map) {
    for (const [k, x] of v) v.set(k, ownSmallBinaries(x, buffer, below))
  } else if (Object.getPrototypeOf(v) === Object.prototype || Object.getPrototypeOf(v) === null) {
    const r = v as Record<string, unknown>
    for (const k of Object.keys(r)) r[k] = ownSmallBinaries(r[k], buffer, below)
  }
  return v
}

/** Whether msgpackr's 0xc1 marker is anywhere in a freshly decoded value (a tree: no cycles). */
function containsC1(root: unknown): boolean {
  const stack: unknown[] = [root]
  while (stack.length > 0) {
    const v = stack.pop()
    if (v === C1) return true
    if (typeof v !== 'object' || v === null || ArrayBuffer.isView(v)) continue
    if (Array.isArray(v)) for (const x of v) stack.push(x)
    else if (v instanceof Map) for (const [k, x] of v) stack.push(k, x)
    else if (v instanceof Set) for (const x of v) stack.push(x)
    else {
      const proto = Object.getPrototypeOf(v)
      // Plain records and rebuilt errors; handles (class instances) are the link's, not the peer's.
      if (proto === Object.prototype || proto === null || v instanceof Error) {
        for (const key of Object.getOwnPropertyNames(v)) stack.push((v as Record<string, unknown>)[key])
      }
    }
  }
  return false
}

/** Plain MessagePack (for control frames): no handles, no ipfi-specific meaning. */
export function encodePlain(value: unknown): Buffer {
  return encodePrepared(value)
}
export function decodePlain(bytes: Uint8Array, start?: number, end?: number): unknown {
  return decode(bytes, null, start, end)
}
