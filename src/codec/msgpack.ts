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
import { ProtocolError, UnsupportedValueError } from '../errors.js'
import { errorToRecord, recordToError } from './error-record.js'
import { later, mayHoldProtoKey, objectsFromMaps } from './proto-key.js'
import { c1 } from './scan.js'
import { shared, type HandleReader } from './shared.js'
import { HANDLE, isPlainData, plainDataBytes, walk, type Branded } from './walk.js'

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
// The map follows the tag (`write` returning the object itself makes msgpackr write it as a map).
addExtension({ Class: NoPrototype, type: TAG_NO_PROTOTYPE, write: (o: object) => o, read: later((o: unknown) => {
  if (typeof o !== 'object' || o === null || Object.getPrototypeOf(o) !== Object.prototype) throw new ProtocolError('malformed object without prototype')
  return Object.setPrototypeOf(o, null)
}) })
addExtension({ Class: URL, type: TAG_URL, write: (u: URL) => u.href, read: (href: unknown) => {
  if (typeof href !== 'string' || !URL.canParse(href)) throw new ProtocolError('malformed URL')
  return new URL(href)
} })

const tagClasses = new Map<number, new (index: number) => HandleTag>()
for (const tag of HANDLE_TAGS) {
  const Class = class extends HandleTag {}
  tagClasses.set(tag, Class)
  addExtension({ Class, type: tag, write: (h: HandleTag) => h.index, read: (i: unknown) => {
    const reader = shared.readHandle
    if (!reader) throw new ProtocolError('handle reference where none may appear')
    if (typeof i !== 'number' || !Number.isInteger(i) || i < 0) throw new ProtocolError('malformed handle reference')
    return reader(i, tag)
  } })
}

/** The payload tag a handle is written with (its access object may name one; 0x01 otherwise). */
export function tagOf(h: Branded): HandleTagNumber {
  const t = (h[HANDLE] as { tag?: number } | undefined)?.tag
  return t === TAG_ENDPOINT || t === TAG_FUNCTION ? t : TAG_HANDLE
}
addExtension({ Class: MapTag, type: TAG_MAP, write: (m: MapTag) => m.entries, read: later((a: unknown) => {
  if (!Array.isArray(a) || a.length % 2 !== 0) throw new ProtocolError('malformed Map')
  const m = new Map()
  for (let i = 0; i < a.length; i += 2) m.set(a[i], a[i + 1])
  return m
}) })
const readError = later(recordToError)
addExtension({ Class: Error, type: TAG_ERROR, write: errorToRecord, read: readError })
addExtension({ Class: ErrorTag, type: TAG_ERROR, write: (e: ErrorTag) => e.record, read: readError })
// msgpackr's own error tag, as another implementation may send it: rebuilt the same safe way.
addExtension({ type: 0x65, read: later((a: unknown) => {
  if (!Array.isArray(a)) throw new ProtocolError('malformed error')
  return recordToError({ name: a[0], message: a[1], ...(a[2] === undefined ? {} : { cause: a[2] }) })
}) } as Parameters<typeof addExtension>[0])
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
// msgpackr's string bundles (0x62) are not part of the protocol; they would also give 0xc1 a meaning.
addExtension({ type: 0x62, unpack: () => {
  throw new ProtocolError('msgpackr string bundles are not part of the ipfi protocol')
} } as unknown as Parameters<typeof addExtension>[0])

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
   * For a large value: `payload` with `headroom` free bytes in front of it, in a buffer of its own
   * that nothing else refers to, so that the caller can write a header there and send the whole
   * frame without a copy (and a wire may transfer the buffer).
   */
  frame?: Buffer
}

/**
 * Encode `value` for a wire. Handles are collected (not moved: the caller commits the move once the
 * whole message is known to be sendable) and replaced by their index. `headroom`: bytes to leave
 * free in front of a large value's encoding (`Encoded.frame`), for the caller's header.
 */
export function encode(value: unknown, headroom = 0): Encoded {
  // Plain data (the common case) goes to msgpackr as it is, with no walk to copy it.
  if (isPlainData(value)) {
    const size = plainDataBytes()
    if (size >= OWN_BUFFER_FROM) return encodeLarge(value, size, headroom)
    return { payload: packChecked(value), handles: NO_HANDLES }
  }
  const handles: Branded[] = []
  const prepared = walk(value, {
    handle(h) {
      handles.push(h)
      return new (tagClasses.get(tagOf(h))!)(handles.length - 1)
    },
    map: (entries) => new MapTag(entries),
    error: (record) => new ErrorTag(record),
    minusZero: MINUS_ZERO,
  })
  return { payload: packChecked(prepared), handles }
}

/**
 * A large plain value, packed into a buffer sized for it (msgpackr would otherwise grow its own to
 * four times the size and copy), with `headroom` bytes in front; the buffer is then let go of.
 */
function encodeLarge(value: unknown, size: number, headroom: number): Encoded {
  // Strings may take up to 3 bytes a character; msgpackr grows the buffer if the guess is short.
  packr.useBuffer(Buffer.allocUnsafeSlow(headroom + size + (size >> 6) + 4096))
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
 * entry `i`. Anything malformed throws `ProtocolError`.
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
    range.start = start
    range.end = end
    const size = end - start
    if (mayHoldProtoKey(source, start, end)) {
      shared.mapsAsMaps = true
      value = objectsFromMaps(unpackrMaps.unpack(source, range))
    } else if (size >= IN_PLACE_FROM && size * 2 >= source.buffer.byteLength) {
      value = ownSmallBinaries(unpackrInPlace.unpack(source, range), source.buffer, size / 2)
    } else {
      value = unpackr.unpack(source, range)
    }
  } catch (e) {
    if (e instanceof ProtocolError) throw e
    throw new ProtocolError(`undecodable message: ${(e as Error).message}`, { cause: e })
  } finally {
    shared.readHandle = previous
    shared.mapsAsMaps = previousMaps
  }
  // msgpackr decodes the reserved byte 0xc1 as a marker object instead of failing. Only a message
  // with that byte somewhere (memchr-fast to check) is searched for the marker.
  if (c1.find(source, start, end) !== -1 && containsC1(value)) throw new ProtocolError('undecodable message: reserved byte 0xc1')
  return value
}

export { newChunk } from './scan.js'

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
