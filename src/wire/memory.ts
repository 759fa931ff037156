/**
 * An in-memory pair of wires, for tests and for in-process links. `chunk` splits every write into
 * pieces of at most that many bytes (1 gives a one-byte-at-a-time wire); delivery is asynchronous.
 * `reuse` delivers every piece in one buffer that is written over for the next (as a wire may do
 * with a small buffer: see Wire.start).
 */
import type { Wire } from './wire.js'

export interface MemoryWireOptions {
  /** Split each write into chunks of at most this many bytes. */
  chunk?: number
  /** Deliver through one reused buffer (of less than 64 KiB; larger pieces come as they are). */
  reuse?: boolean
}

export function memoryWirePair(options: MemoryWireOptions = {}): [Wire, Wire] {
  const a = new MemoryEnd(options.chunk ?? Infinity, options.reuse === true)
  const b = new MemoryEnd(options.chunk ?? Infinity, options.reuse === true)
  a.peer = b
  b.peer = a
  return [a, b]
}

class MemoryEnd implements Wire {
  peer!: MemoryEnd
  private onData: ((c: Uint8Array, end?: number) => void) | null = null
  private readonly reused: Buffer | null
  private onEnd: ((e?: unknown) => void) | null = null
  private inbox: Uint8Array[] = []
  private ended = false
  private closed = false
  private scheduled = false
  private keepAlive: NodeJS.Timeout | null = null

  constructor(
    private readonly chunk: number,
    reuse: boolean,
  ) {
    this.reused = reuse ? Buffer.alloc(60 * 1024) : null
  }

  write(bytes: Uint8Array): void {
    if (this.closed) return
    const copy = Uint8Array.prototype.slice.call(bytes) as Uint8Array
    for (let off = 0; off < copy.length; off += this.chunk) this.peer.deliver(copy.subarray(off, off + this.chunk))
  }

  start(onData: (c: Uint8Array, end?: number) => void, onEnd: (e?: unknown) => void): void {
    this.onData = onData
    this.onEnd = onEnd
    this.schedule()
  }

  close(): void {
    if (this.closed) return
    this.closed = true
    this.peer.deliverEnd()
    this.deliverEnd()
  }

  ref(): void {
    this.keepAlive ??= setInterval(() => {}, 1 << 30)
  }
  unref(): void {
    if (this.keepAlive) clearInterval(this.keepAlive)
    this.keepAlive = null
  }

  private deliver(c: Uint8Array) {
    if (this.ended) return // this end closed (or heard the peer close): nothing arrives after that
    this.inbox.push(c)
    this.schedule()
  }
  private deliverEnd() {
    this.ended = true
    this.schedule()
  }
  private schedule() {
    if (this.scheduled || !this.onData) return
    this.scheduled = true
    setImmediate(() => this.drain())
  }
  private drain() {
    this.scheduled = false
    const inbox = this.inbox
    this.inbox = []
    for (const c of inbox) {
      const r = this.reused
      if (r && c.length <= r.length) {
        r.set(c)
        this.onData!(r, c.length)
        r.fill(0xc1) // what a reader kept a view of without copying is now garbage
      } else this.onData!(c)
    }
    if (this.ended && this.onEnd) {
      const end = this.onEnd
      this.onEnd = null
      this.unref()
      end()
    }
  }
}
