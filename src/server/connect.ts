/** `connect()`: the client side of `listen()`. */
import * as net from 'node:net'
import * as tls from 'node:tls'
import type { Duplex } from 'node:stream'
import { AuthenticationError, DisconnectedError, TimeoutError } from '../errors.js'
import type { LinkLimits } from '../link/limits.js'
import { LinkImpl } from '../link/link.js'
import type { NatsAddress, NatsOptions } from '../nats/index.js'
import { parseAddress } from './address.js'
import { seekAdmission, secretBytes, socketIO } from './admission.js'
import { DEFAULT_IDLE_TIMEOUT_MS } from './listen.js'
import { Peer, describeSocket, linkSocket } from './peer.js'
import { admissionOverWire } from './wire-admission.js'

export interface ConnectOptions {
  /** The server's shared secret. With it, the server must prove it knows it too. */
  secret?: string | Uint8Array
  /** For `tls://`: options of `tls.connect` (ca, key, cert for a client certificate, servername, ...). */
  tls?: tls.ConnectionOptions
  /** For `nats://`: the NATS client's connection options, the credit window (see NatsOptions). */
  nats?: NatsOptions
  /** Time to connect, be admitted and finish the link handshake, in ms. Default 10,000. */
  timeout?: number
  /** The server silent for this long (no data, no heartbeat) counts as lost. Default 30,000; 0 turns it off. */
  idleTimeoutMs?: number
  /** Per-link limits (see LinkLimits). */
  limits?: Partial<LinkLimits>
}

/** Connect to a `listen()` server. Resolves with the server as a Peer once the link is up. */
export async function connect<ToServer, ToClient>(address: string, options: ConnectOptions = {}): Promise<Peer<ToServer, ToClient>> {
  const a = parseAddress(address)
  const secret = secretBytes(options.secret)
  const timeout = options.timeout ?? 10_000
  const idle = options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS
  if (a.kind === 'nats') return connectNats(a, address, secret, timeout, idle, options)
  const socket: Duplex & net.Socket =
    a.kind === 'unix'
      ? net.connect(a.path)
      : a.kind === 'tcp'
        ? net.connect(a.port, a.host)
        : tls.connect({ port: a.port, host: a.host, servername: net.isIP(a.host) ? undefined : a.host, ...options.tls })
  const timer = setTimeout(() => socket.destroy(new TimeoutError(`connecting to ${address} took more than ${timeout} ms`)), timeout)
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once(a.kind === 'tls' ? 'secureConnect' : 'connect', resolve)
      socket.once('error', (e) =>
        reject(
          a.kind === 'tls' && /certificate|self.signed|SSL|TLS|alert/i.test(`${(e as NodeJS.ErrnoException).code} ${e.message}`)
            ? new AuthenticationError(`TLS handshake with ${address} failed: ${e.message}`, { cause: e })
            : e instanceof TimeoutError
              ? e
              : new DisconnectedError(`cannot connect to ${address}: ${e.message}`, { cause: e }),
        ),
      )
    })
    socket.on('error', () => {}) // from here on, reported through admission or the link
    await seekAdmission(socketIO(socket), secret)
    const link = linkSocket(socket, {
      name: `server ${address}`,
      ...options.limits,
      handshakeTimeoutMs: timeout,
      idleTimeoutMs: idle > 0 ? idle : undefined,
    })
    await link.ready
    return new Peer<ToServer, ToClient>(link, describeSocket(socket, a.kind === 'unix' ? a.path : null))
  } catch (e) {
    socket.destroy()
    throw e
  } finally {
    clearTimeout(timer)
  }
}

/** Over NATS: the rendezvous with one listener of the name (src/nats/), then admission and the link over its wire. */
async function connectNats<ToServer, ToClient>(
  a: NatsAddress,
  address: string,
  secret: Buffer | null,
  timeout: number,
  idle: number,
  options: ConnectOptions,
): Promise<Peer<ToServer, ToClient>> {
  const deadline = Date.now() + timeout
  const nats = await import('../nats/index.js')
  const wire = await nats.dialNats(a, { ...options.nats, timeout })
  const { io, rest } = admissionOverWire(wire)
  const timer = setTimeout(() => io.destroy(), Math.max(1, deadline - Date.now()))
  try {
    await seekAdmission(io, secret)
    const link = new LinkImpl(rest, {
      name: `server ${address}`,
      ...options.limits,
      handshakeTimeoutMs: timeout,
      idleTimeoutMs: idle > 0 ? idle : undefined,
    })
    await link.ready
    return new Peer<ToServer, ToClient>(link, { address })
  } catch (e) {
    io.destroy()
    if (Date.now() >= deadline && !(e instanceof TimeoutError)) throw new TimeoutError(`connecting to ${address} took more than ${timeout} ms`, { cause: e })
    throw e
  } finally {
    clearTimeout(timer)
  }
}
