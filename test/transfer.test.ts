/**
 * transfer(value, buffers): the listed buffers move instead of being copied, in process, over any
 * wire, to real worker threads and child processes, and through procedure calls, results and
 * streams; the bytes on the wire are the same as without it.
 */
import { createHash, randomFillSync } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import {
  channel,
  connectWire,
  expose,
  fork,
  memoryWirePair,
  remote,
  spawnWorker,
  transfer,
  DisconnectedError,
  LimitExceededError,
  UnsupportedValueError,
  type Connection,
  type Wire,
} from 'ipfi'
import { encode, decode } from '../src/codec/msgpack.js'
import { moveBuffers } from '../src/codec/transfer-list.js'
import { FrameDecoder } from '../src/wire/framing.js'
import { trackChildren } from './support/children.js'
import { expectSame } from './support/same.js'

const GUARD = 30_000
const T = { timeout: GUARD }
const track = trackChildren(GUARD)
const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url))

const cleanups: (() => unknown)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

const digest = (b: ArrayBufferView | ArrayBuffer) =>
  createHash('sha256').update(b instanceof ArrayBuffer ? new Uint8Array(b) : new Uint8Array(b.buffer, b.byteOffset, b.byteLength)).digest('hex')

function randomBuffer(n: number): Buffer {
  return randomFillSync(Buffer.allocUnsafeSlow(n))
}

/** Two links over a memory wire pair; `spy` sees every chunk the first one writes. */
async function pair(spy?: (chunks: Uint8Array[]) => void): Promise<[Connection<unknown, unknown>, Connection<unknown, unknown>]> {
  const [wa, wb] = memoryWirePair()
  const watched: Wire = spy
    ? {
        ...wa,
        start: (d, e) => wa.start(d, e),
        close: () => wa.close(),
        write: (b) => (spy([b]), wa.write(b)),
        writev: (cs) => (spy(cs), wa.writev ? wa.writev(cs) : cs.forEach((c) => wa.write(c))),
      }
    : wa
  const a = connectWire<unknown, unknown>(watched, { name: 'a' })
  const b = connectWire<unknown, unknown>(wb, { name: 'b' })
  cleanups.push(() => a.close(), () => b.close())
  await Promise.all([a.ready, b.ready])
  return [a, b]
}

describe('transfer() in process', () => {
  it('moves the buffers: the sender’s views are detached, the receiver sees the same bytes, same classes', async () => {
    const [tx, rx] = channel<any>()
    const buf = randomBuffer(1 << 20)
    const floats = new Float64Array([1.5, -2, 3.25])
    const ab = new ArrayBuffer(16)
    new Uint8Array(ab).fill(7)
    const view = new DataView(new ArrayBuffer(8))
    view.setUint32(0, 0xdeadbeef)
    const sum = digest(buf)
    const want = { floats: new Float64Array(floats), ab: ab.slice(0), view: new DataView(view.buffer.slice(0)), nested: [new Map([['k', Buffer.from(buf.subarray(0, 10))]])] }
    const msg = { buf, floats, ab, view, nested: [new Map([['k', buf.subarray(0, 10)]])] }
    tx.send(transfer(msg, [buf, floats, ab, view.buffer]))
    expect(buf.byteLength).toBe(0)
    expect(floats.length).toBe(0)
    expect(ab.byteLength).toBe(0)
    expect(view.buffer.byteLength).toBe(0)
    const got = await rx.recv(T)
    expect(Buffer.isBuffer(got.buf)).toBe(true)
    expect(digest(got.buf)).toBe(sum)
    const { buf: _, ...rest } = got
    expectSame(rest, want)
    expect(got.nested[0].get('k').buffer).toBe(got.buf.buffer) // two views of one buffer stay two views of one buffer
  })

  it('keeps handles working beside the moved buffers', async () => {
    const [tx, rx] = channel<any>()
    const [innerTx, innerRx] = channel<string>()
    const buf = randomBuffer(4096)
    const sum = digest(buf)
    tx.send(transfer({ buf, reply: innerTx }, [buf]))
    const got = await rx.recv(T)
    expect(digest(got.buf)).toBe(sum)
    got.reply.send('hi')
    expect(await innerRx.recv(T)).toBe('hi')
  })

  it('copies the pool behind small Buffers instead of detaching it, and never touches the other Buffers in it', async () => {
    const [tx, rx] = channel<any>()
    const small = Buffer.from('hello')
    const neighbour = Buffer.from('world')
    expect(small.buffer).toBe(neighbour.buffer) // both in Node's pool
    tx.send(transfer({ small }, [small]))
    expect((await rx.recv(T)).small.toString()).toBe('hello')
    expect(small.toString()).toBe('hello')
    expect(neighbour.toString()).toBe('world')
  })

  it('detaches a listed buffer that the value does not hold, as postMessage does', () => {
    const [tx] = channel<any>()
    const other = new ArrayBuffer(64)
    tx.send(transfer({ n: 1 }, [other]))
    expect(other.byteLength).toBe(0)
  })

  it('a send that throws moves nothing and keeps the mark, so a second send transfers', async () => {
    const [tx, rx] = channel<any>()
    const buf = randomBuffer(1024)
    const msg = transfer({ buf, f: () => 1 } as any, [buf])
    expect(() => tx.send(msg)).toThrow(UnsupportedValueError)
    expect(buf.byteLength).toBe(1024)
    delete msg.f
    tx.send(msg)
    expect(buf.byteLength).toBe(0)
    expect((await rx.recv(T)).buf.byteLength).toBe(1024)

    const [tx2, rx2] = channel<any>()
    rx2.close()
    const buf2 = randomBuffer(1024)
    expect(() => tx2.send(transfer({ buf2 }, [buf2]))).toThrow(DisconnectedError)
    expect(buf2.byteLength).toBe(1024)
  })

  it('refuses what cannot be moved, with a TypeError, before anything is sent', () => {
    expect(() => transfer(5 as any, [])).toThrow(TypeError)
    expect(() => transfer(null as any, [])).toThrow(TypeError)
    expect(() => transfer({}, [new SharedArrayBuffer(8) as any])).toThrow(/SharedArrayBuffer/)
    expect(() => transfer({}, [{} as any])).toThrow(TypeError)
  })
})

describe('transfer() over a wire', () => {
  it('writes the same bytes as a send without it', async () => {
    const frames = (value: () => any, mark: boolean) => async () => {
      const seen: Buffer[] = []
      const [a, b] = await pair((cs) => seen.push(Buffer.concat(cs)))
      seen.length = 0
      const v = value()
      a.sender.send(mark ? transfer(v, [v.data, v.more.floats]) : v)
      await b.receiver.recv(T)
      return Buffer.concat(seen)
    }
    const value = () => ({ n: 1, data: Buffer.alloc(200_000, 3), more: { floats: new Float32Array(1000).fill(0.5), small: Buffer.from([1, 2, 3]) }, s: 'tail' })
    expect((await frames(value, true)()).equals(await frames(value, false)())).toBe(true)
  })

  it('hands the wire the moved memory itself: no copy of the payload is made', async () => {
    const [a, b] = await pair()
    const size = 32 << 20
    const grew = (mark: boolean) => {
      const buf = Buffer.allocUnsafeSlow(size).fill(9)
      const before = process.memoryUsage().arrayBuffers
      a.sender.send(mark ? transfer({ buf }, [buf]) : { buf })
      return process.memoryUsage().arrayBuffers - before
    }
    expect(grew(true)).toBeLessThan(size / 4)
    expect(grew(false)).toBeGreaterThan(size * 0.9) // the copy the rule "a change after send() changes nothing sent" costs
    for (let i = 0; i < 2; i++) expect(((await b.receiver.recv(T)) as any).buf.equals(Buffer.alloc(size, 9))).toBe(true)
  })

  it('a message over the peer’s frame limit throws LimitExceededError and moves nothing', async () => {
    const [wa, wb] = memoryWirePair()
    const a = connectWire<unknown, unknown>(wa, { name: 'a' })
    const b = connectWire<unknown, unknown>(wb, { name: 'b', maxFrameBytes: 1 << 20 })
    cleanups.push(() => a.close(), () => b.close())
    await Promise.all([a.ready, b.ready])
    const buf = randomBuffer(2 << 20)
    const msg = transfer({ buf }, [buf])
    expect(() => a.sender.send(msg)).toThrow(LimitExceededError)
    expect(buf.byteLength).toBe(2 << 20)
    // The link is still up, and the mark still there: a smaller view of the same buffer goes.
    a.sender.send(transfer({ buf: buf.subarray(0, 1000) }, [buf]))
    expect(buf.byteLength).toBe(0)
    expect(((await b.receiver.recv(T)) as any).buf.length).toBe(1000)
  })

  it('carries handles beside the moved buffers, and refuses an unsendable value before moving anything', async () => {
    const [a, b] = await pair()
    const [replyTx, replyRx] = channel<string>()
    const buf = randomBuffer(100_000)
    const sum = digest(buf)
    const bad = transfer({ buf, f: () => 1 } as any, [buf])
    expect(() => a.sender.send(bad)).toThrow(UnsupportedValueError)
    expect(buf.byteLength).toBe(100_000)
    a.sender.send(transfer({ buf, reply: replyTx }, [buf]))
    expect(buf.byteLength).toBe(0)
    const got = (await b.receiver.recv(T)) as any
    expect(digest(got.buf)).toBe(sum)
    got.reply.send('over the moved sender')
    expect(await replyRx.recv(T)).toBe('over the moved sender')
  })

  it('places each binary right when the encoding outgrows the encoder’s buffer after it', async () => {
    // A long string after the binary makes msgpackr move to a larger buffer once the binary's
    // header is written: the encoding is made again in one large enough.
    const seen: Buffer[] = []
    const [a, b] = await pair((cs) => seen.push(Buffer.concat(cs)))
    const value = () => ({ data: Buffer.alloc(50_000, 5), long: 'y'.repeat(300_000), after: Buffer.alloc(30_000, 6) })
    const frames = async (mark: boolean) => {
      seen.length = 0
      const v = value()
      a.sender.send(mark ? transfer(v, [v.data, v.after]) : v)
      const got = (await b.receiver.recv(T)) as any
      expect([got.data.length, got.data[49_999], got.long.length, got.after.length, got.after[0]]).toEqual([50_000, 5, 300_000, 30_000, 6])
      return Buffer.concat(seen)
    }
    expect((await frames(true)).equals(await frames(false))).toBe(true)
  })

  it('carries any binary kind, and several buffers in one message, intact', async () => {
    const [a, b] = await pair()
    const big = randomBuffer(300_000)
    const ints = new Int32Array(100_000).map((_, i) => i * 3)
    const ab = randomBuffer(70_000).buffer.slice(0) as ArrayBuffer
    const want = { big: digest(big), ints: digest(ints), ab: digest(ab), again: digest(big.subarray(5, 100_005)) }
    a.sender.send(transfer({ big, ints, ab, again: big.subarray(5, 100_005) }, [big, ints, ab]))
    expect([big.byteLength, ints.byteLength, ab.byteLength]).toEqual([0, 0, 0])
    const got = (await b.receiver.recv(T)) as any
    expect([Buffer.isBuffer(got.big), got.ints instanceof Int32Array, got.ab instanceof ArrayBuffer, Buffer.isBuffer(got.again)]).toEqual([true, true, true, true])
    expect({ big: digest(got.big), ints: digest(got.ints), ab: digest(got.ab), again: digest(got.again) }).toEqual(want)
  })

  it('a message read in place from a chunk it shares is copied by a transfer, so the next frame begun in that chunk arrives intact', () => {
    // One chunk the wire owns: a whole large message (read in place: a view of the chunk), then the
    // first part of the next frame (kept as a view of the chunk until the rest comes).
    const one = encode({ data: Buffer.alloc(100_000, 1) }).payload
    const next = encode({ data: Buffer.alloc(30_000, 2) }).payload
    const bytes = Buffer.alloc(8 + one.length + next.length)
    bytes.writeUInt32BE(one.length, 0)
    one.copy(bytes, 4)
    bytes.writeUInt32BE(next.length, 4 + one.length)
    next.copy(bytes, 8 + one.length)
    const cut = 8 + one.length + 10_000
    const first = Buffer.from(bytes.subarray(0, cut))
    const got: any[] = []
    const decoder = new FrameDecoder(1 << 30, (b, start, end) => got.push(decode(b, null, start, end)))
    decoder.push(first, first.length, true)
    expect(got[0].data.buffer).toBe(first.buffer) // read in place
    const moved = moveBuffers([got[0].data.buffer])
    expect(moved.get(first.buffer)).not.toBe(first.buffer) // copied ...
    expect(first.byteLength).toBe(cut) // ... not detached
    decoder.push(Buffer.from(bytes.subarray(cut)), bytes.length - cut, true)
    expect(got[1].data.length).toBe(30_000)
    expect(got[1].data.every((x: number) => x === 2)).toBe(true)
  })

  it('a large frame is gathered in the spare buffer it is offered, from its first byte, and arrives intact', () => {
    const one = encode({ data: randomBuffer(200_000) }).payload
    const framed = Buffer.alloc(4 + one.length)
    framed.writeUInt32BE(one.length, 0)
    one.copy(framed, 4)
    const spare = Buffer.allocUnsafeSlow(one.length + 1000)
    const asked: number[] = []
    let got: { bytes: Buffer; start: number; end: number } | undefined
    const decoder = new FrameDecoder(1 << 30, (bytes, start, end) => (got = { bytes, start, end }), (n) => (asked.push(n), spare))
    for (let at = 0; at < framed.length; at += 50_000) decoder.push(Buffer.from(framed.subarray(at, at + 50_000)))
    expect(asked).toEqual([one.length])
    expect(got!.bytes.buffer).toBe(spare.buffer)
    expect(got!.bytes.subarray(got!.start, got!.end).equals(one)).toBe(true)
  })

  it('most of a frame in one chunk the wire owns, with room around it, is assembled in place: the bulk is not copied', () => {
    const one = encode({ a: 1, data: randomBuffer(200_000), z: 'tail' }).payload
    const framed = Buffer.alloc(4 + one.length)
    framed.writeUInt32BE(one.length, 0)
    one.copy(framed, 4)
    const cutA = 40 // the frame's head, as a small chunk
    const cutB = 4 + one.length - 10 // its last bytes, as another
    const deliver = (owned: boolean, slack: number) => {
      // The bulk sits in a larger buffer, with `slack` bytes free before it and after it.
      const big = new Uint8Array(new ArrayBuffer(slack + (cutB - cutA) + slack), slack, cutB - cutA)
      big.set(framed.subarray(cutA, cutB))
      let got: Buffer | undefined
      const decoder = new FrameDecoder(1 << 30, (b, start, end) => (got = b.subarray(start, end)))
      decoder.push(Buffer.from(framed.subarray(0, cutA)))
      decoder.push(big, big.length, owned)
      decoder.push(Buffer.from(framed.subarray(cutB)))
      expect(got!.equals(one)).toBe(true)
      return got!.buffer === big.buffer
    }
    expect(deliver(true, 64)).toBe(true) // in place
    expect(deliver(false, 64)).toBe(false) // not the wire's to write into: gathered elsewhere
    expect(deliver(true, 8)).toBe(false) // no room for the head in front: gathered elsewhere
  })

  it('a message that came alone in a buffer the wire owned, or was joined from pieces, moves on without a copy', () => {
    const one = encode({ data: Buffer.alloc(100_000, 1) }).payload
    const framed = Buffer.alloc(4 + one.length)
    framed.writeUInt32BE(one.length, 0)
    one.copy(framed, 4)
    for (const pieces of [[framed], [framed.subarray(0, 70_000), framed.subarray(70_000)].map((p) => Buffer.from(p))]) {
      let value: any
      const decoder = new FrameDecoder(1 << 30, (b, start, end) => (value = decode(b, null, start, end)))
      for (const p of pieces) decoder.push(p, p.length, pieces.length === 1)
      const buffer = value.data.buffer
      moveBuffers([buffer])
      expect(buffer.byteLength).toBe(0)
    }
  })
})

describe('transfer() to real threads and processes', () => {
  const kinds = [
    ['worker thread', () => track(spawnWorker<any, any>(fixture('transfer-echo.mjs')))],
    ['child process', () => track(fork<any, any>(fixture('transfer-echo.mjs')))],
  ] as const
  for (const [kind, start] of kinds) {
    it(`a ${kind} echoes large payloads transferred both ways, moving its own copy rather than copying it`, async () => {
      const c = start()
      // Sizes that do and do not fit the buffer the last one left behind (a frame is gathered in
      // the link's last large buffer sent, once written, if it fits without being twice too large).
      for (const size of [4 << 20, 3 << 20, 5 << 20, 1 << 20, 4 << 20]) {
        const buf = randomBuffer(size)
        const sum = digest(buf)
        c.sender.send(transfer({ data: buf }, [buf]))
        expect(buf.byteLength).toBe(0)
        const { echo } = await c.receiver.recv(T)
        expect(echo.data.length).toBe(size)
        expect(digest(echo.data)).toBe(sum)
        expect(await c.receiver.recv(T)).toEqual({ detached: true })
        // And back again: what arrived moves on as it is.
        c.sender.send(transfer({ data: echo.data }, [echo.data]))
        expect(echo.data.byteLength).toBe(0)
        expect(digest((await c.receiver.recv(T)).echo.data)).toBe(sum)
        expect(await c.receiver.recv(T)).toEqual({ detached: true })
      }
      c.sender.close()
    })
  }

  it('procedures: an argument, a result, result stream items and argument stream items move', async () => {
    const w = track(
      spawnWorker<any, any>(async ({ sender, ipfi }: any) => {
        const { expose, transfer } = ipfi
        sender.send(
          expose({
            same: (b: Buffer) => transfer(b, [b]),
            async *chunks(n: number) {
              for (let i = 0; i < n; i++) {
                const b = Buffer.alloc(100_000, i)
                yield transfer({ b }, [b])
              }
            },
            async total(items: AsyncIterable<{ b: Buffer }>) {
              let sum = 0
              for await (const { b } of items) sum += b.reduce((s: number, x: number) => s + x, 0)
              return sum
            },
          }),
        )
      }),
    )
    const api = remote<any>(await w.receiver.recv(T))
    const buf = randomBuffer(1 << 20)
    const sum = digest(buf)
    const back = (await api.same(transfer(buf, [buf]))) as Buffer
    expect(buf.byteLength).toBe(0)
    expect(digest(back)).toBe(sum)
    const got: number[] = []
    for await (const { b } of (await api.chunks(3)) as AsyncIterable<{ b: Buffer }>) got.push(b[0], b.length)
    expect(got).toEqual([0, 100_000, 1, 100_000, 2, 100_000])
    const sent: Buffer[] = []
    async function* items() {
      for (let i = 1; i <= 3; i++) {
        const b = Buffer.alloc(50_000, i)
        sent.push(b)
        yield transfer({ b }, [b])
      }
    }
    expect(await api.total(items())).toBe(50_000 * 6)
    expect(sent.map((b) => b.byteLength)).toEqual([0, 0, 0])
  })

  it('procedures in process: the argument moves to the procedure', async () => {
    let seen: Buffer | undefined
    const api = remote<any>(expose({ take: (b: Buffer) => ((seen = b), b.length) }))
    const buf = randomBuffer(10_000)
    const sum = digest(buf)
    expect(await api.take(transfer(buf, [buf]))).toBe(10_000)
    expect(buf.byteLength).toBe(0)
    expect(digest(seen!)).toBe(sum)
  })
})
