/**
 * Length-prefixed framing: every frame is a 4-byte big-endian length followed by that many bytes.
 * The decoder accepts input split anywhere (down to one byte a chunk) and checks each length against
 * the limit from the header alone, before allocating.
 */
import { LimitExceededError, ProtocolError } from '../errors.js'

export const FRAME_HEADER = 4

export class FrameDecoder {
  private header = 0
  private headerBytes = 0
  private body: Buffer | null = null
  private filled = 0
  /** The largest frame accepted; may change (e.g. after a handshake). */
  maxFrame: number

  /**
   * `onFrame(bytes, start, end)`: a frame's body is `bytes[start, end)`. Frames whole in a chunk are
   * handed over in place (no copy, no view object); the caller may keep a view of them.
   */
  constructor(maxFrame: number, private readonly onFrame: (bytes: Buffer, start: number, end: number) => void) {
    this.maxFrame = maxFrame
  }

  /** Feed bytes; calls `onFrame` for each complete frame. Throws on a bad length. */
  /** Feed `input[0, end)`. */
  push(input: Uint8Array, end = input.length): void {
    const chunk = Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength)
    let off = 0
    while (off < end) {
      if (this.body) {
        const n = Math.min(this.body.length - this.filled, end - off)
        chunk.copy(this.body, this.filled, off, off + n)
        this.filled += n
        off += n
        if (this.filled === this.body.length) {
          const frame = this.body
          this.body = null
          this.onFrame(frame, 0, frame.length)
        }
        continue
      }
      if (this.headerBytes === 0 && end - off >= FRAME_HEADER) {
        const len = ((chunk[off]! << 24) >>> 0) + (chunk[off + 1]! << 16) + (chunk[off + 2]! << 8) + chunk[off + 3]!
        off += FRAME_HEADER
        this.check(len)
        if (end - off >= len) {
          const start = off
          off += len
          this.onFrame(chunk, start, off)
        } else {
          this.body = Buffer.allocUnsafe(len)
          this.filled = 0
        }
        continue
      }
      this.header = ((this.header << 8) | chunk[off++]!) >>> 0
      if (++this.headerBytes === FRAME_HEADER) {
        const len = this.header
        this.header = 0
        this.headerBytes = 0
        this.check(len)
        this.body = Buffer.allocUnsafe(len)
        this.filled = 0
      }
    }
  }

  /** Bytes of a frame begun but not finished (a stream that ends here was cut mid-frame). */
  get partial(): boolean {
    return this.body !== null || this.headerBytes > 0
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
