/**
 * A cluster of three nats-servers on loopback (routed to each other), the listener attached to one
 * and its clients to the others, as hosts would be; one server killed with SIGKILL mid-stream. Each
 * client streams numbers to the listener, the listener streams numbers back, and each client keeps
 * calls in flight, through and after the kill. Every call and every receive must settle (answered,
 * or failed with ConnectionLostError: none hangs), and every stream must arrive in order with
 * nothing twice: all of it if its link resumed, a prefix of it if the link failed.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { channel, connect, ConnectionLostError, DisconnectedError, expose, listen, remote, type Endpoint, type Receiver, type Server } from 'ipfi'
import { connect as natsConnect } from '@nats-io/transport-node'
import { DATA, DATA_HEADER, RESEND, readU64 } from '../src/nats/packets.js'
import { sleep, within } from './support/async.js'
import { startNatsCluster, type NatsServer } from './support/nats-server.js'

const GUARD = 60_000
const CLIENTS = 6

let cluster: Awaited<ReturnType<typeof startNatsCluster>> | null = null
afterEach(async () => {
  await cluster?.close()
  cluster = null
})

/** Servers in this order, the first tried first (no shuffling): the endpoint is attached to `first`. */
const at = (servers: NatsServer[], first: number, name: string) =>
  `nats://${[...servers.slice(first), ...servers.slice(0, first)].map((s) => s.hostPort).join(',')}/${name}`
const OWN = { nats: { connection: { noRandomize: true } } }

interface Stream {
  got: number
  outOfOrder: number
  sent: number
  end: unknown
}

/** Receive numbers 0, 1, 2, ... until the channel ends; count what is out of order or twice. */
function consume(rx: Receiver<number>, s: Stream): Promise<void> {
  return (async () => {
    for (;;) {
      let n: number
      try {
        n = await rx.recv()
      } catch (e) {
        s.end = e
        return
      }
      if (n !== s.got) s.outOfOrder++
      s.got++
    }
  })()
}

/** Send 0, 1, 2, ... (50 every 5 ms) until stopped, then close; a failed send ends it. */
function produce(tx: { send(n: number): void; close(): void }, s: Stream, stopped: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    const t = setInterval(() => {
      if (stopped()) {
        clearInterval(t)
        tx.close()
        return resolve()
      }
      try {
        for (let k = 0; k < 50; k++) {
          tx.send(s.sent)
          s.sent++
        }
      } catch (e) {
        s.end ??= e
        clearInterval(t)
        resolve()
      }
    }, 5)
  })
}

type Api = { echo(i: number): number }

async function run(kill: 'the listener' | 'two clients') {
  cluster = await startNatsCluster(3)
  const { servers } = cluster
  const name = `cluster.p${process.pid}.${kill === 'the listener' ? 'l' : 'c'}`
  let stopped = false
  const isStopped = () => stopped
  // An observer on the server that is never killed: DATA packets it sees twice were sent again.
  const observer = await natsConnect({ servers: servers[2]!.hostPort, name: 'observer' })
  const seen = new Set<string>()
  const sentAgain = { data: 0, resends: 0, afterKill: false }
  observer.subscribe(`ipfi.${name}.>`, {
    callback: (_e, m) => {
      if (m.data[0] === RESEND) sentAgain.resends += sentAgain.afterKill ? 1 : 0
      if (m.data[0] !== DATA || m.data.length < DATA_HEADER) return
      const key = `${m.subject} ${readU64(m.data, 1)}`
      if (seen.has(key)) sentAgain.data++
      else seen.add(key)
    },
  })
  await observer.flush()
  const server: Server<unknown, unknown> = await listen(at(servers, 0, name), OWN)
  const atServer: { up: Stream; down: Stream; done: Promise<void>[] }[] = [] // by client index
  void (async () => {
    for await (const peer of server) {
      const [dtx, drx] = channel<number>()
      peer.sender.send({ api: expose({ echo: (i: number) => i }), down: drx })
      const { up, client } = (await peer.receiver.recv()) as { up: Receiver<number>; client: number }
      const s = { up: { got: 0, outOfOrder: 0, sent: 0, end: null }, down: { got: 0, outOfOrder: 0, sent: 0, end: null } }
      atServer[client] = { ...s, done: [consume(up, s.up), produce(dtx, s.down, isStopped)] }
    }
  })()

  // Clients 0-2 on servers[1], 3-5 on servers[2] (the listener is on servers[0]).
  const clients = await Promise.all(
    Array.from({ length: CLIENTS }, async (_, c) => {
      const peer = await connect<{ up: Receiver<number>; client: number }, { api: Endpoint<never>; down: Receiver<number> }>(at(servers, c < 3 ? 1 : 2, name), { ...OWN, timeout: 15_000 })
      const { api, down } = await within(peer.receiver.recv(), 15_000, 'the endpoint')
      const [utx, urx] = channel<number>()
      peer.sender.send({ up: urx, client: c })
      const proxy = remote<Api>(api as never)
      const s = { up: { got: 0, outOfOrder: 0, sent: 0, end: null }, down: { got: 0, outOfOrder: 0, sent: 0, end: null } }
      const calls = { ok: 0, wrong: 0, failed: 0, errors: new Set<string>() }
      const caller = Promise.all(
        Array.from({ length: 10 }, async (_, lane) => {
          for (let i = lane; !stopped; i += 10) {
            try {
              if ((await proxy.echo(i)) === i) calls.ok++
              else calls.wrong++
            } catch (e) {
              calls.failed++
              calls.errors.add((e as Error).name)
              if (!(e instanceof ConnectionLostError)) throw e
              return
            }
          }
        }),
      )
      return { peer, s, calls, done: [consume(down, s.down), produce(utx, s.up, isStopped), caller] }
    }),
  )
  await within(
    (async () => {
      while (atServer.filter(Boolean).length < CLIENTS || atServer.some((x) => x.down.sent < 500) || clients.some((c) => c.calls.ok < 200)) await sleep(20)
    })(),
    GUARD,
    'every stream and caller to get going',
  )
  const victim = kill === 'the listener' ? servers[0]! : servers[1]!
  const before = clients.map((c) => c.s.down.got)
  sentAgain.afterKill = true
  await victim.kill()
  // Run on until every stream that still lives has moved on well past the kill.
  await within(
    (async () => {
      while (clients.some((c, i) => c.s.down.end === null && c.s.down.got < before[i]! + 2000)) await sleep(50)
    })(),
    GUARD,
    'the streams to move on after the kill',
  )
  stopped = true
  // Every call, send loop and receive settles: none hangs.
  await within(Promise.all([...clients.flatMap((c) => c.done), ...atServer.flatMap((x) => x.done)]), GUARD, 'every call and receive to settle')

  // Each stream, both ways: in order and nothing twice; all that was sent if its link resumed (the
  // channel then ends as a closed one), a prefix of it if the link was lost (ConnectionLostError).
  let resumed = 0
  let failed = 0
  let numbers = 0
  for (let i = 0; i < CLIENTS; i++) {
    const c = clients[i]!
    for (const [what, tx, rx] of [
      [`listener -> client ${i}`, atServer[i]!.down, c.s.down],
      [`client ${i} -> listener`, c.s.up, atServer[i]!.up],
    ] as const) {
      expect(rx.outOfOrder, `${what}: out of order or twice`).toBe(0)
      expect(rx.end, what).toBeInstanceOf(DisconnectedError)
      numbers += rx.got
      if (rx.end instanceof ConnectionLostError) {
        expect(rx.got, `${what}: a prefix of what was sent`).toBeLessThanOrEqual(tx.sent)
        failed++
      } else {
        expect(rx.got, `${what}: all that was sent`).toBe(tx.sent)
        resumed++
      }
    }
  }
  const calls = clients.reduce((a, c) => ({ ok: a.ok + c.calls.ok, wrong: a.wrong + c.calls.wrong, failed: a.failed + c.calls.failed }), { ok: 0, wrong: 0, failed: 0 })
  expect(calls.wrong).toBe(0)
  for (const c of clients) expect([...c.calls.errors].every((n) => n === 'ConnectionLostError')).toBe(true)
  const summary = `killed the server of ${kill}: ${resumed} streams resumed with everything, ${failed} failed with ConnectionLostError, ${numbers} numbers received, none out of order or twice; calls: ${calls.ok} answered right, ${calls.failed} failed with ConnectionLostError, 0 hung; the observer saw ${sentAgain.resends} RESENDs after the kill and ${sentAgain.data} DATA packets sent again`
  console.log(summary)
  for (const c of clients) c.peer.close()
  await server.close()
  await observer.close()
  return { resumed, failed, calls }
}

describe('a cluster of three nats-servers, one killed with SIGKILL mid-stream', () => {
  it("the listener's server: it reconnects to another; every stream and call settles, in order, nothing twice", { timeout: 180_000 }, async () => {
    const r = await run('the listener')
    expect(r.resumed + r.failed).toBe(2 * CLIENTS)
  })

  it("two clients' server: they reconnect to another; every stream and call settles, in order, nothing twice", { timeout: 180_000 }, async () => {
    const r = await run('two clients')
    expect(r.resumed + r.failed).toBe(2 * CLIENTS)
  })
})
