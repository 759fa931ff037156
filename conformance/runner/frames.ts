/**
 * The runner's own reading of ipfi bytes (docs/PROTOCOL.md §2-§4), independent of the library: a
 * buffered reader over a stream, a frame cutter, and the few frame bodies the runner looks into
 * (HELLO options, MSG caps, GOODBYE), decoded with plain MessagePack.
 */
import { Unpackr } from 'msgpackr'
import type { Readable } from 'node:stream'

const plain = new Unpackr({ useRecords: false, mapsAsObjects: true })

export const KIND = { HELLO: 1, MSG: 2, RELEASE: 3, DROPPED: 4, FINISH: 5, GOODBYE: 6, DISEMBARGO: 7, PING: 8 } as const
export const KIND_NAME: Record<number, string> = Object.fromEntries(Object.entries(KIND).map(([k, v]) => [v, k]))
export const MAGIC = Buffer.from('IPFI')

export interface Frame {
  kind: number
  body: Buffer
}

export function hex(s: string): Buffer {
  const clean = s.replace(/\s+/g, '')
  if (!/^([0-9a-f]{2})*$/i.test(clean)) throw new Error(`not hex: ${s}`)
  return Buffer.from(clean, 'hex')
}

export function frame(body: Uint8Array): Buffer {
  const out = Buffer.alloc(4 + body.length)
  out.writeUInt32BE(body.length, 0)
  out.set(body, 4)
  return out
}

/** A MSG frame to the peer's export `target` (kind 0), no caps, with `payload`. */
export function msgToExport(target: number, payload: Uint8Array): Buffer {
  const head = Buffer.alloc(10)
  head[0] = KIND.MSG
  head[1] = 0
  head.writeUInt32BE(target, 2)
  head.writeUInt32BE(0, 6)
  return frame(Buffer.concat([head, payload]))
}

export function unpackOne(bytes: Uint8Array): unknown {
  const values = plain.unpackMultiple(Buffer.from(bytes)) as unknown[]
  if (values.length !== 1) throw new Error(`expected one MessagePack value, got ${values.length}`)
  return values[0]
}

/** HELLO body -> its options (throws if it is not a valid HELLO). */
export function parseHello(body: Buffer): Record<string, unknown> {
  if (body[0] !== KIND.HELLO) throw new Error(`not a HELLO: kind ${body[0]}`)
  if (body.length < 6 || !body.subarray(1, 5).equals(MAGIC)) throw new Error('HELLO without the IPFI magic')
  if (body[5] !== 1) throw new Error(`HELLO of version ${body[5]}`)
  if (body.length === 6) return {}
  const options = unpackOne(body.subarray(6))
  if (typeof options !== 'object' || options === null || Array.isArray(options)) throw new Error('HELLO options are not a map')
  return options as Record<string, unknown>
}

export function parseMsg(body: Buffer): { targetKind: number; target: number; caps: unknown[]; payload: Buffer } {
  if (body.length < 10) throw new Error(`MSG of ${body.length} bytes`)
  const capsLen = body.readUInt32BE(6)
  if (10 + capsLen > body.length) throw new Error('MSG caps run past the frame')
  const caps = capsLen ? unpackOne(body.subarray(10, 10 + capsLen)) : []
  if (!Array.isArray(caps)) throw new Error('MSG caps are not an array')
  return { targetKind: body[1]!, target: body.readUInt32BE(2), caps, payload: body.subarray(10 + capsLen) }
}

/** GOODBYE body -> [reason, failure] (failure null for an orderly goodbye). */
export function parseGoodbye(body: Buffer): [unknown, unknown] {
  const v = unpackOne(body.subarray(1))
  if (!Array.isArray(v) || v.length < 1 || v.length > 2) throw new Error('GOODBYE is not [reason] or [reason, failure]')
  return [v[0], v[1] ?? null]
}

export function describeFrame(f: Frame): string {
  const name = KIND_NAME[f.kind] ?? `kind ${f.kind}`
  try {
    if (f.kind === KIND.GOODBYE) return `GOODBYE ${JSON.stringify(parseGoodbye(f.body))}`
    if (f.kind === KIND.MSG) {
      const m = parseMsg(f.body)
      return `MSG to ${m.targetKind === 0 ? 'export' : 'inbound'} ${m.target}, caps ${JSON.stringify(m.caps)}, payload ${m.payload.subarray(0, 24).toString('hex')}${m.payload.length > 24 ? '...' : ''}`
    }
  } catch {
    // fall through to the raw view
  }
  return `${name} (${f.body.length} bytes)`
}

/** Cuts frames out of bytes pushed in any chunking. */
export class FrameCutter {
  #buf = Buffer.alloc(0)
  push(chunk: Uint8Array): Frame[] {
    this.#buf = this.#buf.length ? Buffer.concat([this.#buf, chunk]) : Buffer.from(chunk)
    const out: Frame[] = []
    while (this.#buf.length >= 4) {
      const len = this.#buf.readUInt32BE(0)
      if (this.#buf.length < 4 + len) break
      const body = Buffer.from(this.#buf.subarray(4, 4 + len))
      this.#buf = this.#buf.subarray(4 + len)
      out.push({ kind: body[0] ?? -1, body })
    }
    return out
  }
  /** Bytes of an unfinished frame. */
  get pending(): number {
    return this.#buf.length
  }
  /** The length the unfinished frame's header announces, if its header is in. */
  get pendingLength(): number | null {
    return this.#buf.length >= 4 ? this.#buf.readUInt32BE(0) : null
  }
}

/** A buffered reader: exact byte counts (the admission exchange), then whole frames. */
export class ByteReader {
  #buf = Buffer.alloc(0)
  #ended = false
  #waiters: (() => void)[] = []
  /** Every byte read, for diagnostics. */
  total = 0

  constructor(stream: Readable) {
    stream.on('data', (chunk: Buffer) => {
      this.total += chunk.length
      this.#buf = this.#buf.length ? Buffer.concat([this.#buf, chunk]) : Buffer.from(chunk)
      this.#wake()
    })
    const end = () => {
      this.#ended = true
      this.#wake()
    }
    stream.on('end', end)
    stream.on('close', end)
    stream.on('error', end)
  }

  #wake() {
    const ws = this.#waiters
    this.#waiters = []
    for (const w of ws) w()
  }

  get ended(): boolean {
    return this.#ended && this.#buf.length === 0
  }

  async #until(cond: () => boolean): Promise<void> {
    while (!cond() && !this.#ended) await new Promise<void>((r) => this.#waiters.push(r))
  }

  /** Exactly `n` bytes, or null if the stream ended first. */
  async read(n: number): Promise<Buffer | null> {
    await this.#until(() => this.#buf.length >= n)
    if (this.#buf.length < n) return null
    const out = this.#buf.subarray(0, n)
    this.#buf = this.#buf.subarray(n)
    return Buffer.from(out)
  }

  /** The next whole frame, or null at the end of the stream (a partial frame left is dropped). */
  async frame(): Promise<Frame | null> {
    const head = await this.read(4)
    if (!head) return null
    const body = await this.read(head.readUInt32BE(0))
    if (!body) return null
    return { kind: body[0] ?? -1, body }
  }

  /** Resolves once the stream has ended. */
  async end(): Promise<void> {
    await this.#until(() => false)
  }
}
