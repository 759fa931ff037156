/**
 * A Wire over a Node Duplex stream: sockets, pipes, child stdio, TLS. A plain socket with a file
 * descriptor is written directly (socket-writer.ts), so what was sent before the process exits is
 * written at `exit`; any other stream is written as a stream (and the wire has no `flushSync`).
 */
import * as net from 'node:net'
import type { Duplex } from 'node:stream'
import { SocketWriter } from './socket-writer.js'
import type { Wire } from './wire.js'

export function duplexWire(stream: Duplex, options: { input?: NodeJS.ReadableStream & Duplex } = {}): Wire {
  const input = options.input ?? stream
  let started = false
  let closing = false
  // Both directions may hold the event loop (a pending read on a pipe does): ref and unref both.
  const handles = [...new Set([stream, input])].filter((h) => typeof (h as { ref?: unknown }).ref === 'function') as unknown as {
    ref(): void
    unref(): void
  }[]
  const out = streamWriter(stream)
  const writable = () => !closing && !stream.writableEnded && !stream.destroyed
  return {
    write(bytes) {
      if (writable()) out.write([bytes])
    },
    writev(chunks) {
      if (writable()) out.write(chunks)
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
      // Nothing after the end: with two streams, the input may still deliver once the output closed.
      input.on('data', (chunk: Uint8Array) => {
        if (!ended) onData(chunk)
      })
      input.on('end', () => end())
      input.on('close', () => end())
      input.on('error', (e) => end(e))
      if (input !== stream) {
        stream.on('error', (e) => end(e))
        stream.on('close', () => end())
      }
    },
    close() {
      if (closing || stream.destroyed) return
      closing = true
      out.whenDrained(() => {
        if (!stream.destroyed) stream.end(() => stream.destroy())
      })
    },
    destroy() {
      closing = true
      stream.destroy()
    },
    bufferedBytes: () => out.buffered,
    whenDrained: (f) => out.whenDrained(f),
    flushSync: out.flushSync ? (deadline) => out.flushSync!(deadline) : undefined,
    ref: handles.length ? () => handles.forEach((h) => h.ref()) : undefined,
    unref: handles.length ? () => handles.forEach((h) => h.unref()) : undefined,
  }
}

interface StreamWriter {
  write(chunks: readonly Uint8Array[]): void
  readonly buffered: number
  whenDrained(f: () => void): void
  /** Only a writer that can write synchronously (a socket's fd) has one. */
  flushSync?(deadline: number): boolean
}

/** The socket's fd directly when it has one; otherwise the stream, counting what it has not written. */
function streamWriter(stream: Duplex): StreamWriter {
  if (stream instanceof net.Socket && SocketWriter.fits(stream)) return new SocketWriter(stream)
  let pending = 0
  let waiters: (() => void)[] = []
  const done = () => {
    if (--pending > 0) return
    const ws = waiters
    waiters = []
    for (const f of ws) f()
  }
  return {
    write(chunks) {
      pending++
      if (chunks.length === 1) return void stream.write(chunks[0], done)
      stream.cork()
      for (let i = 0; i < chunks.length - 1; i++) stream.write(chunks[i])
      stream.write(chunks[chunks.length - 1], done)
      stream.uncork()
    },
    get buffered() {
      return stream.writableLength
    },
    whenDrained(f) {
      if (pending === 0 || stream.destroyed) f()
      else waiters.push(f)
    },
    // No flushSync: a stream writes when the event loop runs again, which it will not at exit.
  }
}
