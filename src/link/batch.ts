/**
 * The frames a link has queued for its wire and not yet written. Small frames are written straight
 * into a slab (one run of bytes per write, no buffer per frame and no concatenation); large parts
 * stay where they are and are written by reference between runs. A slab is never written twice:
 * the wire may keep a view of what it was given (a socket until the kernel took it), so a slab is
 * replaced, not reused, once full.
 */
import type { Wire } from '../wire/wire.js'

/** Size of a fresh slab; a frame larger than this gets a slab of its own size. */
const SLAB = 64 * 1024

export class Batch {
  /** Where frames are written: `slab[at, at + n)` after `reserve(n)` returned `at`. */
  slab: Buffer = Buffer.alloc(0)
  private end = 0
  /** Start of the run not yet handed out as a chunk. */
  private runStart = 0
  /** Finished chunks (runs and large parts) waiting for the write, in order. */
  private chunks: Uint8Array[] = []
  /** Frames queued since the last write, and their bytes. */
  frames = 0
  bytes = 0
  /** Frames and bytes handed to the wire over the batch's life (link.traffic). */
  framesWritten = 0
  bytesWritten = 0

  /** Room for an `n`-byte frame in `slab`, at the offset returned. Counts one frame. */
  reserve(n: number): number {
    if (this.end + n > this.slab.length) {
      this.endRun()
      this.slab = Buffer.allocUnsafeSlow(Math.max(SLAB, n))
      this.end = this.runStart = 0
    }
    const at = this.end
    this.end += n
    this.frames++
    this.bytes += n
    return at
  }

  /** Queue `bytes` by reference (a large payload; its frame header was reserved just before). */
  part(bytes: Uint8Array): void {
    this.endRun()
    this.chunks.push(bytes)
    this.bytes += bytes.length
  }

  /** Queue a whole frame by reference (a large message encoded with room for its header). */
  frame(bytes: Uint8Array): void {
    this.part(bytes)
    this.frames++
  }

  /** Hand everything queued to the wire, in order: one write, or one writev for several chunks. */
  writeTo(wire: Wire): void {
    this.framesWritten += this.frames
    this.bytesWritten += this.bytes
    this.frames = 0
    this.bytes = 0
    if (this.chunks.length === 0) {
      if (this.end === this.runStart) return
      const run = this.slab.subarray(this.runStart, this.end)
      this.runStart = this.end
      return wire.write(run)
    }
    this.endRun()
    const chunks = this.chunks
    this.chunks = []
    if (wire.writev) wire.writev(chunks)
    else for (const c of chunks) wire.write(c)
  }

  /** Forget what is queued (the link is failing and says only why). */
  discard(): void {
    this.runStart = this.end
    this.chunks = []
    this.frames = 0
    this.bytes = 0
  }

  private endRun(): void {
    if (this.end > this.runStart) {
      this.chunks.push(this.slab.subarray(this.runStart, this.end))
      this.runStart = this.end
    }
  }
}
