/**
 * The frame vocabulary and its codec: kinds, header layouts, and how each control frame's body is
 * written and read (docs/PROTOCOL.md §4-§5 is the normative description). A new frame kind is a
 * constant and a reader here, plus one case in Link's dispatch; the framing itself (the length
 * prefix) is wire/framing.ts.
 */
import { decodePlain, encodePlain } from '../codec/msgpack.js'
import { ProtocolError } from '../errors.js'
import { FRAME_HEADER, writeLength } from '../wire/framing.js'

export const HELLO = 0x01
export const MSG = 0x02
export const RELEASE = 0x03
export const DROPPED = 0x04
export const FINISH = 0x05
export const GOODBYE = 0x06
export const DISEMBARGO = 0x07
/** Empty body: "I am alive", sent when the peer asked for a heartbeat and nothing else was sent. */
export const PING = 0x08

export const MAGIC = [0x49, 0x50, 0x46, 0x49] as const // "IPFI"
export const VERSION = 1

/** MSG body header: kind u8, target kind u8, target u32, caps length u32. */
export const MSG_HEADER = 10
/** A MSG's length prefix and header: the bytes in front of its caps and payload. */
export const MSG_PREFIXED = FRAME_HEADER + MSG_HEADER
/** A control frame's length prefix and kind: the bytes in front of its body. */
export const CONTROL_PREFIXED = FRAME_HEADER + 1

/** Target kinds of a MSG (and DROPPED): the receiving side's export table, or its inbound table. */
export const TARGET_EXPORT = 0
export const TARGET_INBOUND = 1

/** Capability descriptors in a MSG's caps array. */
export const CAP_SENDER_HOSTED = 0 // [0, id]: a sender to the frame sender's export `id`
export const CAP_SENDER_YOUR_EXPORT = 1 // [1, id]: a sender to the frame receiver's own export `id`
export const CAP_SENDER_YOUR_INBOUND = 2 // [2, id]: a sender to the frame receiver's inbound `id`
export const CAP_RECEIVER = 3 // [3, id, ...hints]: a receiver, moved to the frame receiver as its inbound `id`
// Hints (pairs): [0, e] "you import this channel as my export e", [1, q] "you forward to it as my inbound q".

/** The second element of a GOODBYE sent by a process that exits with a failure. */
export const EXITED = 'ERR_IPFI_EXITED'

// ------------------------------------------------------------------------------------ writing

/** A MSG frame's length prefix and header (MSG_PREFIXED bytes) at `at`; caps and payload follow. */
export function writeMsgHeader(target: Buffer, at: number, bodyLen: number, route: { kind: number; id: number }, capsLen: number): void {
  writeLength(target, at, bodyLen)
  target[at + 4] = MSG
  target[at + 5] = route.kind
  target.writeUInt32BE(route.id, at + 6)
  target.writeUInt32BE(capsLen, at + 10)
}

/** A control frame (CONTROL_PREFIXED + body.length bytes) at `at`. */
export function writeControl(target: Buffer, at: number, kind: number, body: Uint8Array): void {
  writeLength(target, at, 1 + body.length)
  target[at + 4] = kind
  target.set(body, at + CONTROL_PREFIXED)
}

export interface HelloOptions {
  maxFrameBytes?: number
  maxHandlesPerMessage?: number
  /** Send a frame at least this often when otherwise silent (PING). */
  heartbeatMs?: number
}

/** A HELLO's body: magic, version, options. */
export function helloBody(options: HelloOptions): Buffer {
  const opts = encodePlain(options)
  const body = Buffer.allocUnsafe(5 + opts.length)
  body.set(MAGIC, 0)
  body[4] = VERSION
  body.set(opts, 5)
  return body
}

// ------------------------------------------------------------------------------------ reading
// Each reader takes the whole frame (kind byte first) and throws ProtocolError when it is malformed.

export function readHello(frame: Uint8Array): HelloOptions {
  if (frame.length < 6 || MAGIC.some((b, i) => frame[1 + i] !== b)) throw new ProtocolError('bad handshake (no IPFI magic; is the peer speaking ipfi?)')
  if (frame[5] !== VERSION) throw new ProtocolError(`peer speaks ipfi protocol version ${frame[5]}, this side ${VERSION}`)
  const opts = frame.length > 6 ? decodePlain(frame.subarray(6)) : {}
  if (typeof opts !== 'object' || opts === null || Array.isArray(opts)) throw new ProtocolError('malformed handshake options')
  const o = opts as Record<string, unknown>
  const maxFrameBytes = limitValue(o.maxFrameBytes)
  const maxHandlesPerMessage = limitValue(o.maxHandlesPerMessage)
  if (maxFrameBytes === null || maxHandlesPerMessage === null) throw new ProtocolError('malformed limit in the handshake')
  const heartbeatMs = limitValue(o.heartbeatMs)
  if (heartbeatMs === null) throw new ProtocolError('malformed heartbeat in the handshake')
  return { maxFrameBytes, maxHandlesPerMessage, heartbeatMs }
}

/** RELEASE `[id, count, lostReason?]` and FINISH `[id, lostReason?]`: `n` ids, then an optional reason. */
export function readIdsAndReason(frame: Uint8Array, n: number, what: string): { ids: number[]; reason: string | undefined } {
  const body = decodePlain(frame.subarray(1))
  if (!Array.isArray(body) || (body.length !== n && body.length !== n + 1) || !body.slice(0, n).every(isId)) {
    throw new ProtocolError(`malformed ${what} frame`)
  }
  // nil and undefined say "no reason", as an absent element does.
  const reason = body[n] ?? undefined
  if (reason !== undefined && typeof reason !== 'string') throw new ProtocolError(`malformed ${what} frame`)
  return { ids: body.slice(0, n) as number[], reason }
}

/** DISEMBARGO `[kind, id, token]`. */
export function readInts(frame: Uint8Array, n: number, what: string): number[] {
  const body = decodePlain(frame.subarray(1))
  if (!Array.isArray(body) || body.length !== n || !body.every(isId)) throw new ProtocolError(`malformed ${what} frame`)
  return body as number[]
}

/** DROPPED `[targetKind, id, reason]`. */
export function readDropped(frame: Uint8Array): { kind: number; id: number; reason: string | null } {
  const body = decodePlain(frame.subarray(1)) as unknown[]
  if (!Array.isArray(body) || body.length !== 3 || (body[0] !== TARGET_EXPORT && body[0] !== TARGET_INBOUND) || !isId(body[1])) {
    throw new ProtocolError('malformed DROPPED frame')
  }
  return { kind: body[0], id: body[1], reason: typeof body[2] === 'string' ? body[2] : null }
}

/** GOODBYE `[reason]` (orderly) or `[reason, failure]` (failed): `failure` is null for an orderly close. */
export function readGoodbye(frame: Uint8Array): { reason: string | null; failure: string | null } {
  const body = decodePlain(frame.subarray(1)) as unknown[]
  const reason = Array.isArray(body) && typeof body[0] === 'string' ? body[0] : null
  const failed = Array.isArray(body) && body[1] !== undefined && body[1] !== null
  return { reason, failure: failed ? (reason ?? 'failed') : null }
}

export function isId(x: unknown): x is number {
  return typeof x === 'number' && Number.isInteger(x) && x >= 0 && x <= 0xffffffff
}

/** A limit from the peer's handshake: undefined if absent, null if malformed. Any integer encoding, or a whole float; over 2³²−1 counts as 2³²−1. */
function limitValue(x: unknown): number | undefined | null {
  if (x === undefined) return undefined
  if (typeof x === 'bigint') return x > 0n ? (x > 0xffffffffn ? 0xffffffff : Number(x)) : null
  if (typeof x === 'number' && Number.isInteger(x) && x > 0) return Math.min(x, 0xffffffff)
  return null
}
