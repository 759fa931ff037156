/** A Wire over a Node Duplex stream: sockets, pipes, child stdio, TLS. */
import type { Duplex } from 'node:stream'
import type { Wire } from './wire.js'

export function duplexWire(stream: Duplex, options: { input?: NodeJS.ReadableStream & Duplex } = {}): Wire {
  const input = options.input ?? stream
  let started = false
  // Both directions may hold the event loop (a pending read on a pipe does): ref and unref both.
  const handles = [...new Set([stream, input])].filter((h) => typeof (h as { ref?: unknown }).ref === 'function') as unknown as {
    ref(): void
    unref(): void
  }[]
  return {
    write(bytes) {
      if (!stream.writableEnded && !stream.destroyed) stream.write(bytes)
    },
    writev(chunks) {
      if (stream.writableEnded || stream.destroyed) return
      stream.cork()
      for (const c of chunks) stream.write(c)
      stream.uncork()
    },
    start(onData, onEnd) {
      if (started) throw new Error('wire already started')
      started = true
      let ended = false
      const end = (err?: unknown) => {
        if (ended) return
        ended = true
        onEnd(err)
      }
      input.on('data', (chunk: Uint8Array) => onData(chunk))
      input.on('end', () => end())
      input.on('close', () => end())
      input.on('error', (e) => end(e))
      if (input !== stream) {
        stream.on('error', (e) => end(e))
        stream.on('close', () => end())
      }
    },
    close() {
      if (!stream.destroyed) stream.end(() => stream.destroy())
    },
    ref: handles.length ? () => handles.forEach((h) => h.ref()) : undefined,
    unref: handles.length ? () => handles.forEach((h) => h.unref()) : undefined,
  }
}
