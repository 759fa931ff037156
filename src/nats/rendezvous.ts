/**
 * How a link over NATS begins (docs/PROTOCOL.md Appendix C): a listener subscribes to its name's
 * connect subject in a queue group, so that of several listeners on one name each new client
 * reaches one; a client subscribes to its link's subject towards it, then sends an OPEN request
 * naming the link; the listener that gets it subscribes to the link's subject towards it, then
 * answers ACCEPT. From then on the two are a pair of NatsWires; admission and the link follow
 * over them as over a socket.
 */
import { randomBytes } from 'node:crypto'
import { DisconnectedError, TimeoutError } from '../errors.js'
import { acquireConnection, type SharedConnection } from './client.js'
import { DEFAULT_WINDOW, NatsWire, type NatsFaults } from './wire.js'

export interface NatsAddress {
  /** host:port of each server named. */
  servers: string[]
  /** The service's name: NATS subject tokens ([A-Za-z0-9_-]+), dot-separated. */
  name: string
}

/** Options of a nats:// address, in listen() and connect(). */
export interface NatsOptions {
  /**
   * Options of `@nats-io/transport-node`'s `connect()` (user, pass, token, tls, authenticator, ...;
   * not `servers`, which the address names). Without them, every listener and link of the process
   * that names the same servers shares one NATS connection; with them, this one has its own.
   */
  connection?: Record<string, unknown>
  /** Bytes the peer may send on a link before this side acknowledges them (credit). Default 1 MiB. */
  windowBytes?: number
}

/** @internal Options of the nats layer that the server layer does not offer. */
export interface NatsWireTuning {
  pollMs?: number
  giveUpMs?: number
  faults?: NatsFaults
}

const MAGIC = Buffer.from('IPFN')
const VERSION = 1
/** magic, version, window u32, then (OPEN) the link id. */
const HEAD = 4 + 1 + 4
const LINK_ID = /^[A-Za-z0-9_-]{16,64}$/

export const connectSubject = (name: string) => `ipfi.${name}.connect`
export const queueGroup = (name: string) => `ipfi.${name}`
const toServer = (name: string, id: string) => `ipfi.${name}.${id}.c2s`
const toClient = (name: string, id: string) => `ipfi.${name}.${id}.s2c`

function head(window: number): Buffer {
  const b = Buffer.alloc(HEAD)
  MAGIC.copy(b, 0)
  b[4] = VERSION
  b.writeUInt32BE(window, 5)
  return b
}

function readHead(b: Uint8Array): number | null {
  if (b.length < HEAD || !Buffer.from(b.buffer, b.byteOffset, 4).equals(MAGIC) || b[4] !== VERSION) return null
  const w = Buffer.from(b.buffer, b.byteOffset, b.length).readUInt32BE(5)
  return w >= 1 ? w : null
}

function checkWindow(w: number | undefined): number {
  const n = w ?? DEFAULT_WINDOW
  if (!Number.isInteger(n) || n < 1024 || n > 2 ** 31) throw new RangeError(`nats.windowBytes must be a whole number of bytes from 1024 to 2^31, got ${String(w)}`)
  return n
}

export function describeNats(a: NatsAddress): string {
  return `nats://${a.servers.join(',')}/${a.name}`
}

/** The client's side: a wire to one listener of `a.name`, once it accepted. */
export async function dialNats(a: NatsAddress, options: NatsOptions & NatsWireTuning & { timeout: number }): Promise<NatsWire> {
  const window = checkWindow(options.windowBytes)
  const conn = await acquireConnection(a.servers, { connection: options.connection, timeout: options.timeout })
  const id = randomBytes(16).toString('hex')
  const where = describeNats(a)
  const wire = new NatsWire(conn, toClient(a.name, id), toServer(a.name, id), {
    name: `NATS link ${id} to ${where}`,
    window,
    peerWindow: 0,
    pollMs: options.pollMs,
    giveUpMs: options.giveUpMs,
    faults: options.faults,
  })
  let reply
  try {
    reply = await conn.nc.request(connectSubject(a.name), Buffer.concat([head(window), Buffer.from(id)]), { timeout: options.timeout })
  } catch (e) {
    wire.destroy()
    const text = `${(e as Error).name} ${(e as Error).message} ${String((e as { code?: unknown }).code)}`
    if (/no.?responders|503/i.test(text)) throw new DisconnectedError(`cannot connect to ${where}: no ipfi listener on that name`, { cause: e })
    if (/timeout/i.test(text)) throw new TimeoutError(`connecting to ${where} took more than ${options.timeout} ms`, { cause: e })
    throw new DisconnectedError(`cannot connect to ${where}: ${(e as Error).message}`, { cause: e })
  }
  const peerWindow = readHead(reply.data)
  if (peerWindow === null) {
    wire.destroy()
    throw new DisconnectedError(`cannot connect to ${where}: the answer to OPEN was not an ipfi ACCEPT`)
  }
  wire.setPeerWindow(peerWindow)
  return wire
}

export interface NatsListener {
  close(): Promise<void>
}

/**
 * The listener's side: `onWire` gets each accepted client's wire and link id. Resolves once the
 * server has the subscription (a client connecting after that reaches this listener or another).
 */
export async function listenNats(
  a: NatsAddress,
  options: NatsOptions & NatsWireTuning & { timeout?: number },
  onWire: (wire: NatsWire, id: string) => void,
): Promise<NatsListener> {
  const window = checkWindow(options.windowBytes)
  const conn: SharedConnection = await acquireConnection(a.servers, { connection: options.connection, timeout: options.timeout })
  const where = describeNats(a)
  let open = true
  const sub = conn.subscribe(
    connectSubject(a.name),
    (data, reply) => {
      if (!open || !reply) return
      const peerWindow = readHead(data)
      const id = Buffer.from(data.buffer, data.byteOffset + HEAD, Math.max(0, data.length - HEAD)).toString('latin1')
      if (peerWindow === null || !LINK_ID.test(id)) return // not an ipfi OPEN: nothing to answer
      conn.acquire() // the wire's
      const wire = new NatsWire(conn, toServer(a.name, id), toClient(a.name, id), {
        name: `NATS link ${id} on ${where}`,
        window,
        peerWindow,
        pollMs: options.pollMs,
        giveUpMs: options.giveUpMs,
        faults: options.faults,
      })
      conn.publish(reply, head(window)) // after the subscription, on the same connection: it is in place first
      onWire(wire, id)
    },
    queueGroup(a.name),
  )
  conn.hold(true) // a listener keeps the process alive until closed, as a listening socket does
  try {
    await conn.nc.flush()
  } catch (e) {
    conn.hold(false)
    sub.unsubscribe()
    conn.release()
    throw new DisconnectedError(`cannot listen on ${where}: ${(e as Error).message}`, { cause: e })
  }
  return {
    async close() {
      if (!open) return
      open = false
      conn.hold(false)
      sub.unsubscribe()
      conn.release()
    },
  }
}
