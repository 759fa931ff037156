/**
 * Admission (admission.ts) over a Wire rather than a socket: for links whose transport is not a
 * socket (NATS). The wire is started here to read the exchange; `rest` is the same wire for the
 * link, which gets first whatever arrived after the exchange, then everything else as it comes.
 */
import { AuthenticationError } from '../errors.js'
import type { Wire } from '../wire/wire.js'
import type { AdmissionIO } from './admission.js'

export function admissionOverWire(wire: Wire): { io: AdmissionIO; rest: Wire } {
  let held: Buffer[] = []
  let have = 0
  let ended = false
  let endError: unknown
  let reader: { n: number; what: string; resolve(b: Buffer): void; reject(e: unknown): void } | null = null
  let link: { onData(chunk: Uint8Array, end?: number): void; onEnd(error?: unknown): void } | null = null

  const check = () => {
    if (!reader) return
    if (have >= reader.n) {
      const all = held.length === 1 ? held[0]! : Buffer.concat(held, have)
      const r = reader
      reader = null
      held = have > r.n ? [all.subarray(r.n)] : []
      have -= r.n
      r.resolve(all.subarray(0, r.n))
    } else if (ended) {
      const r = reader
      reader = null
      const why = endError ? `failed during the handshake: ${(endError as Error).message ?? String(endError)}` : 'closed during the handshake'
      r.reject(new AuthenticationError(`the connection ${why} (waiting for ${r.what})`, endError ? { cause: endError } : undefined))
    }
  }
  wire.start(
    (chunk, end) => {
      if (link) return link.onData(chunk, end)
      const view = chunk.subarray(0, end ?? chunk.length)
      held.push(Buffer.from(view)) // a copy: the wire may reuse a small chunk
      have += view.length
      check()
    },
    (error) => {
      if (link) return link.onEnd(error)
      ended = true
      endError = error
      check()
    },
  )

  const io: AdmissionIO = {
    write: (b) => wire.write(b),
    read: (n, what) =>
      new Promise<Buffer>((resolve, reject) => {
        reader = { n, what, resolve, reject }
        check()
      }),
    end: (b) => {
      if (b) wire.write(b)
      wire.close()
    },
    destroy: () => (wire.destroy ? wire.destroy() : wire.close()),
  }

  const rest: Wire = {
    write: (b) => wire.write(b),
    start(onData, onEnd) {
      // Later: what the wire holds now is delivered before anything that comes after.
      queueMicrotask(() => {
        const early = held.length ? Buffer.concat(held, have) : null
        held = []
        have = 0
        link = { onData, onEnd }
        if (early) onData(early)
        if (ended) onEnd(endError)
      })
    },
    close: () => wire.close(),
  }
  for (const m of ['writev', 'destroy', 'bufferedBytes', 'whenDrained', 'flushSync', 'ref', 'unref'] as const) {
    const f = wire[m] as ((...args: never[]) => unknown) | undefined
    if (typeof f === 'function') (rest as unknown as Record<string, unknown>)[m] = f.bind(wire)
  }
  return { io, rest }
}
