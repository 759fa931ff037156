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
import type net from 'node:net'

/** The libuv handle of a net.Socket: its fd, and the bytes of a write it has not finished. */
interface SocketHandle {
  fd?: number
  writeQueueSize?: number
}

/** A short sleep while a peer drains what we write at exit (a busy loop would steal its CPU). */
const nap = new Int32Array(new SharedArrayBuffer(4))

export class SocketWriter {
  /** Bytes not yet given to the kernel nor to the socket, in order. */
  private queue: Uint8Array[] = []
  private queuedBytes = 0
  /** The one piece handed to the socket (written by libuv as the kernel takes it). */
  private inFlight: Uint8Array | null = null
  /** The fd is unusable (EPIPE, reset): what is written from now on is dropped. */
  private broken = false
  private drainWaiters: (() => void)[] = []

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
    if (this.inFlight || this.queue.length) {
      for (const c of chunks) this.enqueue(c)
      return
    }
    const written = this.writeNow(chunks)
    if (written < 0) return
    this.enqueueAfter(chunks, written)
    if (this.queue.length) this.handOver()
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
    const rest = left > 0 ? [this.inFlight!.subarray(this.inFlight!.length - left), ...this.queue] : this.queue
    this.inFlight = null
    this.queue = []
    this.queuedBytes = 0
    let parts = rest.filter((p) => p.length > 0)
    while (parts.length) {
      const n = this.writeNow(parts)
      if (n < 0) return false
      parts = skip(parts, n)
      if (parts.length === 0) break
      if (Date.now() > deadline) return false
      Atomics.wait(nap, 0, 0, 1)
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
    this.queue = []
    this.queuedBytes = 0
    this.drained()
    return -1
  }

  /** The kernel is full: give the first waiting piece to the socket, which writes it as room comes. */
  private handOver(): void {
    const piece = this.queue.shift()!
    this.queuedBytes -= piece.length
    this.inFlight = piece
    this.socket.write(piece, (err) => {
      this.inFlight = null
      if (err) return void this.break()
      if (this.broken) return
      if (this.queue.length === 0) return this.drained()
      // Room again: as much as the kernel takes now, directly; the rest waits for the next piece.
      const parts = this.queue
      this.queue = []
      this.queuedBytes = 0
      const written = this.writeNow(parts)
      if (written < 0) return
      this.enqueueAfter(parts, written)
      if (this.queue.length) this.handOver()
      else this.drained()
    })
  }

  /** Queue what `chunks` holds past its first `written` bytes. */
  private enqueueAfter(chunks: readonly Uint8Array[], written: number): void {
    for (const c of skip(chunks, written)) this.enqueue(c)
  }

  private enqueue(c: Uint8Array): void {
    if (c.length === 0) return
    this.queue.push(c)
    this.queuedBytes += c.length
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

function handleOf(socket: net.Socket): SocketHandle | null {
  const h = (socket as unknown as { _handle?: SocketHandle | null })._handle
  return h ?? null
}

function isTls(socket: net.Socket): boolean {
  return (socket as unknown as { encrypted?: boolean }).encrypted === true
}
