/**
 * Hostile packets through the broker: a plain NATS client (no ipfi) publishes into one link's
 * subject, as anyone allowed to publish there could: packets of no known kind, truncated ones,
 * sequence numbers out of range or ahead of anything sent, acknowledgements of what was never sent,
 * a packet over the window, and, in sequence, bytes that break the link's own framing or exceed its
 * frame limit. Each closes only that link, with a typed error at the listener (ProtocolError or
 * LimitExceededError) and ConnectionLostError at its client; the other link on the same listener and
 * new clients keep working.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { connect as natsConnect, type NatsConnection } from '@nats-io/transport-node'
import { ConnectionLostError, LimitExceededError, listen, ProtocolError, connect, type Peer, type Server } from 'ipfi'
import { ACK, DATA, DATA_HEADER, RST, dataPacket, readU64, shortPacket } from '../src/nats/packets.js'
import { rejection, sleep, within } from './support/async.js'
import { startNatsServer } from './support/nats-server.js'
import { frame } from './support/raw-peer.js'

const SHORT = 15_000
const WINDOW = 64 * 1024
const MAX_FRAME = 16 * 1024

let nats: Awaited<ReturnType<typeof startNatsServer>>
let raw: NatsConnection
let server: Server<string, string>
let name: string
const accepted: Peer<string, string>[] = []

beforeAll(async () => {
  nats = await startNatsServer()
  raw = await natsConnect({ servers: nats.hostPort, name: 'hostile' })
  name = `hostile.p${process.pid}`
  server = await listen<string, string>(`nats://${nats.hostPort}/${name}`, { nats: { windowBytes: WINDOW }, limits: { maxFrameBytes: MAX_FRAME } })
  void (async () => {
    for await (const peer of server) {
      accepted.push(peer)
      void (async () => {
        try {
          for await (const m of peer.receiver) peer.sender.send(`echo ${m}`)
        } catch {
          // the link failed: what it failed with is checked on peer.closed
        }
      })()
    }
  })()
})
afterAll(async () => {
  await server?.close()
  await raw?.close()
  await nats?.close()
})

/** A client, its peer at the listener, and the highest DATA sequence number it has sent so far (watched through the broker). */
async function linked() {
  const n = accepted.length
  const client = await connect<string, string>(server.address)
  await within(
    (async () => {
      while (accepted.length === n) await sleep(10)
    })(),
    SHORT,
    'the listener to accept',
  )
  const peer = accepted[n]!
  const subject = `ipfi.${name}.${peer.remote.address}.c2s`
  let lastSeq = 0
  const watch = raw.subscribe(subject, {
    callback: (_e, m) => {
      if (m.data[0] === DATA && m.data.length >= DATA_HEADER) lastSeq = Math.max(lastSeq, readU64(m.data, 1))
    },
  })
  await raw.flush()
  client.sender.send('hello')
  expect(await within(client.receiver.recv(), SHORT, 'the first echo')).toBe('echo hello')
  await sleep(50)
  return { client, peer, subject, lastSeq: () => lastSeq, unwatch: () => watch.unsubscribe() }
}

/** A DATA packet with `payload`. */
function data(seq: number, payload: Uint8Array, ack = 0): Buffer {
  const p = dataPacket(DATA, seq, ack, payload.length)
  p.set(payload, DATA_HEADER)
  return p
}

const big = (n: number) => {
  const b = Buffer.alloc(4)
  b.writeUInt32BE(n)
  return b
}

const ATTACKS: { what: string; packet: (next: number) => Uint8Array; error: typeof ProtocolError | typeof LimitExceededError; says: RegExp }[] = [
  { what: 'a packet of no known kind', packet: () => Buffer.from([0x7f, 1, 2, 3]), error: ProtocolError, says: /unknown packet \(kind 127/ },
  { what: 'an empty packet', packet: () => Buffer.alloc(0), error: ProtocolError, says: /unknown packet \(no kind, 0 bytes\)/ },
  { what: 'a truncated DATA packet', packet: () => Buffer.from([DATA, 0, 0, 0, 0, 0, 0, 0]), error: ProtocolError, says: /malformed DATA packet \(8 bytes\)/ },
  { what: 'an ACK of the wrong length', packet: () => Buffer.from([ACK, 0, 0]), error: ProtocolError, says: /unknown packet \(kind 2, 3 bytes\)/ },
  {
    what: 'a sequence number beyond 2^53',
    packet: () => Buffer.concat([Buffer.from([DATA]), Buffer.alloc(8, 0xff), Buffer.alloc(8), Buffer.from('x')]),
    error: ProtocolError,
    says: /sequence number out of range/,
  },
  { what: 'a sequence number far ahead of anything sent', packet: (next) => data(next + 1000, Buffer.from('ahead')), error: ProtocolError, says: /arrived, but the peer says it sent only up to/ },
  { what: 'an ACK of a message never sent', packet: () => shortPacket(ACK, 1_000_000), error: ProtocolError, says: /acknowledged message 1000000, which was never sent/ },
  { what: 'a DATA packet larger than the window', packet: (next) => data(next, Buffer.alloc(WINDOW + 1)), error: ProtocolError, says: /more than the window/ },
  { what: 'in sequence: a frame of no known kind', packet: (next) => data(next, frame([0x7e, 1, 2, 3])), error: ProtocolError, says: /unknown frame kind 126/ },
  { what: 'in sequence: a frame over maxFrameBytes', packet: (next) => data(next, big(MAX_FRAME * 4)), error: LimitExceededError, says: /frame of 65536 bytes is over the limit of 16384/ },
]

describe('hostile packets published into one link through the broker', () => {
  it.each(ATTACKS)('$what: that link closes with a typed error; the other link and new clients work', async ({ packet, error, says }) => {
    const bystander = await linked()
    const victim = await linked()
    victim.unwatch()
    bystander.unwatch()
    raw.publish(victim.subject, packet(victim.lastSeq() + 1))
    await raw.flush()
    const cause = await within(victim.peer.closed, SHORT, "the victim's link to close at the listener")
    expect(cause).toBeInstanceOf(error)
    expect(String((cause as Error).message)).toMatch(says)
    // The client of that link hears of it (the listener sent RST), and fails: ConnectionLostError.
    expect(await rejection(victim.client.receiver.recv(), SHORT, "the victim's client")).toBeInstanceOf(ConnectionLostError)
    // The other link on the same listener, and a new client, work.
    bystander.client.sender.send('still there?')
    expect(await within(bystander.client.receiver.recv(), SHORT, "the bystander's echo")).toBe('echo still there?')
    const fresh = await linked()
    fresh.unwatch()
    fresh.client.sender.send('new')
    expect(await within(fresh.client.receiver.recv(), SHORT, "a new client's echo")).toBe('echo new')
    for (const c of [bystander, fresh]) c.client.close()
  })

  it('a forged RST ends only that link, with ConnectionLostError naming the reason', async () => {
    const bystander = await linked()
    const victim = await linked()
    raw.publish(victim.subject, Buffer.concat([Buffer.from([RST]), Buffer.from('forged')]))
    await raw.flush()
    const cause = await within(victim.peer.closed, SHORT, "the victim's link to close")
    expect(cause).toBeInstanceOf(ConnectionLostError)
    expect((cause as Error).message).toMatch(/the peer reset the link: forged/)
    bystander.client.sender.send('ok?')
    expect(await within(bystander.client.receiver.recv(), SHORT, "the bystander's echo")).toBe('echo ok?')
    bystander.client.close()
    victim.client.close()
  })
})
