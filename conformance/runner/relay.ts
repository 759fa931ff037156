/**
 * The stdio wires: the runner carries each role's stdout to the other's stdin, either in the chunks
 * it reads or one byte per write with a turn of the event loop between (stdio-bytewise). On the way
 * it reads the frames (it never changes them) and records what breaks the protocol on the wire:
 * framing, HELLO first and once, and the limits each side announced, which bind its peer.
 */
import type { Readable, Writable } from 'node:stream'
import { FrameCutter, KIND, KIND_NAME, parseHello, parseMsg, type Frame } from './frames.js'

export type Pace = 'chunks' | 'bytes'

/** Write `chunk` to `to` one byte at a time (a turn of the event loop between bytes), in order with earlier calls. */
export interface Writer {
  write(chunk: Uint8Array): void
  end(): void
  /** Writes made on the stream so far. */
  readonly writes: number
}

export function byteWriter(to: Writable): Writer {
  const queue: Buffer[] = []
  let offset = 0
  let running = false
  let ending = false
  let writes = 0
  const pump = () => {
    const head = queue[0]
    if (!head) {
      running = false
      if (ending && !to.writableEnded) to.end()
      return
    }
    if (!to.destroyed && !to.writableEnded) {
      to.write(head.subarray(offset, offset + 1))
      writes++
    }
    if (++offset >= head.length) {
      queue.shift()
      offset = 0
    }
    setImmediate(pump)
  }
  return {
    write(chunk) {
      queue.push(Buffer.from(chunk))
      if (!running) {
        running = true
        setImmediate(pump)
      }
    },
    end() {
      ending = true
      if (!running && !to.writableEnded) to.end()
    },
    get writes() {
      return writes
    },
  }
}

export function writerFor(to: Writable, pace: Pace): Writer {
  to.on('error', () => {}) // EPIPE once that side is gone: the roles report what it means
  if (pace === 'bytes') return byteWriter(to)
  let writes = 0
  return {
    write: (chunk) => {
      if (!to.destroyed && !to.writableEnded) {
        to.write(chunk)
        writes++
      }
    },
    end: () => {
      if (!to.writableEnded) to.end()
    },
    get writes() {
      return writes
    },
  }
}

/** What the runner saw on the wire, both ways. */
export class WireWatch {
  readonly problems: string[] = []
  readonly hello: Record<string, Record<string, unknown> | null> = {}
  readonly counts: Record<string, Record<string, number>> = {}
  /** The capability tags each side's MSGs carried. */
  readonly capTags: Record<string, Set<number>> = {}
  /** Bytes each side wrote, and the writes the relay made of them. */
  readonly bytesFrom: Record<string, number> = {}
  readonly writesFrom: Record<string, () => number> = {}
  #cutters: Record<string, FrameCutter> = {}

  constructor(readonly sides: [string, string]) {
    for (const s of sides) {
      this.hello[s] = null
      this.counts[s] = {}
      this.capTags[s] = new Set()
      this.#cutters[s] = new FrameCutter()
    }
  }

  #peer(side: string): string {
    return side === this.sides[0] ? this.sides[1] : this.sides[0]
  }

  /** Bytes `from` wrote toward its peer. */
  bytes(from: string, chunk: Uint8Array): void {
    this.bytesFrom[from] = (this.bytesFrom[from] ?? 0) + chunk.length
    for (const f of this.#cutters[from]!.push(chunk)) this.#frame(from, f)
  }

  /** `from`'s stream ended: a frame cut short is a framing error. */
  end(from: string): void {
    const c = this.#cutters[from]!
    if (c.pending) this.problems.push(`${from} ended its stream in the middle of a frame (${c.pending} bytes of ${c.pendingLength ?? '?'} + 4)`)
  }

  #frame(from: string, f: Frame): void {
    const name = KIND_NAME[f.kind] ?? `kind ${f.kind}`
    const counts = this.counts[from]!
    counts[name] = (counts[name] ?? 0) + 1
    const to = this.#peer(from)
    if (f.body.length === 0) return void this.problems.push(`${from} sent an empty frame`)
    if (this.hello[from] === null) {
      if (f.kind !== KIND.HELLO) return void this.problems.push(`${from}'s first frame is ${name}, not HELLO`)
      try {
        this.hello[from] = parseHello(f.body)
      } catch (e) {
        this.problems.push(`${from}'s HELLO is malformed: ${(e as Error).message}`)
        this.hello[from] = {}
      }
      return
    }
    if (f.kind === KIND.HELLO) return void this.problems.push(`${from} sent a second HELLO`)
    if (!KIND_NAME[f.kind]) return void this.problems.push(`${from} sent a frame of unknown kind ${f.kind}`)
    const limits = this.hello[to]
    const maxFrame = limits?.maxFrameBytes
    if (typeof maxFrame === 'number' && f.body.length > maxFrame) {
      this.problems.push(`${from} sent a ${name} of ${f.body.length} bytes, over the ${maxFrame} bytes ${to} announced`)
    }
    if (f.kind === KIND.MSG) {
      try {
        const m = parseMsg(f.body)
        for (const c of m.caps) if (Array.isArray(c) && typeof c[0] === 'number') this.capTags[from]!.add(c[0])
        const maxHandles = limits?.maxHandlesPerMessage
        if (typeof maxHandles === 'number' && m.caps.length > maxHandles) {
          this.problems.push(`${from} sent a MSG with ${m.caps.length} handles, over the ${maxHandles} ${to} announced`)
        }
      } catch (e) {
        this.problems.push(`${from} sent a malformed MSG: ${(e as Error).message}`)
      }
    }
  }

  /** One line per direction: frames by kind, bytes, and the writes that carried them. */
  summary(): string[] {
    return this.sides.map((s) => `${s} -> ${this.#peer(s)}: ${JSON.stringify(this.counts[s])}, ${this.bytesFrom[s] ?? 0} bytes in ${this.writesFrom[s]?.() ?? 0} writes`)
  }

  /** What a scenario says must be seen on the wire from `side`: frame kinds sent, capability tags used. */
  checkSeen(side: string, want: { kinds?: string[]; capTags?: number[] } | undefined): void {
    for (const k of want?.kinds ?? []) if (!this.counts[side]![k]) this.problems.push(`${side} sent no ${k} frame (the scenario expects one)`)
    for (const t of want?.capTags ?? []) if (!this.capTags[side]!.has(t)) this.problems.push(`${side} sent no capability with tag ${t} (the scenario expects one)`)
  }

  /** The limits a side announced must be the ones its role was told to open its link with. */
  checkAnnounced(side: string, limits: Record<string, number> | undefined): void {
    const hello = this.hello[side]
    if (!hello) return void this.problems.push(`${side} sent no HELLO`)
    for (const key of ['maxFrameBytes', 'maxHandlesPerMessage']) {
      const want = limits?.[key]
      if (want !== undefined && hello[key] !== want) this.problems.push(`${side} announced ${key} ${JSON.stringify(hello[key])}, its role's limits say ${want}`)
    }
  }
}

/** Carry `from`'s output to `to`, through `watch`. Resolves once `from` ended and `to` was ended. */
export function relay(name: string, from: Readable, to: Writable, pace: Pace, watch: WireWatch): Promise<void> {
  const w = writerFor(to, pace)
  watch.writesFrom[name] = () => w.writes
  return new Promise((resolve) => {
    from.on('data', (chunk: Buffer) => {
      watch.bytes(name, chunk)
      w.write(chunk)
    })
    let done = false
    const end = () => {
      if (done) return
      done = true
      watch.end(name)
      w.end()
      resolve()
    }
    from.on('end', end)
    from.on('close', end)
    from.on('error', end)
  })
}
