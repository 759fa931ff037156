/**
 * Length-prefixed framing: every frame is a 4-byte big-endian length followed by that many bytes.
 * The decoder accepts input split anywhere (down to one byte a chunk) and checks each length against
 * the limit from the header alone. A frame that spans chunks is kept as the pieces that arrived, so
 * memory follows the bytes the peer actually sent, not the length it declared: a header claiming
 * 64 MiB followed by nothing costs nothing. Once half of a large frame has arrived, a buffer of its
 * whole length is allocated (at most twice the bytes that came), the pieces are copied into it and
 * let go of, and the rest of the frame is copied there as it comes: at the end there is the frame
 * alone, not the pieces and their join (which would be two copies of it at once).
 */
import { markAlone } from '../codec/transfer-list.js'
import { LimitExceededError, ProtocolError } from '../errors.js'

export const FRAME_HEADER = 4

/** A chunk whose buffer is smaller than this may be written again by its wire (see Wire.start): copy what we keep of it. */
const REUSED_BELOW = 64 * 1024
/** Copies of such chunks go into slabs of at most this size. */
const SLAB = 64 * 1024

export class FrameDecoder {
  private header = 0
  private headerBytes = 0
  /** The frame being received: its declared length, and the pieces of it that arrived. */
  private length = 0
  private received = 0
  private parts: Buffer[] = []
  /** Once half of a large frame has arrived: the buffer it is gathered in (`received` bytes of it filled). */
  private whole: Buffer | null = null
  /** Where copies of small-buffer chunks go; `slabUsed` of it is filled. */
  private slab: Buffer | null = null
  private slabUsed = 0
  /** The largest frame accepted; may change (e.g. after a handshake). */
  maxFrame: number

  /**
   * `onFrame(bytes, start, end)`: a frame's body is `bytes[start, end)`. Frames whole in a chunk are
   * handed over in place (no copy, no view object); the caller may keep a view of them.
   * `spare(length)`: a buffer of at least `length` bytes that nobody reads any more, if there is
   * one (the link's last large frame sent, once its wire gave it back): a large frame is gathered
   * there from its first byte on, instead of in pieces and then a fresh buffer.
   */
  constructor(
    maxFrame: number,
    private readonly onFrame: (bytes: Buffer, start: number, end: number) => void,
    private readonly spare?: (length: number) => Buffer | undefined,
  ) {
    this.maxFrame = maxFrame
  }

  /**
   * Feed `input[0, end)`; calls `onFrame` for each complete frame. Throws on a bad length. `owned`:
   * nothing else refers to the input's buffer (Wire.start), so a frame that is all of it is alone there.
   */
  push(input: Uint8Array, end = input.length, owned = false): void {
    const chunk = Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength)
    let off = 0
    while (off < end) {
      if (this.length) {
        const n = Math.min(this.length - this.received, end - off)
        this.keep(chunk, off, off + n, owned)
        off += n
        if (this.received === this.length) this.complete()
        continue
      }
      if (this.headerBytes === 0 && end - off >= FRAME_HEADER) {
        const len = ((chunk[off]! << 24) >>> 0) + (chunk[off + 1]! << 16) + (chunk[off + 2]! << 8) + chunk[off + 3]!
        off += FRAME_HEADER
        this.check(len)
        if (end - off >= len) {
          const start = off
          off += len
          if (owned && start === FRAME_HEADER && off === end) markAlone(chunk.buffer)
          this.onFrame(chunk, start, off)
        } else this.begin(len)
        continue
      }
      this.header = ((this.header << 8) | chunk[off++]!) >>> 0
      if (++this.headerBytes === FRAME_HEADER) {
        const len = this.header
        this.header = 0
        this.headerBytes = 0
        this.check(len)
        this.begin(len)
      }
    }
  }

  /** A frame of `len` bytes begins (and does not end in this chunk): a large one goes straight into a spare buffer, if there is one. */
  private begin(len: number): void {
    this.length = len
    if (len > SLAB && this.spare) {
      const b = this.spare(len)
      if (b) this.whole = b.subarray(0, len)
    }
  }

  /** Bytes of a frame begun but not finished (a stream that ends here was cut mid-frame). */
  get partial(): boolean {
    return this.length !== 0 || this.headerBytes > 0
  }

  /**
   * Keep `chunk[from, to)` of the frame being received: a view, or a copy if the wire may reuse the
   * chunk; into the frame's own buffer once there is one (see gather).
   */
  private keep(chunk: Buffer, from: number, to: number, owned = false): void {
    if (this.whole) {
      chunk.copy(this.whole, this.received, from, to)
      this.received += to - from
      return
    }
    if (owned && from === 0 && this.assembleAround(chunk, to)) return
    this.received += to - from
    if (this.length > SLAB && this.received < this.length && this.received * 2 >= this.length) return this.gather(chunk, from, to)
    if (chunk.buffer.byteLength >= REUSED_BELOW) {
      this.seal()
      this.parts.push(chunk.subarray(from, to))
      return
    }
    while (from < to) {
      // A slab never reaches past the frame's end, so a frame of up to SLAB bytes is one slab.
      this.slab ??= Buffer.allocUnsafe(Math.min(SLAB, this.length - this.received + (to - from)))
      const n = chunk.copy(this.slab, this.slabUsed, from, to)
      this.slabUsed += n
      from += n
      if (this.slabUsed === this.slab.length) this.seal()
    }
  }

  /**
   * Half of a large frame has arrived (with `chunk[from, to)`, already counted): from now on it is
   * gathered into a buffer of its length. What arrived before is copied there and let go of, so the
   * chunks it pinned can be collected while the rest comes.
   */
  private gather(chunk: Buffer, from: number, to: number): void {
    this.seal()
    const whole = Buffer.allocUnsafe(this.length)
    let at = 0
    for (const p of this.parts) at += p.copy(whole, at)
    chunk.copy(whole, at, from, to)
    this.parts = []
    this.whole = whole
  }

  /**
   * Most of a large frame came as one chunk whose buffer the wire owns (a MessagePort's, transferred:
   * Wire.start), with room in that buffer for the rest of the frame around it: the frame is
   * assembled there, what came before copied in front of it and what comes after copied behind, so
   * the bulk of it is never copied. (A binary the peer transferred from a frame it received has
   * that frame's room around it, so an echo of transferred binaries copies nothing.)
   */
  private assembleAround(chunk: Buffer, to: number): boolean {
    const before = this.received
    const rest = this.length - before - to
    const room = chunk.buffer.byteLength - (chunk.byteOffset + to)
    if (to * 2 < this.length || chunk.byteOffset < before || (rest > 0 && room < rest)) return false
    this.seal()
    const whole = Buffer.from(chunk.buffer, chunk.byteOffset - before, this.length)
    let at = 0
    for (const p of this.parts) at += p.copy(whole, at)
    this.parts = []
    this.received = before + to
    this.whole = whole
    return true
  }

  /** Close the slab being filled: what it holds becomes a part. */
  private seal(): void {
    if (!this.slab) return
    this.parts.push(this.slabUsed === this.slab.length ? this.slab : this.slab.subarray(0, this.slabUsed))
    this.slab = null
    this.slabUsed = 0
  }

  /** The frame being received is complete: join its parts (once; not at all if there is one or it was gathered) and hand it over. */
  private complete(): void {
    this.seal()
    const parts = this.parts
    const frame = this.whole ?? (parts.length === 1 ? parts[0]! : Buffer.concat(parts, this.length))
    // Gathered or joined into a buffer of its own (not a view of a chunk, not Node's pool): alone there.
    if (frame === this.whole || (frame !== parts[0] && frame.buffer.byteLength === frame.length)) markAlone(frame.buffer)
    this.whole = null
    this.parts = []
    this.length = 0
    this.received = 0
    this.onFrame(frame, 0, frame.length)
  }

  private check(len: number): void {
    if (len === 0) throw new ProtocolError('empty frame')
    if (len > this.maxFrame) {
      throw new LimitExceededError(`frame of ${len} bytes is over the limit of ${this.maxFrame} bytes`)
    }
  }
}

/** Write a frame length prefix into `target` at `offset`. */
export function writeLength(target: Uint8Array, offset: number, len: number): void {
  target[offset] = len >>> 24
  target[offset + 1] = (len >>> 16) & 0xff
  target[offset + 2] = (len >>> 8) & 0xff
  target[offset + 3] = len & 0xff
}
