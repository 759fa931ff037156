/**
 * Channels over each kind of wire: a one-byte-at-a-time memory wire, a Unix socket, a
 * MessageChannel, and a custom Wire written here; many channels on one link; closing a link.
 */
import { EventEmitter } from 'node:events'
import type net from 'node:net'
import { PassThrough } from 'node:stream'
import { MessageChannel } from 'node:worker_threads'
import { afterEach, describe, expect, it } from 'vitest'
import {
  channel,
  connectWire,
  duplexWire,
  memoryWirePair,
  messagePortWire,
  ConnectionLostError,
  DisconnectedError,
  HandleError,
  ProtocolError,
  Receiver,
  Sender,
  type Connection,
  type Wire,
} from 'ipfi'
import { expectOrderly, failLink } from './support/ends.js'
import { GOODBYE, RawPeer, control, hello } from './support/raw-peer.js'
import { socketPair } from './support/sockets.js'
import { connectWire as connectWireSrc } from '../src/process/connect.js'
import { duplexWire as duplexWireSrc } from '../src/wire/duplex.js'

type Conn = Connection<unknown, unknown>

function thrownBy(f: () => unknown): unknown {
  try {
    f()
  } catch (e) {
    return e
  }
  return 'did not throw'
}

const cleanups: (() => void | Promise<void>)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

async function link(wa: Wire, wb: Wire): Promise<[Conn, Conn]> {
  const a = connectWire<unknown, unknown>(wa, { name: 'a' })
  const b = connectWire<unknown, unknown>(wb, { name: 'b' })
  cleanups.push(() => a.close())
  await Promise.all([a.ready, b.ready])
  return [a, b]
}

const T = { timeout: 10_000 }

/** A set of checks every wire must pass: order, handles both ways, a moved receiver with a queue. */
async function exercise(a: Conn, b: Conn, count: number): Promise<void> {
  // Many messages, in order, of varied sizes (some spanning many chunks).
  for (let i = 0; i < count; i++) a.sender.send({ i, pad: 'x'.repeat(i % 7 === 0 ? 3000 : i % 50) })
  for (let i = 0; i < count; i++) {
    const m = (await b.receiver.recv(T)) as { i: number; pad: string }
    expect(m.i).toBe(i)
    expect(m.pad.length).toBe(i % 7 === 0 ? 3000 : i % 50)
  }

  // Handles moving both ways: a's sender to b, b's sender to a, a's receiver to b.
  const [aTx, aRx] = channel<string>()
  const [bTx, bRx] = channel<string>()
  a.sender.send({ reply: aTx })
  const { reply } = (await b.receiver.recv(T)) as { reply: Sender<string> }
  expect(reply).toBeInstanceOf(Sender)
  b.sender.send({ reply: bTx })
  const { reply: replyToB } = (await a.receiver.recv(T)) as { reply: Sender<string> }
  expect(replyToB).toBeInstanceOf(Sender)
  reply.send('b->a')
  replyToB.send('a->b')
  expect(await aRx.recv(T)).toBe('b->a')
  expect(await bRx.recv(T)).toBe('a->b')
  // b sends a's own sender back home: it is usable there, and the channel stays open while it lives.
  b.sender.send(reply)
  const home = (await a.receiver.recv(T)) as Sender<string>
  expect(home).toBeInstanceOf(Sender)
  expect(() => reply.send('moved')).toThrow(HandleError)
  home.send('home again')
  expect(await aRx.recv(T)).toBe('home again')
  home.close()
  await expect(aRx.recv(T)).rejects.toSatisfy((e) => e instanceof DisconnectedError && !(e instanceof ConnectionLostError))
  replyToB.close()
  await expect(bRx.recv(T)).rejects.toSatisfy((e) => e instanceof DisconnectedError && !(e instanceof ConnectionLostError))

  // A receiver with queued messages moves over the link; messages sent after the move follow it.
  const [qTx, qRx] = channel<number>()
  for (let i = 0; i < 50; i++) qTx.send(i)
  expect(qRx.size).toBe(50)
  a.sender.send({ rx: qRx })
  expect(() => qRx.tryRecv()).toThrow(HandleError)
  for (let i = 50; i < 100; i++) qTx.send(i)
  const { rx } = (await b.receiver.recv(T)) as { rx: Receiver<number> }
  expect(rx).toBeInstanceOf(Receiver)
  const seen: number[] = []
  for (let i = 0; i < 100; i++) seen.push(await rx.recv(T))
  expect(seen).toEqual(Array.from({ length: 100 }, (_, i) => i))
  // And it moves back the other way, to a, with more queued.
  qTx.send(100)
  qTx.send(101)
  b.sender.send(rx)
  qTx.send(102)
  const back = (await a.receiver.recv(T)) as Receiver<number>
  expect([await back.recv(T), await back.recv(T), await back.recv(T)]).toEqual([100, 101, 102])
  qTx.close()
  await expect(back.recv(T)).rejects.toSatisfy((e) => e instanceof DisconnectedError && !(e instanceof ConnectionLostError))
}

describe('channels over a wire that writes over its buffer once a chunk was read', () => {
  it.each([undefined, 7, 5000])('the same exchange, chunks of %s bytes delivered through one reused buffer', async (chunk) => {
    const [wa, wb] = memoryWirePair({ chunk, reuse: true })
    const [a, b] = await link(wa, wb)
    await exercise(a, b, 300)
  })
})

describe('channels over a one-byte-at-a-time memory wire', () => {
  it('many messages in order, handles both ways, and a receiver moved with its queue', async () => {
    const [wa, wb] = memoryWirePair({ chunk: 1 })
    const [a, b] = await link(wa, wb)
    await exercise(a, b, 300)
  })

  it('messages sent before the handshake completes are delivered, in order', async () => {
    const [wa, wb] = memoryWirePair({ chunk: 1 })
    const a = connectWire<number, unknown>(wa)
    for (let i = 0; i < 20; i++) a.sender.send(i)
    const b = connectWire<unknown, number>(wb)
    cleanups.push(() => a.close())
    const got: number[] = []
    for (let i = 0; i < 20; i++) got.push(await b.receiver.recv(T))
    expect(got).toEqual(Array.from({ length: 20 }, (_, i) => i))
  })
})

/** A connected pair of Unix sockets (closed after the test). */
async function unixSocketPair(): Promise<[net.Socket, net.Socket]> {
  const pair = await socketPair('unix')
  cleanups.push(() => pair.forEach((s) => s.destroy()))
  return pair
}

/** Links A and B over a Unix socket pair (closed after the test); `b` is B's socket. */
async function socketLinks() {
  const [a, b] = await unixSocketPair()
  const A = connectWireSrc<unknown, unknown>(duplexWireSrc(a), { name: 'A' })
  const B = connectWireSrc<unknown, unknown>(duplexWireSrc(b), { name: 'B' })
  cleanups.push(() => {
    A.close()
    B.close()
  })
  return { A, B, b }
}

/** Sizes of the buffers of at least `size` bytes allocated (by Buffer.allocUnsafeSlow, as encode does) while `f` runs. */
function largeAllocations(size: number, f: () => void): number[] {
  const real = Buffer.allocUnsafeSlow
  const sizes: number[] = []
  Buffer.allocUnsafeSlow = (n: number) => {
    if (n >= size) sizes.push(n)
    return real(n)
  }
  try {
    f()
  } finally {
    Buffer.allocUnsafeSlow = real
  }
  return sizes
}

describe('a large message over a socket is encoded into the buffer of the last one once the kernel took all of it', () => {
  it('the second 4 MiB message allocates no buffer of its size; both arrive whole', async () => {
    const { A, B } = await socketLinks()
    const size = 4 << 20
    const big = Buffer.alloc(size, 1)
    // Control: the first one is encoded into a buffer of its own.
    expect(largeAllocations(size, () => A.sender.send({ a: 1, data: big }))).toHaveLength(1)
    const first = (await B.receiver.recv()) as { data: Buffer }
    await A.sender.drained() // every byte of it in the kernel: the wire gave its buffer back
    big.fill(2)
    expect(largeAllocations(size, () => A.sender.send({ a: 2, data: big }))).toEqual([])
    big.fill(3) // after send(): what was sent is what the value held at send()
    const second = (await B.receiver.recv()) as { a: number; data: Buffer }
    expect(first.data.equals(Buffer.alloc(size, 1))).toBe(true)
    expect(second.a).toBe(2)
    expect(second.data.equals(Buffer.alloc(size, 2))).toBe(true)
  })

  it('a buffer whose bytes are not all in the kernel yet is not written into: a fresh one is allocated', async () => {
    const { A, B, b } = await socketLinks()
    b.pause() // the peer does not read: most of the first message waits in the writer
    const size = 4 << 20
    A.sender.send({ data: Buffer.alloc(size, 1) })
    await new Promise((r) => setTimeout(r, 20))
    expect(largeAllocations(size, () => A.sender.send({ data: Buffer.alloc(size, 2) }))).toHaveLength(1)
    b.resume()
    const one = (await B.receiver.recv()) as { data: Buffer }
    const two = (await B.receiver.recv()) as { data: Buffer }
    expect(one.data.equals(Buffer.alloc(size, 1))).toBe(true)
    expect(two.data.equals(Buffer.alloc(size, 2))).toBe(true)
  })
})

describe('a socket wire whose peer does not read for a while', () => {
  it('bytes written while the kernel buffer is full wait, in order, whole; bufferedBytes counts them; whenDrained fires once all are in the kernel', async () => {
    const [a, b] = await unixSocketPair()
    const wire = duplexWire(a)
    b.pause()
    // Writes of every size, small ones far more than large: the kernel takes a few hundred KB, the rest waits.
    const sent: Buffer[] = []
    let seed = 7
    const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) >>> 0) % n)
    for (let i = 0; i < 20_000; i++) {
      const size = i % 500 === 0 ? 100_000 + rand(200_000) : 1 + rand(300)
      const chunk = Buffer.alloc(size)
      for (let k = 0; k < size; k += 97) chunk[k] = rand(256)
      sent.push(chunk)
      if (i % 3 === 0) wire.writev!([chunk])
      else wire.write(chunk)
    }
    const total = sent.reduce((n, c) => n + c.length, 0)
    expect(wire.bufferedBytes!()).toBeGreaterThan(total / 2)
    const drained = new Promise<void>((r) => wire.whenDrained!(r))
    const got: Buffer[] = []
    let n = 0
    const all = new Promise<void>((resolve) =>
      b.on('data', (d: Buffer) => {
        got.push(d)
        if ((n += d.length) === total) resolve()
      }),
    )
    b.resume()
    await all
    await drained
    expect(wire.bufferedBytes!()).toBe(0)
    expect(Buffer.compare(Buffer.concat(got), Buffer.concat(sent))).toBe(0)
  })
})

describe('channels over a real Unix socket', () => {
  it('duplexWire over net.createServer + net.connect', async () => {
    const [client, serverSide] = await unixSocketPair()
    const [a, b] = await link(duplexWire(client), duplexWire(serverSide))
    await exercise(a, b, 500)
    // A large message crosses too (many socket reads).
    const big = new Uint8Array(3 * 1024 * 1024).map((_, i) => i % 251)
    a.sender.send(big)
    const got = (await b.receiver.recv(T)) as Uint8Array
    expect(got.length).toBe(big.length)
    expect(Buffer.compare(Buffer.from(got.buffer, got.byteOffset, got.byteLength), Buffer.from(big.buffer))).toBe(0)
    // Closing one side ends the socket, and the other side's channels end as closed ones do.
    a.close()
    expectOrderly(await b.closed)
    expectOrderly(thrownBy(() => b.sender.send(1)))
  })
})

/** A MessageChannel whose ports are closed after the test. */
function messageChannel(): MessageChannel {
  const ch = new MessageChannel()
  cleanups.push(() => {
    ch.port1.close()
    ch.port2.close()
  })
  return ch
}

describe('channels over a MessageChannel', () => {
  it('messagePortWire', async () => {
    const { port1, port2 } = messageChannel()
    const [a, b] = await link(messagePortWire(port1), messagePortWire(port2))
    await exercise(a, b, 300)
    a.close()
    expectOrderly(await b.closed)
  })
})

describe('a MessagePort wire whose peer posts something other than bytes', () => {
  it('ends once, with a TypeError, and delivers nothing after', async () => {
    const { port1, port2 } = messageChannel()
    const wire = messagePortWire(port1)
    const got: string[] = []
    const ends: unknown[] = []
    wire.start(
      (chunk, end) => got.push(Buffer.from(chunk.subarray(0, end)).toString('latin1')),
      (e) => ends.push(e),
    )
    port2.postMessage('before')
    port2.postMessage({ not: 'bytes' })
    port2.postMessage('after')
    port2.close()
    await new Promise((r) => setTimeout(r, 50))
    expect(got).toEqual(['before'])
    expect(ends).toHaveLength(1)
    expect(ends[0]).toBeInstanceOf(TypeError)
  })
})

describe('large messages over a MessagePort travel without copies, and nothing of the sender is lost', () => {
  it('a large binary, large strings and mixed batches arrive intact and in order; what the sender holds stays whole', async () => {
    const { port1, port2 } = messageChannel()
    // Watch what the sending side posts.
    const posted: { bytes: number; transferred: number; wholeFrame: boolean }[] = []
    const realPost = port1.postMessage.bind(port1)
    port1.postMessage = (m: unknown, transfer?: readonly unknown[]) => {
      const t = (transfer ?? []) as ArrayBuffer[]
      const bytes = typeof m === 'string' ? m.length : m instanceof Uint8Array ? m.byteLength : 0
      // One frame exactly: its 4-byte length prefix counts the rest.
      const wholeFrame = m instanceof Uint8Array && bytes > 4 && Buffer.from(m.buffer, m.byteOffset, 4).readUInt32BE(0) === bytes - 4
      posted.push({ bytes, transferred: t.reduce((n, x) => n + x.byteLength, 0), wholeFrame })
      realPost(m, transfer as Parameters<typeof realPost>[1])
    }
    const [a, b] = await link(messagePortWire(port1), messagePortWire(port2))
    const big = Buffer.alloc(1024 * 1024).map((_, i) => (i * 7) % 251)
    // In one tick: small messages around a large one, a large string of 3-byte characters (bigger
    // encoded than its length suggests), and a large message that carries a handle.
    const [tx, rx] = channel<string>()
    a.sender.send('before')
    a.sender.send({ data: big, n: 1 })
    a.sender.send('€'.repeat(100_000))
    a.sender.send({ data: big, tx })
    a.sender.send('after')
    // The sender's buffer is untouched: the bytes sent were ipfi's own encoding, handed over.
    expect(big.length).toBe(1024 * 1024)
    expect(big[1000]).toBe((1000 * 7) % 251)
    expect(await b.receiver.recv(T)).toBe('before')
    const one = (await b.receiver.recv(T)) as { data: Buffer; n: number }
    expect(one.n).toBe(1)
    expect(Buffer.compare(one.data, big)).toBe(0)
    // Read in place: the binary is a view of the message that came, which holds little else.
    expect(one.data.buffer.byteLength).toBeLessThan(1.1 * big.length)
    expect(await b.receiver.recv(T)).toBe('€'.repeat(100_000))
    const two = (await b.receiver.recv(T)) as { data: Buffer; tx: Sender<string> }
    expect(Buffer.compare(two.data, big)).toBe(0)
    two.tx.send('through')
    expect(await rx.recv(T)).toBe('through')
    expect(await b.receiver.recv(T)).toBe('after')
    // The first large message went as one whole frame, transferred (no copy of its megabyte), in a
    // buffer sized to it; the small messages around it went as their own posts.
    const whole = posted.filter((p) => p.wholeFrame && p.transferred > 0 && p.bytes > big.length && p.bytes < big.length + 4096)
    expect(whole.length).toBeGreaterThanOrEqual(1)
    expect(whole[0]!.transferred).toBeLessThan(1.1 * big.length)
    // The same buffer sent again (the first copy was handed over, not this one).
    a.sender.send(big)
    expect(Buffer.compare((await b.receiver.recv(T)) as Buffer, big)).toBe(0)
  })
})

describe('a custom Wire written in a few lines', () => {
  /** A Wire over an EventEmitter pair: each write is delivered later as one 'data' event. */
  function emitterWirePair(): [Wire, Wire] {
    const make = (inbox: EventEmitter, outbox: EventEmitter): Wire => ({
      write: (bytes) => {
        const copy = Uint8Array.prototype.slice.call(bytes) as Uint8Array
        setImmediate(() => outbox.emit('data', copy))
      },
      start: (onData, onEnd) => {
        inbox.on('data', onData)
        inbox.once('end', () => onEnd())
      },
      close: () => setImmediate(() => outbox.emit('end')),
    })
    const ab = new EventEmitter()
    const ba = new EventEmitter()
    return [make(ba, ab), make(ab, ba)]
  }

  /** A Wire over two PassThrough streams, without duplexWire. */
  function passThroughWirePair(): [Wire, Wire] {
    const ab = new PassThrough()
    const ba = new PassThrough()
    const make = (input: PassThrough, output: PassThrough): Wire => ({
      write: (bytes) => void output.write(bytes),
      start: (onData, onEnd) => {
        input.on('data', onData)
        input.on('end', () => onEnd())
      },
      close: () => void output.end(),
    })
    return [make(ba, ab), make(ab, ba)]
  }

  it('over an EventEmitter', async () => {
    const [wa, wb] = emitterWirePair()
    const [a, b] = await link(wa, wb)
    await exercise(a, b, 200)
    a.close()
    expectOrderly(await b.closed)
  })

  it('over a PassThrough pair', async () => {
    const [wa, wb] = passThroughWirePair()
    const [a, b] = await link(wa, wb)
    await exercise(a, b, 200)
    a.close()
    expectOrderly(await b.closed)
  })
})

describe('many channels on one link', () => {
  it('1,000 channels multiplexed each get their own messages, in order', async () => {
    const N = 1000
    const K = 5
    const [wa, wb] = memoryWirePair({ chunk: 4096 })
    const [a, b] = await link(wa, wb)
    const pairs = Array.from({ length: N }, () => channel<{ ch: number; k: number }>())
    // Hand b the 1,000 senders in one message.
    a.sender.send(pairs.map(([tx]) => tx))
    const senders = (await b.receiver.recv(T)) as Sender<{ ch: number; k: number }>[]
    expect(senders).toHaveLength(N)
    // Interleave: round k sends message k on every channel, in a shuffled channel order.
    for (let k = 0; k < K; k++) {
      const order = Array.from({ length: N }, (_, i) => (i * 7919 + k * 31) % N)
      expect(new Set(order).size).toBe(N)
      for (const ch of order) senders[ch]!.send({ ch, k })
    }
    for (const s of senders) s.close()
    const results = await Promise.all(
      pairs.map(async ([, rx], ch) => {
        const got: { ch: number; k: number }[] = []
        for (let k = 0; k < K; k++) got.push(await rx.recv(T))
        const end = await rx.recv(T).then(
          () => 'more',
          (e) => (e instanceof DisconnectedError && !(e instanceof ConnectionLostError) ? 'disconnected' : String(e)),
        )
        return { ch, got, end }
      }),
    )
    for (const { ch, got, end } of results) {
      expect(got).toEqual(Array.from({ length: K }, (_, k) => ({ ch, k })))
      expect(end).toBe('disconnected')
    }
  })

  it('1,000 receivers moved over one link each keep their own queue', async () => {
    const N = 1000
    const [wa, wb] = memoryWirePair()
    const [a, b] = await link(wa, wb)
    const pairs = Array.from({ length: N }, (_, ch) => {
      const p = channel<number>()
      p[0].send(ch * 10)
      return p
    })
    a.sender.send(pairs.map(([, rx]) => rx))
    pairs.forEach(([tx], ch) => tx.send(ch * 10 + 1))
    const rxs = (await b.receiver.recv(T)) as Receiver<number>[]
    expect(rxs).toHaveLength(N)
    const firsts = await Promise.all(rxs.map(async (rx) => [await rx.recv(T), await rx.recv(T)]))
    firsts.forEach((pair, ch) => expect(pair).toEqual([ch * 10, ch * 10 + 1]))
  })
})

describe('closing a link', () => {
  it('close() on one side is an orderly end on both: pending recvs reject with DisconnectedError (not ConnectionLostError), sends throw it, iteration ends', async () => {
    const [wa, wb] = memoryWirePair({ chunk: 3 })
    const [a, b] = await link(wa, wb)
    // Handles crossing the link in each direction.
    const [aTx, aRx] = channel<number>() // receiver at a, sender moves to b
    const [bTx, bRx] = channel<number>() // receiver moves to b, sender stays at a
    a.sender.send({ tx: aTx, rx: bRx })
    const got = (await b.receiver.recv(T)) as { tx: Sender<number>; rx: Receiver<number> }
    got.tx.send(1)
    expect(await aRx.recv(T)).toBe(1)

    const pendingBootstrap = b.receiver.recv()
    const pendingMoved = got.rx.recv()
    const pendingAtA = aRx.recv()
    const pendingABootstrap = a.receiver.recv()
    for (const p of [pendingBootstrap, pendingMoved, pendingAtA, pendingABootstrap]) p.catch(() => {})

    a.close('test is over')

    // The other side (b).
    const bCause = (await b.closed) as Error
    expectOrderly(bCause)
    expect(bCause.message).toMatch(/the peer closed the link: test is over/)
    for (const p of [pendingBootstrap, pendingMoved]) {
      const e = (await p.then(() => 'resolved', (x) => x)) as Error
      expectOrderly(e)
      expect(e.cause).toBe(bCause)
    }
    expectOrderly(thrownBy(() => b.sender.send(1)))
    expectOrderly(thrownBy(() => got.tx.send(2)))
    expect(got.tx.isDisconnected).toBe(true)

    // The closing side (a) ends in order too.
    const aCause = (await a.closed) as Error
    expectOrderly(aCause)
    expect(aCause.message).toMatch(/the link was closed: test is over/)
    for (const p of [pendingAtA, pendingABootstrap]) expectOrderly(await p.then(() => 'resolved', (x) => x))
    expectOrderly(thrownBy(() => a.sender.send(1)))
    expectOrderly(thrownBy(() => bTx.send(1)))
    // A recv started after the end rejects the same way; tryRecv says disconnected; iteration just ends.
    expectOrderly(await b.receiver.recv().then(() => 'resolved', (x) => x))
    expect(b.receiver.tryRecv()).toEqual({ ok: false, reason: 'disconnected' })
    const seen: unknown[] = []
    for await (const m of b.receiver) seen.push(m)
    expect(seen).toEqual([])
    // close() again is harmless.
    a.close()
    b.close()
  })

  it('a wire cut without a goodbye is a loss: ConnectionLostError everywhere, and iteration throws it', async () => {
    const [wa, wb] = memoryWirePair({ chunk: 3 })
    const [a, b] = await link(wa, wb)
    a.sender.send(1)
    expect(await b.receiver.recv(T)).toBe(1)
    const pending = b.receiver.recv()
    pending.catch(() => {})
    wa.close() // the wire alone: no GOODBYE
    const cause = await b.closed
    expect(cause).toBeInstanceOf(ConnectionLostError)
    expect(await pending.then(() => 'resolved', (x) => x)).toBeInstanceOf(ConnectionLostError)
    expect(thrownBy(() => b.sender.send(1))).toBeInstanceOf(ConnectionLostError)
    let thrown: unknown = null
    try {
      for await (const _ of b.receiver) void _
    } catch (e) {
      thrown = e
    }
    expect(thrown).toBeInstanceOf(ConnectionLostError)
  })

  it.each([
    [[null], 'orderly'],
    [['done for today'], 'orderly'],
    [['exited with code 0'], 'orderly'],
    [['boom', 'ERR_IPFI_EXITED'], 'lost'],
    [[null, 'ERR_SOMETHING'], 'lost'],
  ] as const)('a GOODBYE %j from a peer written by hand (another language) is %s', async (body, expected) => {
    const [wa, wb] = memoryWirePair()
    const victim = connectWire<unknown, unknown>(wb, { name: 'victim' })
    const peer = new RawPeer(wa)
    peer.write(hello())
    await victim.ready
    const pending = victim.receiver.recv()
    pending.catch(() => {})
    peer.write(control(GOODBYE, body))
    const cause = await victim.closed
    const e = await pending.then(() => 'resolved', (x) => x)
    if (expected === 'orderly') {
      expectOrderly(cause)
      expectOrderly(e)
    } else {
      expect(cause).toBeInstanceOf(ConnectionLostError)
      expect(e).toBeInstanceOf(ConnectionLostError)
      if (body[0]) expect((cause as Error).message).toContain(body[0])
    }
  })

  it("a GOODBYE that names a failure is a loss, with the peer's reason", async () => {
    const [wa, wb] = memoryWirePair()
    const [a, b] = await link(wa, wb)
    const pending = b.receiver.recv()
    pending.catch(() => {})
    failLink(a.link, new ProtocolError('you sent garbage'))
    const cause = (await b.closed) as Error
    expect(cause).toBeInstanceOf(ConnectionLostError)
    expect(cause.message).toMatch(/the peer closed the link because it failed: you sent garbage/)
    expect(await pending.then(() => 'resolved', (x) => x)).toBeInstanceOf(ConnectionLostError)
  })

  it('messages sent before close() still arrive before the loss is reported', async () => {
    const [wa, wb] = memoryWirePair({ chunk: 1 })
    const [a, b] = await link(wa, wb)
    for (let i = 0; i < 10; i++) a.sender.send(i)
    a.close()
    const got: number[] = []
    let end: unknown
    for (let i = 0; i < 11; i++) {
      try {
        got.push((await b.receiver.recv(T)) as number)
      } catch (e) {
        end = e
        break
      }
    }
    expect(got).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    expectOrderly(end)
  })
})
