/**
 * A Wire over a MessagePort (worker threads, MessageChannel). Each write posts one message holding
 * the bytes: small writes as a latin1 string (one byte per character: a string is several times
 * cheaper to post and to receive than a typed array, which costs an ArrayBuffer on each side),
 * large ones as bytes, transferred rather than copied where ipfi owns the buffer (a writer's own
 * buffer is copied, never taken from it).
 */
import type { MessagePort } from 'node:worker_threads'
import { isHandedOver, takeHandedOver } from './hand-over.js'
import type { Wire } from './wire.js'

/** Copies of at least this size are transferred rather than cloned a second time. */
const TRANSFER_FROM = 64 * 1024
/** Writes below this size travel as latin1 strings. */
const STRING_BELOW = 16 * 1024
/** The largest string read into the reused buffer (which must stay under 64 KiB: see Wire.start). */
const SCRATCH_MAX = 32 * 1024

export function messagePortWire(port: MessagePort): Wire {
  let onEndCb: ((e?: unknown) => void) | null = null
  let closed = false
  /** Where small messages (strings) are read into: under 64 KiB, so reused (see Wire.start). */
  let scratch = Buffer.allocUnsafeSlow(4096)
  /** The end, once: the peer closed, the port closed, or (`error`) something other than bytes came. */
  const finish = (error?: unknown) => {
    closed = true
    const cb = onEndCb
    onEndCb = null
    cb?.(error)
  }
  /** Post bytes the link handed over: transferred, whatever part of their buffer they cover. */
  const postOwned = (bytes: Uint8Array) => {
    if (closed || !takeHandedOver(bytes)) return
    port.postMessage(bytes, [bytes.buffer as ArrayBuffer])
  }
  /**
   * Post bytes; `ours`: this wire made them (a join), so their buffer may be transferred. Any other
   * buffer stays the writer's (a transfer would empty it under the writer's feet): it is copied.
   */
  const post = (bytes: Uint8Array, ours = false) => {
    if (closed) return
    if (bytes.byteLength >= TRANSFER_FROM && isHandedOver(bytes)) return postOwned(bytes)
    if (bytes.byteLength < STRING_BELOW) {
      port.postMessage(latin1(bytes))
      return
    }
    if (ours) {
      // A join made here owns its whole buffer: hand it over without a copy.
      port.postMessage(bytes, [bytes.buffer as ArrayBuffer])
    } else if (bytes.byteLength < TRANSFER_FROM) {
      // An exact copy, cloned: a clone of the view itself would copy the whole buffer behind it
      // (8 KiB for Node's pool).
      port.postMessage(Uint8Array.prototype.slice.call(bytes))
    } else {
      const own = Uint8Array.prototype.slice.call(bytes) as Uint8Array
      port.postMessage(own, [own.buffer as ArrayBuffer])
    }
  }
  return {
    write: (bytes) => post(bytes),
    writev(chunks) {
      // Consecutive chunks are joined into one message; a chunk whose buffer ipfi handed over (a
      // whole large frame) goes on its own, transferred: no copy at all.
      let from = 0
      for (let i = 0; i < chunks.length; i++) {
        const c = chunks[i]!
        if (c.byteLength < TRANSFER_FROM || !isHandedOver(c)) continue
        if (i > from) post(join(chunks, from, i), i - from > 1)
        postOwned(c)
        from = i + 1
      }
      if (from < chunks.length) post(join(chunks, from, chunks.length), chunks.length - from > 1)
    },
    start(onData, onEnd) {
      onEndCb = onEnd
      port.on('message', (m: unknown) => {
        if (!onEndCb) return // ended: nothing more is delivered
        if (typeof m === 'string') {
          // Into one reused buffer (a fresh one per message costs its allocation, and msgpackr a
          // DataView for each): the link copies what it keeps of small chunks (see Wire.start).
          if (m.length > SCRATCH_MAX) return onData(Buffer.from(m, 'latin1'))
          if (m.length > scratch.length) scratch = Buffer.allocUnsafeSlow(Math.min(SCRATCH_MAX, Math.max(m.length, 2 * scratch.length)))
          onData(scratch, scratch.write(m, 0, 'latin1'))
        }
        else if (m instanceof Uint8Array) onData(m, m.length, true) // cloned or transferred: this thread's alone
        else if (m === null) finish() // the other side closed
        else finish(new TypeError('a non-binary message arrived on an ipfi MessagePort'))
      })
      port.on('close', () => finish())
      port.start()
    },
    close() {
      if (closed) return
      try {
        port.postMessage(null)
      } catch {
        /* already closed */
      }
      closed = true
      port.close()
    },
    ref: () => port.ref(),
    unref: () => port.unref(),
  }
}

/** `chunks[from, to)` as one array (the chunk itself when there is one). */
function join(chunks: readonly Uint8Array[], from: number, to: number): Uint8Array {
  if (to - from === 1) return chunks[from]!
  let total = 0
  for (let i = from; i < to; i++) total += chunks[i]!.length
  const out = new Uint8Array(total)
  let off = 0
  for (let i = from; i < to; i++) {
    out.set(chunks[i]!, off)
    off += chunks[i]!.length
  }
  return out
}

function latin1(bytes: Uint8Array): string {
  const b = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  return b.toString('latin1')
}
