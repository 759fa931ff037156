/**
 * A hand-driven ipfi peer for protocol tests: it builds frames byte by byte (independently of the
 * library's own encoder) and parses what the real side sends back. Layout (docs/PROTOCOL.md,
 * src/link/frames.ts): u32 BE length + body; body[0] is the frame kind.
 */
import { Packr, Unpackr } from 'msgpackr'
import type { Wire } from 'ipfi'

export const HELLO = 0x01
export const MSG = 0x02
export const RELEASE = 0x03
export const DROPPED = 0x04
export const FINISH = 0x05
export const GOODBYE = 0x06

export const TARGET_EXPORT = 0
export const TARGET_INBOUND = 1

export const CAP_SENDER_HOSTED = 0
export const CAP_SENDER_YOUR_EXPORT = 1
export const CAP_SENDER_YOUR_INBOUND = 2
export const CAP_RECEIVER = 3

const packr = new Packr({ useRecords: false })
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true })

/** Plain MessagePack, as a peer written in another language would produce it. */
export function pack(value: unknown): Buffer {
  return packr.pack(value)
}
export function unpack(bytes: Uint8Array): unknown {
  return unpackr.unpack(bytes)
}

/** ipfi's handle tag: fixext 1 `d4 01 00` followed by the index as a MessagePack value. */
export function handleRef(index: number): Buffer {
  return Buffer.concat([Buffer.from([0xd4, 0x01, 0x00]), pack(index)])
}

/** A frame: the 4-byte big-endian length, then `body`. */
export function frame(body: Uint8Array | number[]): Buffer {
  const b = Buffer.from(body as Uint8Array)
  const out = Buffer.alloc(4 + b.length)
  out.writeUInt32BE(b.length, 0)
  b.copy(out, 4)
  return out
}

export interface HelloOptions {
  magic?: number[]
  version?: number
  options?: unknown
}

export function hello({ magic = [0x49, 0x50, 0x46, 0x49], version = 1, options = { maxFrameBytes: 64 * 1024 * 1024, maxHandlesPerMessage: 1024 } }: HelloOptions = {}): Buffer {
  return frame(Buffer.concat([Buffer.from([HELLO, ...magic, version]), pack(options)]))
}

/** A MSG frame. `caps` is the list of `[tag, id]` descriptors (null: none). */
export function msg(targetKind: number, target: number, caps: [number, number][] | null, payload: Uint8Array): Buffer {
  const capsBytes = caps ? pack(caps) : Buffer.alloc(0)
  const head = Buffer.alloc(10)
  head[0] = MSG
  head[1] = targetKind
  head.writeUInt32BE(target, 2)
  head.writeUInt32BE(capsBytes.length, 6)
  return frame(Buffer.concat([head, capsBytes, payload]))
}

/** A control frame (RELEASE, DROPPED, FINISH, GOODBYE): kind + one MessagePack value. */
export function control(kind: number, body: unknown): Buffer {
  return frame(Buffer.concat([Buffer.from([kind]), pack(body)]))
}

export interface ParsedFrame {
  kind: number
  body: Buffer
}

/** The raw side of a wire: writes what it is told, records every frame the real side sends. */
export class RawPeer {
  readonly frames: ParsedFrame[] = []
  /** Resolves once the real side closed the wire. */
  readonly ended: Promise<void>
  private buf = Buffer.alloc(0)
  private waiters: (() => void)[] = []

  constructor(private readonly wire: Wire) {
    let onEnded!: () => void
    this.ended = new Promise((r) => (onEnded = r))
    wire.start(
      (chunk) => {
        this.buf = Buffer.concat([this.buf, chunk])
        while (this.buf.length >= 4) {
          const len = this.buf.readUInt32BE(0)
          if (this.buf.length < 4 + len) break
          const body = Buffer.from(this.buf.subarray(4, 4 + len))
          this.buf = this.buf.subarray(4 + len)
          this.frames.push({ kind: body[0]!, body })
        }
        const ws = this.waiters
        this.waiters = []
        for (const w of ws) w()
      },
      () => {
        onEnded()
        const ws = this.waiters
        this.waiters = []
        for (const w of ws) w()
      },
    )
  }

  write(...parts: Uint8Array[]): void {
    this.wire.write(Buffer.concat(parts))
  }

  close(): void {
    this.wire.close()
  }

  /** Wait (bounded) until a frame matching `pred` has arrived; returns it. */
  async waitFrame(pred: (f: ParsedFrame) => boolean, timeoutMs = 5000): Promise<ParsedFrame> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const f = this.frames.find(pred)
      if (f) return f
      if (Date.now() > deadline) throw new Error(`no matching frame within ${timeoutMs} ms; got kinds ${this.frames.map((x) => x.kind).join(',')}`)
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 50)
        this.waiters.push(() => {
          clearTimeout(t)
          resolve()
        })
      })
    }
  }
}

/** The parts of a MSG frame body. */
export function parseMsg(body: Buffer): { targetKind: number; target: number; caps: unknown; payload: Buffer } {
  const capsLen = body.readUInt32BE(6)
  return {
    targetKind: body[1]!,
    target: body.readUInt32BE(2),
    caps: capsLen ? unpack(body.subarray(10, 10 + capsLen)) : null,
    payload: body.subarray(10 + capsLen),
  }
}
