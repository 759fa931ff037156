/**
 * The Wire contract (src/wire/wire.ts), one suite run over every wire ipfi ships, as servo's
 * ipc-channel runs one platform suite over every backend. Each backend is a factory of two
 * connected ends; the cases below are written once against the Wire interface. An optional member
 * is tested where the backend has it, and each backend states which it has (the first case checks
 * that list, so a member that disappears fails a test).
 *
 * Every case also checks, after it ran, what each end delivered (see Sink.expectWithinContract):
 * every `end` given to onData lies in [0, chunk.length], onEnd fires at most once, no onData comes
 * after it, and chunks in buffers of 64 KiB or more were not written again once onData returned.
 *
 * A new wire: add its factory to `backends`.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { createCipheriv, createHash } from 'node:crypto'
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import type net from 'node:net'
import type { Duplex } from 'node:stream'
import tls from 'node:tls'
import { MessageChannel } from 'node:worker_threads'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { duplexWire, memoryWirePair, messagePortWire, type Wire } from 'ipfi'
import { dialNats, listenNats } from '../src/nats/index.js'
import { deferred, sleep, turn, within } from './support/async.js'
import { startNatsServer } from './support/nats-server.js'
import { listenOnce, socketPair, type SocketKind } from './support/sockets.js'

const KiB = 1024
const MiB = 1024 * KiB
/** Hang guards: for what takes a moment, and for what moves megabytes (on a loaded machine). */
const SHORT = 10_000
const LONG = 45_000

// ---------------------------------------------------------------- the backends

/** The optional members of a Wire, in the order a backend lists them. */
const OPTIONAL = ['writev', 'destroy', 'bufferedBytes', 'whenDrained', 'flushSync', 'ref', 'unref'] as const
type Optional = (typeof OPTIONAL)[number]

interface Backend {
  name: string
  /** The optional members both of its ends have. */
  optional: readonly Optional[]
  /** The size of the large cases: one write of this many bytes, and this many in all for the random one. */
  bulk: number
  /** Two connected ends. */
  pair(): Promise<[Wire, Wire]>
  /**
   * One end whose peer reads in another process (fixtures/read-and-answer.mjs: it reads `n` bytes
   * and answers, over IPC, with their sha256): for flushSync, which blocks this process's event loop.
   */
  remote?(n: number): Promise<Remote>
}

interface Remote {
  wire: Wire
  /** What the reader answers once it read its `n` bytes. */
  answer: Promise<unknown>
}

const cleanups: (() => unknown)[] = []
const onCleanup = (f: () => unknown) => void cleanups.push(f)

const READER = new URL('./fixtures/read-and-answer.mjs', import.meta.url).pathname

type Stdio = 'pipe' | 'inherit' | 'ignore' | 'ipc'

/** A child process killed (and awaited) after the test. */
function child(args: string[], stdio: Stdio[]): ChildProcess {
  const c = spawn(process.execPath, args, { stdio })
  // 'close': the child exited and its pipes are closed (none of them outlives the test).
  const closed = once(c, 'close')
  onCleanup(async () => {
    c.kill('SIGKILL')
    await within(closed, SHORT, 'a child to end in cleanup')
  })
  return c
}

/** The reader (fixtures/read-and-answer.mjs) with `args`, once it is ready; and its answer. */
async function reader(args: string[], stdio: Stdio[]): Promise<{ reader: ChildProcess; answer: Promise<unknown> }> {
  const c = child([READER, ...args], [...stdio, 'ipc'])
  const ready = deferred()
  const answer = deferred<unknown>()
  c.on('message', (m: { ready?: true }) => (m.ready ? ready.resolve() : answer.resolve(m)))
  await within(ready.promise, SHORT, 'the reader to be ready')
  return { reader: c, answer: answer.promise }
}

/** A duplex wire over a child's stdin and stdout, as spawn() makes it. */
function stdioWire(c: ChildProcess): Wire {
  return duplexWire(c.stdin as unknown as Duplex, { input: c.stdout as unknown as NodeJS.ReadableStream & Duplex })
}

const DUPLEX: readonly Optional[] = OPTIONAL

function overSockets(kind: SocketKind): Backend {
  return {
    name: `duplex over ${kind === 'unix' ? 'a Unix socket' : 'loopback TCP'}`,
    optional: DUPLEX,
    bulk: 8 * MiB,
    async pair() {
      const [x, y] = await socketPair(kind)
      onCleanup(() => [x, y].forEach((s) => s.destroy()))
      return [duplexWire(x), duplexWire(y)]
    },
    async remote(n) {
      const { address, accepted } = await listenOnce(kind)
      const { answer } = await reader([kind, String(address), String(n)], ['ignore', 'inherit', 'inherit'])
      const s = await within(accepted, SHORT, 'the reader to connect')
      onCleanup(() => s.destroy())
      return { wire: duplexWire(s), answer }
    },
  }
}

/**
 * A child that pumps bytes, unchanged, from its stdin to its fd 3 and from its fd 3 to its stdout,
 * passing each end on. libuv makes every 'pipe' stdio a Unix socketpair.
 */
const RELAY = `
const net = require('node:net')
const s = new net.Socket({ fd: 3, readable: true, writable: true })
for (const x of [s, process.stdin, process.stdout]) x.on('error', () => {})
process.stdin.pipe(s)
s.pipe(process.stdout)
s.on('close', () => process.stdout.end())
process.stdin.on('close', () => s.end())
`

const overChildPipes: Backend = {
  name: "duplex over a child's stdin+stdout (as spawn() makes it) ↔ over its fd 3 (as fork() makes it), through a relay child",
  optional: DUPLEX,
  bulk: 8 * MiB,
  async pair() {
    const relay = child(['-e', RELAY], ['pipe', 'pipe', 'inherit', 'pipe'])
    return [stdioWire(relay), duplexWire(relay.stdio[3] as net.Socket)]
  },
  async remote(n) {
    const r = await reader(['stdio', '-', String(n)], ['pipe', 'pipe', 'inherit'])
    return { wire: stdioWire(r.reader), answer: r.answer }
  },
}

const tlsFile = (f: string) => readFileSync(new URL(`./fixtures/tls/${f}`, import.meta.url))

const overTls: Backend = {
  name: 'duplex over TLS (loopback, test/fixtures/tls)',
  // A TLS socket is written as a stream, which writes only when the event loop runs: no flushSync.
  optional: DUPLEX.filter((m) => m !== 'flushSync'),
  bulk: 8 * MiB,
  async pair() {
    const server = tls.createServer({ key: tlsFile('server.key'), cert: tlsFile('server.crt') })
    const accepted = new Promise<tls.TLSSocket>((resolve) =>
      server.once('secureConnection', (s) => {
        server.unref().close() // (it closes on the next turn: till then it must not count as held)
        resolve(s)
      }),
    )
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const port = (server.address() as net.AddressInfo).port
    const client = tls.connect({ port, host: '127.0.0.1', ca: tlsFile('ca.crt'), servername: 'localhost' })
    onCleanup(() => client.destroy())
    await within(once(client, 'secureConnect'), SHORT, 'the TLS handshake')
    const other = await within(accepted, SHORT, 'the TLS server to accept')
    onCleanup(() => other.destroy())
    return [duplexWire(client), duplexWire(other)]
  },
}

const overMessagePort: Backend = {
  name: 'MessagePort (a MessageChannel)',
  optional: ['writev', 'ref', 'unref'],
  bulk: 8 * MiB,
  async pair() {
    const { port1, port2 } = new MessageChannel()
    onCleanup(() => [port1, port2].forEach((p) => p.close()))
    return [messagePortWire(port1), messagePortWire(port2)]
  },
}

function inMemory(name: string, options: Parameters<typeof memoryWirePair>[0], bulk = 8 * MiB): Backend {
  return {
    name,
    optional: ['ref', 'unref'],
    bulk,
    async pair() {
      const [a, b] = memoryWirePair(options)
      onCleanup(() => [a, b].forEach((w) => w.unref?.()))
      return [a, b]
    },
  }
}

/** One nats-server (loopback, a free port) for every NATS case of this file, started when the first needs it. */
let natsServer: ReturnType<typeof startNatsServer> | null = null
afterAll(async () => {
  if (natsServer) await (await natsServer).close()
})
let natsPairs = 0

const overNats: Backend = {
  name: 'NATS: a NatsWire pair through a real nats-server (a listener and a client, as listen() and connect() make them)',
  optional: ['writev', 'destroy', 'bufferedBytes', 'whenDrained', 'ref', 'unref'],
  bulk: 8 * MiB,
  async pair() {
    natsServer ??= startNatsServer()
    const { hostPort } = await natsServer
    const address = { servers: [hostPort], name: `contract.p${process.pid}.n${natsPairs++}` }
    const accepted = deferred<Wire>()
    const listener = await listenNats(address, {}, (w) => accepted.resolve(w))
    onCleanup(() => listener.close())
    const client = await dialNats(address, { timeout: SHORT })
    const server = await within(accepted.promise, SHORT, 'the listener to accept')
    await listener.close()
    onCleanup(() => [client, server].forEach((w) => w.destroy?.()))
    return [client, server]
  },
}

const backends: Backend[] = [
  overSockets('unix'),
  overSockets('tcp'),
  overChildPipes,
  overTls,
  overMessagePort,
  inMemory('memory', {}),
  // One object per byte delivered: 8 MiB would be eight million of them. What this wire tests is
  // the split, which half a megabyte exercises as well.
  inMemory('memory, one byte at a time', { chunk: 1 }, MiB / 2),
  inMemory('memory, 7-byte pieces through one reused buffer (onData gets an end)', { chunk: 7, reuse: true }, 2 * MiB),
  overNats,
]

// ---------------------------------------------------------------- what an end receives

/** Views of large chunks kept, unread, to check at the end that the wire did not write over them. */
const KEPT_VIEWS = 64
const REUSABLE_BELOW = 64 * KiB

/** What one end delivered: the bytes (`chunk[0, end)` of each chunk, copied at once), and how it ended. */
class Sink {
  private buf = Buffer.allocUnsafe(64 * KiB)
  length = 0
  /** The argument of each onEnd call. */
  readonly ends: unknown[] = []
  private dataAfterEnd = 0
  private readonly badEnds: unknown[] = []
  private readonly kept: { view: Uint8Array; at: number }[] = []
  private waiters: (() => void)[] = []

  readonly onData = (chunk: Uint8Array, end?: number): void => {
    if (this.ends.length) this.dataAfterEnd++
    if (end !== undefined && !(Number.isInteger(end) && end >= 0 && end <= chunk.length)) this.badEnds.push(end)
    const view = chunk.subarray(0, end ?? chunk.length)
    if (chunk.buffer.byteLength >= REUSABLE_BELOW && this.kept.length < KEPT_VIEWS) this.kept.push({ view, at: this.length })
    if (this.length + view.length > this.buf.length) {
      const bigger = Buffer.allocUnsafe(Math.max(2 * this.buf.length, this.length + view.length))
      this.buf.copy(bigger, 0, 0, this.length)
      this.buf = bigger
    }
    this.buf.set(view, this.length)
    this.length += view.length
    this.wake()
  }

  readonly onEnd = (error?: unknown): void => {
    this.ends.push(error)
    this.wake()
  }

  /** What arrived so far. */
  bytes(): Buffer {
    return this.buf.subarray(0, this.length)
  }

  /** Resolves once `n` bytes arrived; fails if the wire ends first or nothing comes for `ms`. */
  has(n: number, ms: number, what: string): Promise<void> {
    return this.until(() => this.length >= n, ms, `${what} (${n} bytes)`, () => this.ends.length > 0 && this.length < n)
  }

  /** Resolves once onEnd was called. */
  ended(ms: number, what: string): Promise<void> {
    return this.until(() => this.ends.length > 0, ms, what)
  }

  expectWithinContract(): void {
    expect(this.badEnds, 'onData end arguments outside [0, chunk.length]').toEqual([])
    expect(this.ends.length, 'onEnd calls').toBeLessThanOrEqual(1)
    expect(this.dataAfterEnd, 'onData calls after onEnd').toBe(0)
    for (const { view, at } of this.kept) {
      expect(Buffer.from(view.buffer, view.byteOffset, view.length).equals(this.bytes().subarray(at, at + view.length)), 'a large chunk written over after onData').toBe(true)
    }
  }

  private until(ok: () => boolean, ms: number, what: string, failed = () => false): Promise<void> {
    const p = new Promise<void>((resolve, reject) => {
      const check = () => {
        if (ok()) return resolve()
        if (failed()) return reject(new Error(`the wire ended (${String(this.ends[0])}) after ${this.length} bytes, before ${what}`))
        this.waiters.push(check)
      }
      check()
    })
    return within(p, ms, what)
  }

  private wake(): void {
    const ws = this.waiters
    this.waiters = []
    for (const w of ws) w()
  }
}

const sinks: Sink[] = []

/** Start `w` (once: the caller's side of the contract) into a new Sink. */
function started(w: Wire): Sink {
  const s = new Sink()
  sinks.push(s)
  w.start(s.onData, s.onEnd)
  return s
}

afterEach(async () => {
  const toCheck = sinks.splice(0)
  try {
    for (const s of toCheck) s.expectWithinContract()
  } finally {
    for (const c of cleanups.splice(0).reverse()) await c()
  }
})

// ---------------------------------------------------------------- bytes to send

/** `n` bytes of a seeded stream (AES-CTR over zeros): the same seed gives the same bytes. */
function seeded(seed: number, n: number): Buffer {
  const key = Buffer.alloc(16)
  key.writeUInt32BE(seed >>> 0)
  return createCipheriv('aes-128-ctr', key, Buffer.alloc(16)).update(Buffer.alloc(n))
}

/** A seeded prng (mulberry32): a whole number in [lo, hi] each call. */
function prng(seed: number): (lo: number, hi: number) => number {
  let s = seed >>> 0
  return (lo, hi) => {
    s = (s + 0x6d2b79f5) >>> 0
    let t = Math.imul(s ^ (s >>> 15), 1 | s)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return lo + Math.floor((((t ^ (t >>> 14)) >>> 0) / 2 ** 32) * (hi - lo + 1))
  }
}

/** How one case cuts its bytes: the sizes of the chunks of each call (one chunk: `write`; more: `writev`). */
type Plan = (bulk: number, rand: (lo: number, hi: number) => number, writev: boolean) => number[][]

/** Calls of `size()` bytes until `total` bytes. */
function totalling(total: number, size: () => number): number[] {
  const out: number[] = []
  for (let left = total; left > 0; left -= out[out.length - 1]!) out.push(Math.min(left, size()))
  return out
}

/** Group `sizes` into calls of `per()` chunks each. */
function grouped(sizes: number[], per: () => number): number[][] {
  const out: number[][] = []
  for (let i = 0; i < sizes.length; ) {
    const n = per()
    out.push(sizes.slice(i, i + n))
    i += n
  }
  return out
}

/** The bytes of `plan` for one direction, cut into calls (views of one seeded buffer). */
function planned(plan: Plan, seed: number, bulk: number, writev: boolean): { data: Buffer; calls: Buffer[][] } {
  const calls = plan(bulk, prng(seed), writev)
  const data = seeded(seed, calls.flat().reduce((n, x) => n + x, 0))
  let at = 0
  return { data, calls: calls.map((sizes) => sizes.map((n) => data.subarray(at, (at += n)))) }
}

/** Make the calls on `w`, letting the event loop turn now and then (so both directions interleave). */
async function pour(w: Wire, calls: Uint8Array[][]): Promise<void> {
  for (let i = 0; i < calls.length; i++) {
    const c = calls[i]!
    if (c.length === 1) w.write(c[0]!)
    else w.writev!(c)
    if (i % 64 === 63) await turn()
  }
}

/** `got` is `want`: the same length, and the first byte that differs (-1: none). */
function expectSame(got: Buffer, want: Buffer): void {
  let diff = -1
  const n = Math.min(got.length, want.length)
  if (!got.subarray(0, n).equals(want.subarray(0, n))) for (diff = 0; got[diff] === want[diff]; diff++);
  expect({ length: got.length, firstDifference: diff }).toEqual({ length: want.length, firstDifference: -1 })
}

const mib = (n: number) => (n >= MiB ? `${n / MiB} MiB` : `${n / KiB} KiB`)

/** Counts of the resources that keep the event loop alive, by kind. */
function holding(): Map<string, number> {
  const m = new Map<string, number>()
  for (const r of process.getActiveResourcesInfo()) m.set(r, (m.get(r) ?? 0) + 1)
  return m
}

// ---------------------------------------------------------------- the cases

const chunkings: [name: (bulk: number) => string, plan: Plan, needsWritev: boolean][] = [
  [() => '10,000 writes of 1 to 16 bytes', (_, r) => Array.from({ length: 10_000 }, () => [r(1, 16)]), false],
  [() => '100 writevs of 100 chunks of 1 byte to 4 KiB', (_, r) => Array.from({ length: 100 }, () => Array.from({ length: 100 }, () => [r(1, 4 * KiB)]).flat()), true],
  [(bulk) => `one write of ${mib(bulk)}`, (bulk) => [[bulk]], false],
  [
    (bulk) => `writes (and writevs of 2 to 40 chunks, where the wire has writev) of random sizes from 1 byte to 256 KiB, ${mib(bulk)} in all`,
    (bulk, r, writev) => grouped(totalling(bulk, () => (r(0, 3) === 0 ? r(1, 256 * KiB) : r(1, 2 * KiB))), () => (writev && r(0, 1) ? r(2, 40) : 1)),
    false,
  ],
]

describe.each(backends.map((b) => [`${b.name} — optional members: ${b.optional.join(', ') || 'none'}`, b] as const))('Wire contract: %s', (_, backend) => {
  const has = (m: Optional) => backend.optional.includes(m)
  /** A case for an optional member exists only where the backend has it (case 0 checks the list). */
  const itIf = (present: boolean) => (present ? it : ((() => {}) as unknown as typeof it))

  it('both ends have exactly the optional members listed for this backend', async () => {
    const ends = await backend.pair()
    for (const w of ends) {
      expect(OPTIONAL.filter((m) => typeof (w as unknown as Record<string, unknown>)[m] === 'function')).toEqual(backend.optional)
    }
  })

  describe('bytes written on one end come out of the other in order, whatever the chunking, both directions at once', () => {
    // Without writev, the writev chunkings are what the other cases send as writes: left out.
    const plans = chunkings.filter(([, , needsWritev]) => !needsWritev || has('writev'))
    it.for(plans.map(([name, plan]) => [name(backend.bulk), plan] as const))('%s', async ([, plan]) => {
      const [a, b] = await backend.pair()
      const [sa, sb] = [started(a), started(b)]
      const ab = planned(plan, 1, backend.bulk, has('writev'))
      const ba = planned(plan, 2, backend.bulk, has('writev'))
      await Promise.all([pour(a, ab.calls), pour(b, ba.calls)])
      await Promise.all([sb.has(ab.data.length, LONG, 'a → b'), sa.has(ba.data.length, LONG, 'b → a')])
      expectSame(sb.bytes(), ab.data)
      expectSame(sa.bytes(), ba.data)
      expect([...sa.ends, ...sb.ends]).toEqual([])
    })
  })

  it("write and writev leave the writer's bytes as they were (a wire may keep a reference, not take them)", async () => {
    const [a, b] = await backend.pair()
    started(a)
    const sb = started(b)
    // Whole buffers of their own (what a wire could hand over instead of copying) and views.
    const one = seeded(3, MiB)
    const small = seeded(4, 20 * KiB)
    const chunks = [seeded(5, 100 * KiB), seeded(6, 300), seeded(7, 70 * KiB).subarray(10)]
    const copies = [one, small, ...chunks].map((x) => Buffer.from(x))
    a.write(one)
    a.write(small)
    if (has('writev')) a.writev!(chunks)
    else for (const c of chunks) a.write(c)
    const left = () => [one, small, ...chunks].map((x) => x.length)
    expect(left()).toEqual(copies.map((x) => x.length))
    await sb.has(copies.reduce((n, x) => n + x.length, 0), LONG, 'everything')
    expectSame(sb.bytes(), Buffer.concat(copies))
    ;[one, small, ...chunks].forEach((x, i) => expectSame(x, copies[i]!))
  })

  it('close() after writes: the peer gets every byte, then onEnd once without error; the closing end ends too; close() again is harmless', async () => {
    const [a, b] = await backend.pair()
    const [sa, sb] = [started(a), started(b)]
    const { data, calls } = planned((bulk, r) => [...Array.from({ length: 200 }, () => [r(1, 100)]), [bulk / 4]], 8, backend.bulk, false)
    await pour(a, calls)
    a.close()
    a.close()
    await sb.ended(LONG, 'the peer to see the end')
    expectSame(sb.bytes(), data)
    expect(sb.ends).toEqual([undefined])
    // Every wire ipfi ships ends the closing end too (the interface does not ask it of a custom one).
    await sa.ended(SHORT, 'the closing end to end')
    expect(sa.ends).toEqual([undefined])
    // The peer closes in turn, and either end again: nothing more happens.
    b.close()
    a.close()
    await sleep(20)
    expect([sa.ends, sb.ends]).toEqual([[undefined], [undefined]])
  })

  it('both ends close at once: each sees onEnd once, without error', async () => {
    const [a, b] = await backend.pair()
    const [sa, sb] = [started(a), started(b)]
    a.write(seeded(9, 1000))
    b.write(seeded(10, 1000))
    await Promise.all([sa.has(1000, SHORT, 'b → a'), sb.has(1000, SHORT, 'a → b')])
    a.close()
    b.close()
    await Promise.all([sa.ended(SHORT, 'a to end'), sb.ended(SHORT, 'b to end')])
    await sleep(20)
    expect([sa.ends, sb.ends]).toEqual([[undefined], [undefined]])
  })

  it('after an end nothing more arrives: the end that did not close may still write (it is not told yet), harmlessly', async () => {
    const [a, b] = await backend.pair()
    const [sa, sb] = [started(a), started(b)]
    a.close()
    b.write(seeded(11, 100)) // before b heard of the close
    await sb.ended(SHORT, 'b to see the end')
    b.write(seeded(12, 100)) // after: dropped
    if (has('writev')) b.writev!([seeded(13, 100), seeded(14, 100)])
    await sa.ended(SHORT, 'a to end')
    await sleep(50)
    // (The checks after each case find any onData after a's onEnd.)
    expect(sa.ends).toEqual([undefined])
  })

  it('writes made before the peer starts, and a close, arrive once it starts', async () => {
    const [a, b] = await backend.pair()
    const sa = started(a)
    const { data, calls } = planned((bulk, r) => [...Array.from({ length: 100 }, () => [r(1, 3000)]), [bulk / 8]], 15, backend.bulk, false)
    await pour(a, calls)
    a.close()
    await sleep(50)
    const sb = started(b)
    await sb.ended(LONG, 'the peer to get everything and the end')
    expectSame(sb.bytes(), data)
    expect(sb.ends).toEqual([undefined])
    await sa.ended(SHORT, 'the closing end to end')
  })

  itIf(has('destroy'))('destroy() ends both ends, each onEnd exactly once; what arrived is a prefix of what was written; destroy() and close() after it are harmless', async () => {
    const [a, b] = await backend.pair()
    const [sa, sb] = [started(a), started(b)]
    const data = seeded(16, MiB)
    a.write(data)
    a.destroy!()
    a.destroy!()
    a.close()
    await sa.ended(SHORT, 'the destroyed end to end')
    expect(sa.ends).toEqual([undefined]) // "close now": not a failure of this end
    // The peer may see an orderly end or a reset (an error): either way, once.
    await sb.ended(SHORT, 'the peer to end')
    expectSame(sb.bytes(), data.subarray(0, sb.length))
    await sleep(20)
    expect([sa.ends.length, sb.ends.length]).toEqual([1, 1])
  })

  itIf(has('bufferedBytes'))(
    'bufferedBytes counts what a peer that does not read leaves unsent (64 MiB to a peer not started); whenDrained fires once, when all is sent; with nothing buffered, at once',
    async () => {
      const [a, b] = await backend.pair()
      started(a)
      expect(a.bufferedBytes!()).toBe(0)
      let now = 0
      a.whenDrained!(() => now++)
      expect(now).toBe(1)
      const blocks = Array.from({ length: 64 }, (_, i) => seeded(100 + i, MiB))
      for (const x of blocks) a.write(x)
      // The kernel and the peer's read buffer hold a few megabytes at most.
      expect(a.bufferedBytes!()).toBeGreaterThan(32 * MiB)
      let drained = 0
      a.whenDrained!(() => drained++)
      await sleep(50)
      expect(drained).toBe(0)
      expect(a.bufferedBytes!()).toBeGreaterThan(32 * MiB)
      const sb = started(b)
      await sb.has(64 * MiB, LONG, 'the peer to read everything')
      const hash = (xs: Buffer[]) => xs.reduce((h, x) => h.update(x), createHash('sha256')).digest('hex')
      expect(hash([sb.bytes()])).toBe(hash(blocks))
      await within(new Promise<void>((r) => a.whenDrained!(r)), SHORT, 'whenDrained after everything arrived')
      expect(drained).toBe(1)
      expect(a.bufferedBytes!()).toBe(0)
    },
  )

  itIf(has('flushSync'))(
    'flushSync: with bytes buffered, flushSync(Date.now() + 5000) writes them now: bufferedBytes() is 0, and the peer (in another process) receives everything',
    async () => {
      const n = 16 * MiB
      const { wire: a, answer } = await backend.remote!(n)
      started(a)
      const data = seeded(17, n)
      a.write(data)
      expect(a.bufferedBytes!()).toBeGreaterThan(0)
      a.flushSync!(Date.now() + 5000)
      expect(a.bufferedBytes!()).toBe(0)
      // flushSync is for a process that exits: its event loop does not run again, so what the
      // socket itself still had pending is never written. Here the loop goes on: destroy the wire,
      // as exit would (else the socket would write again the piece flushSync took back from it).
      a.destroy!()
      expect(await within(answer, LONG, "the reader's answer")).toEqual({ bytes: n, sha256: createHash('sha256').update(data).digest('hex') })
    },
  )

  // Measured here, not by a child that must exit: what process.getActiveResourcesInfo() lists is
  // what keeps the event loop alive, so what decides whether a process exits.
  itIf(has('ref') && has('unref'))("ref() holds the event loop and unref() lets go: an unref'd idle wire keeps nothing alive", async () => {
    const before = holding()
    const [a, b] = await backend.pair()
    started(a)
    started(b)
    a.unref!()
    b.unref!()
    const idle = holding()
    a.ref!()
    b.ref!()
    const held = holding()
    a.unref!()
    b.unref!()
    const idleAgain = holding()
    // What ref() added: the wires' own handles (or timer), whatever their kind.
    const theirs = [...held].filter(([kind, n]) => n > (idle.get(kind) ?? 0)).map(([kind]) => kind)
    expect(theirs.length, 'kinds of resource the ref\'d wires hold').toBeGreaterThan(0)
    for (const kind of theirs) {
      expect(idle.get(kind) ?? 0, `${kind} held once unref'd`).toBeLessThanOrEqual(before.get(kind) ?? 0)
      expect(idleAgain.get(kind) ?? 0, `${kind} held once unref'd again`).toBeLessThanOrEqual(before.get(kind) ?? 0)
    }
  })
})
