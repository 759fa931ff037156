/**
 * Links over NATS (src/nats/, docs/PROTOCOL.md Appendix C) against a real nats-server on loopback:
 * channels and procedures between processes, handles between two clients through a server,
 * admission, a queue group of three listeners under 100 clients, and the wire's promises when NATS
 * loses a message: recovered when the sender still has it, ConnectionLostError naming it when not.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { AuthenticationError, channel, connect, ConnectionLostError, DisconnectedError, expose, fork, listen, remote, type Endpoint, type Receiver } from 'ipfi'
import { connectWire } from '../src/process/connect.js'
import { dialNats, listenNats, type NatsWire } from '../src/nats/index.js'
import { deferred, rejection, within } from './support/async.js'
import { trackChildren } from './support/children.js'
import { startNatsServer } from './support/nats-server.js'

const SHORT = 15_000
const LONG = 120_000

let nats: Awaited<ReturnType<typeof startNatsServer>>
let names = 0
const address = () => `nats://${nats.hostPort}/test.p${process.pid}.n${names++}`

beforeAll(async () => {
  nats = await startNatsServer()
})
afterAll(async () => {
  await nats?.close()
})

const track = trackChildren(SHORT)

describe('listen and connect over NATS', () => {
  it('two processes talk over channels and procedures through one nats-server', async () => {
    const at = address()
    const child = track(
      fork<string, string>(
        async ({ data, ipfi: lib, sender }) => {
          const ipfi = lib as unknown as typeof import('ipfi')
          const server = await ipfi.listen<unknown, unknown>((data as { at: string }).at, { secret: 'k' })
          sender.send('listening')
          for await (const peer of server) {
            void (async () => {
              const api = ipfi.expose({
                add: (a: number, b: number) => a + b,
                async *count(n: number) {
                  for (let i = 0; i < n; i++) yield i
                },
              })
              peer.sender.send({ api })
              for await (const m of peer.receiver) peer.sender.send({ echo: m, pid: process.pid })
            })()
          }
        },
        { data: { at } },
      ),
    )
    expect(await within(child.receiver.recv(), SHORT, 'the child to listen')).toBe('listening')
    const peer = await connect<unknown, { api?: Endpoint<never>; echo?: unknown; pid?: number }>(at, { secret: 'k' })
    const { api } = (await within(peer.receiver.recv(), SHORT, 'the endpoint')) as { api: Endpoint<never> }
    const proxy = remote<{ add(a: number, b: number): number; count(n: number): AsyncIterable<number> }>(api as never)
    expect(await proxy.add(2, 3)).toBe(5)
    const got: number[] = []
    for await (const i of proxy.count(5)) got.push(i)
    expect(got).toEqual([0, 1, 2, 3, 4])
    const big = Buffer.alloc(3 * 1024 * 1024 + 17, 7) // over the server's max_payload (1 MiB): split and joined
    for (let i = 0; i < 1000; i++) peer.sender.send(i)
    peer.sender.send(big)
    for (let i = 0; i < 1000; i++) expect((await peer.receiver.recv()).echo).toBe(i)
    const back = await within(peer.receiver.recv(), SHORT, 'the large echo')
    expect(Buffer.from(back.echo as Uint8Array).equals(big)).toBe(true)
    expect(back.pid).toBe(child.pid)
    peer.close()
    await peer.closed
  })

  it('handles travel between two clients through a server (a receiver moved from one client to the other)', async () => {
    const server = await listen<unknown, unknown>(address())
    const relay = (async () => {
      const a = await server.accept()
      const b = await server.accept()
      b.sender.send(await a.receiver.recv()) // { rx }: moved through the server
    })()
    const a = await connect<{ rx: Receiver<string> }, never>(server.address)
    const b = await connect<never, { rx: Receiver<string> }>(server.address)
    const [tx, rx] = channel<string>()
    tx.send('queued before the move')
    a.sender.send({ rx })
    tx.send('sent after the move')
    const { rx: moved } = await within(b.receiver.recv(), SHORT, 'the moved receiver')
    await relay
    expect(await moved.recv()).toBe('queued before the move')
    expect(await moved.recv()).toBe('sent after the move')
    tx.close()
    expect(await rejection(moved.recv(), SHORT)).toBeInstanceOf(DisconnectedError)
    a.close()
    b.close()
    await server.close()
  })

  it('admission works as over a socket: a wrong or missing secret and a full server are refused; no listener is a clear error', async () => {
    const rejected: Error[] = []
    const server = await listen(address(), { secret: 'right', maxClients: 1, onReject: (e) => rejected.push(e) })
    expect(await rejection(connect(server.address, { secret: 'wrong' }), SHORT)).toBeInstanceOf(AuthenticationError)
    const e2 = await rejection(connect(server.address), SHORT)
    expect(e2).toBeInstanceOf(AuthenticationError)
    expect(e2.message).toMatch(/requires a shared secret/)
    const first = await connect(server.address, { secret: 'right' })
    const e3 = await rejection(connect(server.address, { secret: 'right' }), SHORT)
    expect(e3.message).toMatch(/maximum number of clients/)
    first.close()
    await server.close()
    expect(rejected.length).toBe(3)
    const e4 = await rejection(connect(address(), { timeout: 3000 }), SHORT)
    expect(e4).toBeInstanceOf(DisconnectedError)
    expect(e4.message).toMatch(/no ipfi listener/)
  })

  it(
    '100 clients × 1,000 calls against 3 listener processes on one name (a queue group): every answer right, none lost or crossed, every listener used',
    async () => {
      const at = address()
      const listeners = [0, 1, 2].map((n) =>
        track(
          fork<number, number>(
            async ({ data: d, ipfi: lib, sender, receiver }) => {
              const ipfi = lib as unknown as typeof import('ipfi')
              const data = d as { at: string; n: number }
              let calls = 0
              const server = await ipfi.listen<unknown, unknown>(data.at)
              sender.send(-1)
              void (async () => {
                for await (const peer of server) peer.sender.send(ipfi.expose({ call: (client: number, i: number) => (calls++, { client, i, by: data.n }) }))
              })()
              await receiver.recv() // asked for the count
              sender.send(calls)
            },
            { data: { at, n } },
          ),
        ),
      )
      for (const l of listeners) expect(await within(l.receiver.recv(), SHORT, 'a listener to listen')).toBe(-1)
      const byListener = [0, 0, 0]
      const clients = Array.from({ length: 100 }, (_, c) => c)
      await within(
        Promise.all(
          clients.map(async (c) => {
            const peer = await connect<never, Endpoint<never>>(at, { timeout: 30_000 })
            const api = remote<{ call(c: number, i: number): { client: number; i: number; by: number } }>((await peer.receiver.recv()) as never)
            let by = -1
            for (let i = 0; i < 1000; i++) {
              const r = await api.call(c, i)
              expect([r.client, r.i]).toEqual([c, i])
              if (by === -1) by = r.by
              expect(r.by).toBe(by) // one client, one listener
            }
            byListener[by]!++
            peer.close()
          }),
        ),
        LONG,
        '100,000 calls',
      )
      const counts: number[] = []
      for (const l of listeners) {
        l.sender.send(0)
        counts.push(await within(l.receiver.recv(), SHORT, "a listener's count"))
      }
      expect(counts.reduce((a, b) => a + b)).toBe(100_000)
      expect(counts).toEqual(byListener.map((n) => n * 1000))
      expect(byListener.every((n) => n > 0)).toBe(true)
    },
    LONG + 30_000,
  )
})

/** A client wire and the listener's wire for it, at the nats layer (no admission), with `faults` on the client's sending side. */
async function wirePair(faults?: Parameters<typeof dialNats>[1]['faults'], tuning: { pollMs?: number; giveUpMs?: number } = {}): Promise<[NatsWire, NatsWire]> {
  const a = { servers: [nats.hostPort], name: `wires.p${process.pid}.n${names++}` }
  const accepted = deferred<NatsWire>()
  const listener = await listenNats(a, tuning, (w) => accepted.resolve(w))
  const client = await dialNats(a, { timeout: SHORT, faults, ...tuning })
  const server = await within(accepted.promise, SHORT, 'the listener to accept')
  await listener.close()
  return [client, server]
}

describe('the NATS wire when NATS loses a message', () => {
  it('a message lost in transit is sent again: everything arrives, in order, once', async () => {
    const lost = new Set([3, 10, 11, 40])
    const [cw, sw] = await wirePair({ data: (seq) => (lost.delete(seq) ? 'lose' : undefined) }, { pollMs: 100 })
    const client = connectWire<number, never>(cw)
    const server = connectWire<never, number>(sw)
    for (let i = 0; i < 2000; i++) {
      client.sender.send(i)
      if (i % 50 === 0) await new Promise((r) => setImmediate(r))
    }
    for (let i = 0; i < 2000; i++) expect(await within(server.receiver.recv(), SHORT, `message ${i}`)).toBe(i)
    expect(lost.size).toBe(0)
    expect(server.receiver.tryRecv()).toEqual({ ok: false, reason: 'empty' })
    client.close()
    server.close()
  })

  it('a message lost that the sender no longer has: the link fails on both sides with ConnectionLostError naming it', async () => {
    const [cw, sw] = await wirePair({ data: (seq) => (seq === 4 ? 'forget' : undefined) }, { pollMs: 100 })
    const client = connectWire<number, never>(cw)
    const server = connectWire<never, number>(sw)
    let sendError: unknown = null
    for (let i = 0; i < 200 && !sendError; i++) {
      try {
        client.sender.send(i)
      } catch (e) {
        sendError = e // the link failed meanwhile: sending says so
      }
      await new Promise((r) => setImmediate(r))
    }
    if (sendError) expect(sendError).toBeInstanceOf(ConnectionLostError)
    const got: number[] = []
    const e = await within(
      (async () => {
        for (;;) {
          try {
            got.push(await server.receiver.recv())
          } catch (err) {
            return err as Error
          }
        }
      })(),
      SHORT,
      'the receiver to fail',
    )
    expect(e).toBeInstanceOf(ConnectionLostError)
    expect(String((e as { cause?: unknown }).cause ?? e.message)).toMatch(/message 4\b/)
    expect(got).toEqual(got.map((_, i) => i)) // what came before the gap, in order, once
    const side = await within(client.link.closed, SHORT, 'the sending side to close')
    expect(String((side as Error).message)).toMatch(/message 4\b/)
  })
})

// What this shows: a receiver that reads nothing for 2 s loses nothing. With max_pending alone this
// nats-server 2.9 logged no slow consumer even without credit; test/nats-credits.test.ts adds a
// write_deadline and watches the wire from outside: with credit at most the window is in flight and
// no slow consumer; without (its control), 27 MiB in flight and the server cuts the receiver off.
describe('credits keep a busy receiver from becoming a slow consumer', () => {
  it('32 MiB sent to a process whose event loop is blocked for 2 s, through a server that cuts off a client with 2 MB pending: all of it arrives, no slow consumer', async () => {
    const strict = await startNatsServer(['max_pending: 2MB'])
    try {
      const server = await listen<Uint8Array, string>(`nats://${strict.hostPort}/busy`)
      const child = track(
        fork<never, number>(
          async ({ data, ipfi: lib, sender }) => {
            const ipfi = lib as unknown as typeof import('ipfi')
            const peer = await ipfi.connect<string, Uint8Array>((data as { at: string }).at)
            peer.sender.send('ready')
            const until = Date.now() + 2000
            while (Date.now() < until); // busy: reads nothing
            let bytes = 0
            for (let i = 0; i < 32; i++) {
              const m = await peer.receiver.recv()
              if (m[0] !== i || m[m.length - 1] !== i) throw new Error(`message ${i} is not what was sent`)
              bytes += m.length
            }
            sender.send(bytes)
            peer.close()
          },
          { data: { at: server.address } },
        ),
      )
      const peer = await within(server.accept(), SHORT, 'the child to connect')
      expect(await within(peer.receiver.recv(), SHORT, 'the child to be ready')).toBe('ready')
      for (let i = 0; i < 32; i++) peer.sender.send(Buffer.alloc(1024 * 1024, i))
      expect(await within(child.receiver.recv(), LONG, 'the child to receive everything')).toBe(32 * 1024 * 1024)
      expect(strict.log()).not.toMatch(/slow consumer/i)
      await server.close()
    } finally {
      await strict.close()
    }
  })
})
