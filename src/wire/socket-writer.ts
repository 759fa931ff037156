/**
 * Writes to a socket's file descriptor directly: each write is one non-blocking `writev` system
 * call, and what the kernel does not take at once waits here, handed to the socket one piece at a
 * time. So this writer knows at every moment which bytes have not reached the kernel, and can write
 * them synchronously when the process exits (Node drops a socket's pending writes at `exit`).
 *
 * Only for a connected `net.Socket` (a Unix socket, a pipe, TCP) with a file descriptor; TLS and
 * other streams are written as streams (see duplex.ts).
 */
import { writeSync, writevSync } from 'node:fs'
import type * as net from 'node:net'
import { giveBack, isHandedOver } from './hand-over.js'

/** The libuv handle of a net.Socket: its fd, and the bytes of a write it has not finished. */
interface SocketHandle {
  fd?: number
  writeQueueSize?: number
}

/** A short sleep while a peer drains what we write at exit (a busy loop would steal its CPU). */
const nap = new Int32Array(new SharedArrayBuffer(4))
/** Most chunks given to one writev (Linux's IOV_MAX). */
const MAX_IOV = 1024
/** Queued chunks under this size are copied together into slabs of COALESCE bytes, so a long queue is few chunks. */
const SMALL = 16 * 1024
const COALESCE = 64 * 1024
/** Handed-over chunks from this size are given back once written (smaller ones are not reused). */
const LENT_FROM = 64 * 1024

export class SocketWriter {
  /** Bytes not yet given to the kernel nor to the socket, in order: `queue[head..]`. */
  private queue: Uint8Array[] = []
  private head = 0
  private queuedBytes = 0
  /** Where small queued chunks are copied together: the last queue entry is `tail[tailStart, tailEnd)`. */
  private tail: Buffer | null = null
  private tailStart = 0
  private tailEnd = 0
  /** The one piece handed to the socket (written by libuv as the kernel takes it). */
  private inFlight: Uint8Array | null = null
  /** The fd is unusable (EPIPE, reset): what is written from now on is dropped. */
  private broken = false
  private drainWaiters: (() => void)[] = []
  /** Handed-over chunks written since the last time everything reached the kernel: given back then. */
  private lent: Uint8Array[] = []

  constructor(private readonly socket: net.Socket) {}

  /** Whether `socket` can be written this way: connected, with a file descriptor, nothing pending. */
  static fits(socket: net.Socket): boolean {
    const h = handleOf(socket)
    return !!h && typeof h.fd === 'number' && h.fd >= 0 && !socket.connecting && socket.writableLength === 0 && !isTls(socket)
  }

  /** Bytes accepted and not yet in the kernel. */
  get buffered(): number {
    return this.queuedBytes + this.inFlightLeft()
  }

  write(chunks: readonly Uint8Array[]): void {
    if (this.broken) return
    for (const c of chunks) if (c.length >= LENT_FROM && isHandedOver(c)) this.lent.push(c)
    if (this.inFlight || this.waiting) {
      for (const c of chunks) this.enqueue(c)
      return
    }
    const written = this.writeNow(chunks)
    if (written < 0) return
    this.enqueueAfter(chunks, written)
    if (this.waiting) this.handOver()
    else this.giveBackLent()
  }

  /** Everything written is in the kernel (nothing queued, nothing with the socket): give back the handed-over chunks. */
  private giveBackLent(): void {
    if (this.lent.length === 0) return
    for (const c of this.lent) giveBack(c)
    this.lent = []
  }

  private get waiting(): boolean {
    return this.head < this.queue.length
  }

  /** Calls `f` once nothing is buffered (now, if nothing is). */
  whenDrained(f: () => void): void {
    if (this.buffered === 0 || this.broken) f()
    else this.drainWaiters.push(f)
  }

  /**
   * Write everything not yet in the kernel, now, synchronously: the process is exiting. Waits while
   * the peer drains, until `deadline` (a Date.now() value). Returns false if bytes were left.
   */
  flushSync(deadline: number): boolean {
    if (this.broken) return this.buffered === 0
    const left = this.inFlightLeft()
    if (left > 0) {
      this.queue = [this.inFlight!.subarray(this.inFlight!.length - left), ...this.queue.slice(this.head)]
      this.head = 0
      this.queuedBytes += left
      this.tail = null
    }
    this.inFlight = null
    this.lent = [] // the socket may still hold the piece it had: never given back
    while (this.waiting) {
      const n = this.writeQueued()
      if (n < 0) return false
      if (n > 0) continue
      if (Date.now() > deadline) return false
      Atomics.wait(nap, 0, 0, 1) // the kernel is full: let the peer read
    }
    return true
  }

  /** One system call. Returns the bytes the kernel took (0 when it is full), or -1 if the fd broke. */
  private writeNow(chunks: readonly Uint8Array[]): number {
    const fd = handleOf(this.socket)?.fd
    if (typeof fd !== 'number' || fd < 0) return this.break()
    try {
      return chunks.length === 1 ? writeSync(fd, chunks[0]!) : writevSync(fd, chunks as Uint8Array[])
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code
      if (code === 'EAGAIN' || code === 'EWOULDBLOCK') return 0
      if (code === 'EINTR') return 0
      return this.break()
    }
  }

  private break(): -1 {
    this.broken = true
    this.lent = [] // the socket may still hold some: never given back
    this.clearQueue()
    this.drained()
    return -1
  }

  private clearQueue(): void {
    this.queue = []
    this.head = 0
    this.queuedBytes = 0
    this.tail = null
  }

  /**
   * One writev of the first waiting chunks (at most MAX_IOV), dropping what the kernel took from the
   * queue. Returns the bytes written, or -1 if the fd broke. The cost follows what was written, not
   * the length of the queue.
   */
  private writeQueued(): number {
    const end = Math.min(this.queue.length, this.head + MAX_IOV)
    const n = this.writeNow(this.queue.slice(this.head, end))
    if (n <= 0) return n
    this.queuedBytes -= n
    let left = n
    while (left > 0 && left >= this.queue[this.head]!.length) left -= this.queue[this.head++]!.length
    if (left > 0) {
      this.queue[this.head] = this.queue[this.head]!.subarray(left)
      if (this.tail && this.head === this.queue.length - 1) this.tailStart += left // the coalescing chunk, partly written
    }
    if (this.head === this.queue.length) this.clearQueue()
    else if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head)
      this.head = 0
    }
    return n
  }

  /** The kernel is full: give the first waiting piece to the socket, which writes it as room comes. */
  private handOver(): void {
    const piece = this.queue[this.head]!
    this.queue[this.head++] = EMPTY
    this.queuedBytes -= piece.length
    if (this.head === this.queue.length) this.clearQueue()
    this.inFlight = piece
    this.socket.write(piece, (err) => {
      this.inFlight = null
      if (err) return void this.break()
      if (this.broken) return
      // Room again: as much as the kernel takes now, directly; the rest waits for the next piece.
      while (this.waiting) {
        const n = this.writeQueued()
        if (n < 0) return
        if (n === 0) return this.handOver()
      }
      this.giveBackLent()
      this.drained()
    })
  }

  /** Queue what `chunks` holds past its first `written` bytes. */
  private enqueueAfter(chunks: readonly Uint8Array[], written: number): void {
    for (const c of skip(chunks, written)) this.enqueue(c)
  }

  /** Queue `c` (small chunks are copied together, so that a long queue stays a few large chunks). */
  private enqueue(c: Uint8Array): void {
    if (c.length === 0) return
    this.queuedBytes += c.length
    if (c.length >= SMALL) {
      this.queue.push(c)
      this.tail = null
      return
    }
    const last = this.queue.length - 1
    if (this.tail && last >= this.head && this.tailEnd + c.length <= this.tail.length) {
      this.tail.set(c, this.tailEnd)
      this.tailEnd += c.length
      this.queue[last] = this.tail.subarray(this.tailStart, this.tailEnd)
      return
    }
    this.tail = Buffer.allocUnsafeSlow(COALESCE)
    this.tail.set(c, 0)
    this.tailStart = 0
    this.tailEnd = c.length
    this.queue.push(this.tail.subarray(0, this.tailEnd))
  }

  private inFlightLeft(): number {
    if (!this.inFlight) return 0
    const q = handleOf(this.socket)?.writeQueueSize
    return typeof q === 'number' ? Math.min(q, this.inFlight.length) : this.inFlight.length
  }

  private drained(): void {
    const ws = this.drainWaiters
    this.drainWaiters = []
    for (const f of ws) f()
  }
}

/** `chunks` without their first `n` bytes. */
function skip(chunks: readonly Uint8Array[], n: number): Uint8Array[] {
  let i = 0
  while (i < chunks.length && n >= chunks[i]!.length) n -= chunks[i++]!.length
  if (i === chunks.length) return []
  const out = chunks.slice(i)
  if (n > 0) out[0] = out[0]!.subarray(n)
  return out
}

const EMPTY = new Uint8Array(0)

function handleOf(socket: net.Socket): SocketHandle | null {
  const h = (socket as unknown as { _handle?: SocketHandle | null })._handle
  return h ?? null
}

function isTls(socket: net.Socket): boolean {
  return (socket as unknown as { encrypted?: boolean }).encrypted === true
}
