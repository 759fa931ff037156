/**
 * The packets of a link over NATS (docs/PROTOCOL.md Appendix C): each NATS message on a link's
 * subject is one packet, a kind byte and fixed fields, then (DATA only) a piece of the link's byte
 * stream. Sequence numbers are u64 big-endian; this implementation counts up to 2^53 - 1.
 */
export const DATA = 0x01
export const ACK = 0x02
export const RESEND = 0x03
export const POLL = 0x04
export const FIN = 0x05
export const RST = 0x06

/** kind, seq, ack: the header of DATA and FIN. */
export const DATA_HEADER = 17
/** kind and one u64: ACK, RESEND, POLL. */
export const SHORT_PACKET = 9

const TWO_32 = 2 ** 32
/** Above this, a u64 is no safe JS integer: refused as malformed. */
const MAX_HIGH = 2 ** 21

export function writeU64(b: Uint8Array, at: number, n: number): void {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength)
  v.setUint32(at, Math.floor(n / TWO_32))
  v.setUint32(at + 4, n % TWO_32)
}

/** The u64 at `at`, or -1 if it is beyond 2^53 (no implementation reaches that). */
export function readU64(b: Uint8Array, at: number): number {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength)
  const hi = v.getUint32(at)
  if (hi >= MAX_HIGH) return -1
  return hi * TWO_32 + v.getUint32(at + 4)
}

/** A DATA (or FIN) packet with room for `size` bytes of payload after the header. */
export function dataPacket(kind: typeof DATA | typeof FIN, seq: number, ack: number, size: number): Buffer {
  const b = Buffer.allocUnsafe(DATA_HEADER + size)
  b[0] = kind
  writeU64(b, 1, seq)
  writeU64(b, 9, ack)
  return b
}

/** ACK, RESEND or POLL. */
export function shortPacket(kind: typeof ACK | typeof RESEND | typeof POLL, n: number): Buffer {
  const b = Buffer.allocUnsafe(SHORT_PACKET)
  b[0] = kind
  writeU64(b, 1, n)
  return b
}

export function rstPacket(reason: string): Buffer {
  return Buffer.concat([Buffer.from([RST]), Buffer.from(reason.slice(0, 1000), 'utf8')])
}
