/**
 * A Wire over a MessagePort (worker threads, MessageChannel). Each write posts one message holding
 * the bytes; a write whose buffer ipfi owns outright is transferred rather than copied.
 */
import type { MessagePort } from 'node:worker_threads'
import type { Wire } from './wire.js'

/** Copies of at least this size are transferred rather than cloned a second time. */
const TRANSFER_FROM = 64 * 1024

export function messagePortWire(port: MessagePort): Wire {
  let onEndCb: ((e?: unknown) => void) | null = null
  let closed = false
  const finish = () => {
    closed = true
    const cb = onEndCb
    onEndCb = null
    cb?.()
  }
  const post = (bytes: Uint8Array) => {
    if (closed) return
    const buf = bytes.buffer
    if (bytes.byteOffset === 0 && bytes.byteLength === buf.byteLength && !(buf instanceof SharedArrayBuffer)) {
      // The view owns its whole buffer: hand it over without a copy.
      port.postMessage(bytes, [buf as ArrayBuffer])
    } else if (bytes.byteLength < TRANSFER_FROM) {
      // A slice of a pooled or larger buffer: structured clone would copy the whole buffer behind it
      // (8 KiB for Node's pool). Post an exact copy instead.
      port.postMessage(Uint8Array.prototype.slice.call(bytes))
    } else {
      const own = Uint8Array.prototype.slice.call(bytes) as Uint8Array
      port.postMessage(own, [own.buffer as ArrayBuffer])
    }
  }
  return {
    write: post,
    writev(chunks) {
      let total = 0
      for (const c of chunks) total += c.length
      const out = new Uint8Array(total)
      let off = 0
      for (const c of chunks) {
        out.set(c, off)
        off += c.length
      }
      post(out)
    },
    start(onData, onEnd) {
      onEndCb = onEnd
      port.on('message', (m: unknown) => {
        if (m instanceof Uint8Array) onData(m)
        else if (m === null) finish() // the other side closed
        else onEnd(new TypeError('a non-binary message arrived on an ipfi MessagePort'))
      })
      port.on('close', finish)
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
