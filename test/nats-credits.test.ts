/**
 * The credit window of a link over NATS, seen from outside: a plain NATS client subscribed to both
 * of a link's subjects sees every DATA packet one side publishes and every acknowledgement the other
 * returns (on one server, in the order the sender saw them), so it can tell how many payload bytes
 * were ever unacknowledged in flight. 32 MiB go to a process whose event loop is blocked for 2 s,
 * through a nats-server that cuts off a client it cannot write to for 300 ms (write_deadline): with
 * credit, never more than the receiver's window is in flight, everything arrives, and the server
 * cuts nobody off; with the window raised to 2 GiB (no effective credit: the control) the same run
 * has far more than 1 MiB in flight and the server logs a slow consumer, so the first case would
 * fail if credits were removed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { connect as natsConnect, type NatsConnection } from '@nats-io/transport-node'
import { fork, listen } from 'ipfi'
import { ACK, DATA, DATA_HEADER, FIN, readU64 } from '../src/nats/packets.js'
import { within } from './support/async.js'
import { trackChildren } from './support/children.js'
import { startNatsServer } from './support/nats-server.js'

const SHORT = 15_000
const LONG = 120_000
const MiB = 1024 * 1024

let nats: Awaited<ReturnType<typeof startNatsServer>>
let raw: NatsConnection
beforeAll(async () => {
  nats = await startNatsServer(['write_deadline: "300ms"', 'max_pending: 4MB'])
  raw = await natsConnect({ servers: nats.hostPort, name: 'observer' })
})
afterAll(async () => {
  await raw?.close()
  await nats?.close()
})

const track = trackChildren(SHORT)

/** What the observer saw: the most payload bytes unacknowledged at once, packets and bytes sent. */
function observe(name: string, id: string) {
  const sizes = new Map<number, number>() // seq -> payload bytes, DATA from the listener not yet acknowledged
  let acked = 0
  let inFlight = 0
  let most = 0
  let packets = 0
  let resent = 0
  const onAck = (n: number) => {
    if (n <= acked) return
    for (let s = acked + 1; s <= n; s++) {
      inFlight -= sizes.get(s) ?? 0
      sizes.delete(s)
    }
    acked = n
  }
  const down = raw.subscribe(`ipfi.${name}.${id}.s2c`, {
    callback: (_e, m) => {
      const d = m.data
      if (d[0] !== DATA || d.length < DATA_HEADER) return
      const seq = readU64(d, 1)
      if (seq <= acked || sizes.has(seq)) return void resent++
      packets++
      sizes.set(seq, d.length - DATA_HEADER)
      inFlight += d.length - DATA_HEADER
      most = Math.max(most, inFlight)
    },
  })
  const up = raw.subscribe(`ipfi.${name}.${id}.c2s`, {
    callback: (_e, m) => {
      const d = m.data
      if (d[0] === ACK && d.length === 9) onAck(readU64(d, 1))
      else if ((d[0] === DATA || d[0] === FIN) && d.length >= DATA_HEADER) onAck(readU64(d, 9))
    },
  })
  return {
    figures: () => ({ most, packets, resent }),
    stop: () => (down.unsubscribe(), up.unsubscribe()),
  }
}

describe('credits: never more than the window in flight, so a busy receiver is no slow consumer', () => {
  it.each([
    { credit: 'on', windowBytes: undefined },
    { credit: 'off (the control: a 2 GiB window)', windowBytes: 2 ** 31 },
  ])('credit $credit: 32 MiB to a process blocked for 2 s', { timeout: LONG + 30_000 }, async ({ windowBytes }) => {
    const name = `credits.p${process.pid}.w${windowBytes ?? 0}`
    const server = await listen<Uint8Array, string>(`nats://${nats.hostPort}/${name}`)
    const child = track(
      fork<never, number>(
        async ({ data, ipfi: lib, sender }) => {
          const ipfi = lib as unknown as typeof import('ipfi')
          const { at, windowBytes } = data as { at: string; windowBytes?: number }
          const peer = await ipfi.connect<string, Uint8Array>(at, windowBytes ? { nats: { windowBytes } } : {})
          peer.sender.send('ready')
          await new Promise((r) => setTimeout(r, 100)) // 'ready' on its way
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
        { data: { at: server.address, windowBytes } },
      ),
    )
    const logFrom = nats.log().length
    const peer = await within(server.accept(), SHORT, 'the child to connect')
    const seen = observe(name, peer.remote.address)
    await raw.flush()
    expect(await within(peer.receiver.recv(), SHORT, 'the child to be ready')).toBe('ready')
    for (let i = 0; i < 32; i++) peer.sender.send(Buffer.alloc(MiB, i))
    const got = await within(child.receiver.recv(), LONG, 'the child to receive everything').catch((e: unknown) => e)
    await raw.flush()
    const f = seen.figures()
    seen.stop()
    const slow = /slow consumer/i.test(nats.log().slice(logFrom))
    console.log(
      `credit ${windowBytes ? 'off' : 'on'}: at most ${(f.most / MiB).toFixed(2)} MiB unacknowledged in flight, ${f.packets} DATA packets (${f.resent} sent again); ` +
        `the child ${typeof got === 'number' ? `received ${got / MiB} MiB` : `failed: ${String(got)}`}; nats-server ${slow ? 'logged a slow consumer' : 'logged no slow consumer'}`,
    )
    if (windowBytes === undefined) {
      expect(got).toBe(32 * MiB)
      expect(f.most).toBeLessThanOrEqual(MiB) // the default window
      expect(f.most).toBeGreaterThan(0)
      expect(slow).toBe(false)
    } else {
      // Without credit the sender does not wait for the blocked receiver: the server holds more for
      // it than it may, and cuts it off (what it lost then is sent again: the child may still get all).
      expect(f.most).toBeGreaterThan(4 * MiB)
      expect(slow).toBe(true)
    }
    await server.close()
  })
})
