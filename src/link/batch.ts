/**
 * The frames a link has queued for its wire and not yet written. Small frames are written straight
 * into a slab (one run of bytes per write, no buffer per frame and no concatenation); large parts
 * stay where they are and are written by reference between runs. A slab is never written twice:
 * the wire may keep a view of what it was given (a socket until the kernel took it), so a slab is
 * replaced, not reused, once full.
 */
import { availableParallelism } from 'node:os'
import type { Wire } from '../wire/wire.js'

/** Size of a fresh slab; a frame larger than this gets a slab of its own size. */
const SLAB = 64 * 1024

/**
 * When a batch goes out before the end of the tick. Its first write of a tick is due at
 * FIRST_WRITE_AT frames, each later one at twice as many as the one before, up to LAST_WRITE_AT:
 * a burst of 100 replies goes as 32 + 64 + 4 frames, so the peer (on another CPU) starts on the
 * first 32 while we make the rest, and both sides work at once instead of in turn; a stream's long
 * burst still goes in a few large writes. With one CPU nothing can overlap and each write costs a
 * switch to the peer: a batch made then waits for SINGLE_CPU_WRITE_AT frames.
 */
const FIRST_WRITE_AT = 32
const SINGLE_CPU_WRITE_AT = 128
const LAST_WRITE_AT = 512

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
  /** The frames at which the next write of this tick is due (see FIRST_WRITE_AT). */
  private readonly firstDue = availableParallelism() > 1 ? FIRST_WRITE_AT : SINGLE_CPU_WRITE_AT
  private dueAt = this.firstDue

  /** Whether enough frames wait to write them now, before the end of the tick. */
  due(): boolean {
    return this.frames >= this.dueAt
  }

  /** A write before the end of the tick was made: the next one waits for twice as many frames. */
  wroteEarly(): void {
    if (this.dueAt < LAST_WRITE_AT) this.dueAt *= 2
  }

  /** The tick ended: its next burst starts with a small write again. */
  tickEnded(): void {
    this.dueAt = this.firstDue
  }

  /** Room for an `n`-byte frame in `slab`, at the offset returned. Counts one frame. */
  reserve(n: number): number {
    this.room(n)
    const at = this.end
    this.end += n
    this.frames++
    this.bytes += n
    return at
  }

  /** Copy `bytes` into the slab after what is there: more of the frame reserved last (not a frame of its own). */
  copy(bytes: Uint8Array): void {
    if (bytes.length === 0) return
    this.room(bytes.length)
    this.slab.set(bytes, this.end)
    this.end += bytes.length
    this.bytes += bytes.length
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

  /** Make sure `n` more bytes fit in the slab: if not, the run so far is ended and a fresh slab begun. */
  private room(n: number): void {
    if (this.end + n <= this.slab.length) return
    this.endRun()
    this.slab = Buffer.allocUnsafeSlow(Math.max(SLAB, n))
    this.end = this.runStart = 0
  }

  private endRun(): void {
    if (this.end > this.runStart) {
      this.chunks.push(this.slab.subarray(this.runStart, this.end))
      this.runStart = this.end
    }
  }
}
