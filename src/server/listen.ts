/**
 * `listen()`: a server for many clients over a Unix socket, TCP, TLS or NATS. Each client is admitted
 * (server capacity, shared secret; admission.ts), then gets a link of its own and arrives as a Peer.
 * Over NATS (src/nats/, loaded only for a nats:// address) the listener is one of a queue group:
 * several processes may listen on one name, and each new client is linked to one of them.
 */
import * as net from 'node:net'
import * as tls from 'node:tls'
import type { Duplex } from 'node:stream'
import { AuthenticationError, DisconnectedError, TimeoutError } from '../errors.js'
import { giveUpWith, type RecvOptions } from '../channel/index.js'
import type { LinkLimits } from '../link/limits.js'
import { LinkImpl } from '../link/link.js'
import type { NatsOptions } from '../nats/index.js'
import type { Wire } from '../wire/wire.js'
import { formatAddress, parseAddress, type Address } from './address.js'
import { admitClient, secretBytes, socketIO } from './admission.js'
import { Peer, describeSocket, linkSocket, type PeerAddress } from './peer.js'
import { prepareSocketPath, removeSocketFile, secureSocketFile } from './unix-socket.js'
import { admissionOverWire } from './wire-admission.js'

export interface ListenOptions {
  /** Admit only clients that prove they know this secret (challenge and response; it never crosses the wire). */
  secret?: string | Uint8Array
  /** For `tls://`: options of `tls.createServer` (key, cert, ca, requestCert, rejectUnauthorized, ...). */
  tls?: tls.TlsOptions
  /** For `nats://`: the NATS client's connection options, the credit window (see NatsOptions). */
  nats?: NatsOptions
  /** Most clients at once (admitting or linked); more are refused with a clear error. Default 1,024. */
  maxClients?: number
  /** Time a new client has to be admitted and finish the link handshake, in ms. Default 10,000. */
  handshakeTimeoutMs?: number
  /** A client silent for this long (no data, no heartbeat) is dropped. Default 30,000; 0 turns it off. */
  idleTimeoutMs?: number
  /** Per-link limits (see LinkLimits). */
  limits?: Partial<LinkLimits>
  /** Told of every client that was turned away or failed before becoming a Peer (default: ignored). */
  onReject?: (error: Error, remote: { address?: string; port?: number }) => void
}

export const DEFAULT_MAX_CLIENTS = 1024
export const DEFAULT_IDLE_TIMEOUT_MS = 30_000

export class Server<ToClient, ToServer> implements AsyncIterable<Peer<ToClient, ToServer>> {
  /** The address clients connect to (with the actual port when 0 was asked for). */
  readonly address: string
  readonly #stop: () => Promise<void>
  readonly #peers = new Set<Peer<ToClient, ToServer>>()
  readonly #ready: Peer<ToClient, ToServer>[] = []
  readonly #waiters: { resolve: (p: Peer<ToClient, ToServer>) => void; reject: (e: unknown) => void }[] = []
  #clients = 0
  #closing: Promise<void> | null = null

  /** @internal use listen() */
  constructor(stop: () => Promise<void>, address: string) {
    this.#stop = stop
    this.address = address
  }

  /** Peers linked now. */
  get peers(): ReadonlySet<Peer<ToClient, ToServer>> {
    return this.#peers
  }

  /** The next client. Rejects with `DisconnectedError` once the server is closed. */
  accept(options?: RecvOptions): Promise<Peer<ToClient, ToServer>> {
    const p = this.#ready.shift()
    if (p) return Promise.resolve(p)
    if (this.#closing) return Promise.reject(new DisconnectedError('the server is closed'))
    return giveUpWith<Peer<ToClient, ToServer>>(options, 'accept', (resolve, reject) => {
      const w = { resolve, reject }
      this.#waiters.push(w)
      return () => this.#waiters.splice(this.#waiters.indexOf(w), 1)
    })
  }

  /** `for await (const peer of server)`: every client, until the server is closed. */
  async *[Symbol.asyncIterator](): AsyncGenerator<Peer<ToClient, ToServer>, void, undefined> {
    for (;;) {
      try {
        yield await this.accept()
      } catch (e) {
        if (e instanceof DisconnectedError && this.#closing) return
        throw e
      }
    }
  }

  /** @internal A client is linked. */
  add(peer: Peer<ToClient, ToServer>): void {
    if (this.#closing) return peer.close('the server is closing') // admitted while close() ran
    this.#peers.add(peer)
    void peer.closed.then(() => {
      this.#peers.delete(peer)
      // A client that left before it was accepted is still handed out if it sent anything: nothing it sent is lost.
      const i = this.#ready.indexOf(peer)
      if (i >= 0 && peer.unread === 0) this.#ready.splice(i, 1)
    })
    const w = this.#waiters.shift()
    if (w) w.resolve(peer)
    else this.#ready.push(peer)
  }

  /** @internal Count a connection in; false if the server is full or closing. */
  enter(): boolean {
    if (this.#closing) return false
    this.#clients++
    return true
  }
  /** @internal */
  leave(): void {
    this.#clients--
  }
  get clients(): number {
    return this.#clients
  }

  /**
   * Stop accepting and close every peer's link in order (their pending receives and calls settle
   * with `DisconnectedError`); resolves when every connection is gone and the socket file removed.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      const stopped = this.#stop() // no new clients from here on
      for (const w of this.#waiters.splice(0)) w.reject(new DisconnectedError('the server is closed'))
      for (const p of [...this.#peers]) p.close('the server is closing')
      await Promise.all([...this.#peers].map((p) => p.closed))
      await stopped
    })()
    return this.#closing
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }
}

/**
 * Listen for clients at `address` (`unix:/path`, `tcp://host:port`, `tls://host:port`,
 * `nats://host:port/name`). TCP and TLS bind to loopback unless the address names another host.
 */
export async function listen<ToClient, ToServer>(address: string, options: ListenOptions = {}): Promise<Server<ToClient, ToServer>> {
  const a = parseAddress(address)
  const secret = secretBytes(options.secret)
  const maxClients = options.maxClients ?? DEFAULT_MAX_CLIENTS
  if (!Number.isInteger(maxClients) || maxClients < 1) throw new RangeError(`maxClients must be a positive integer, got ${maxClients}`)
  const handshakeTimeoutMs = options.handshakeTimeoutMs ?? options.limits?.handshakeTimeoutMs ?? 10_000
  const idle = options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS
  if (a.kind === 'tls' && !options.tls) throw new TypeError('a tls:// address needs options.tls (at least key and cert)')
  const settings = { secret, maxClients, handshakeTimeoutMs, idle, options }
  if (a.kind === 'nats') {
    const nats = await import('../nats/index.js')
    let server: Server<ToClient, ToServer> | null = null
    const listener = await nats.listenNats(a, { ...options.nats, timeout: handshakeTimeoutMs }, (wire, id) => {
      if (server) void welcomeWire(server, wire, `client ${id} on ${server.address}`, { address: id }, settings)
      else wire.destroy()
    })
    server = new Server<ToClient, ToServer>(() => listener.close(), formatAddress(a))
    return server
  }

  const unixPath = a.kind === 'unix' ? await prepareSocketPath(a.path) : null
  let server: Server<ToClient, ToServer> | null = null
  const onSocket = (socket: Duplex & net.Socket) => {
    if (server) void welcome(server, socket, a, unixPath, settings)
    else socket.destroy()
  }
  const net_ = a.kind === 'tls' ? tls.createServer(options.tls!, onSocket) : net.createServer(onSocket)
  if (a.kind === 'tls') {
    net_.on('tlsClientError', (e, socket) => options.onReject?.(e, { address: socket.remoteAddress, port: socket.remotePort }))
  }
  await new Promise<void>((resolve, reject) => {
    net_.once('error', reject)
    const done = () => {
      net_.off('error', reject)
      resolve()
    }
    if (unixPath) net_.listen(unixPath, done)
    else net_.listen((a as { port: number }).port, (a as { host: string }).host, done)
  })
  net_.on('error', () => {}) // after listening, errors belong to single connections
  let actual: Address = a
  if (unixPath) {
    await secureSocketFile(unixPath)
    actual = { kind: 'unix', path: unixPath }
  } else {
    const info = net_.address() as net.AddressInfo
    actual = { kind: a.kind as 'tcp' | 'tls', host: info.address, port: info.port }
  }
  const stop = async () => {
    await new Promise<void>((r) => net_.close(() => r()))
    if (unixPath) await removeSocketFile(unixPath)
  }
  server = new Server<ToClient, ToServer>(stop, formatAddress(actual))
  return server
}

interface Settings {
  secret: Buffer | null
  maxClients: number
  handshakeTimeoutMs: number
  idle: number
  options: ListenOptions
}

/** Admit one connection and link it; a failure closes it and goes to `onReject`. */
async function welcome<A, B>(server: Server<A, B>, socket: Duplex & net.Socket, a: Address, unixPath: string | null, s: Settings): Promise<void> {
  const remote = { address: socket.remoteAddress ?? unixPath ?? undefined, port: socket.remotePort }
  socket.on('error', () => {}) // reported through admission or the link
  const full = server.clients >= s.maxClients
  const counted = !full && server.enter()
  const timer = setTimeout(() => socket.destroy(new TimeoutError(`no handshake within ${s.handshakeTimeoutMs} ms`)), s.handshakeTimeoutMs)
  try {
    await admitClient(socketIO(socket), s.secret, !counted)
    const link = linkSocket(socket, {
      name: `client ${a.kind === 'unix' ? 'on ' + unixPath : `${remote.address}:${remote.port}`}`,
      ...s.options.limits,
      handshakeTimeoutMs: s.handshakeTimeoutMs,
      idleTimeoutMs: s.idle > 0 ? s.idle : undefined,
    })
    await link.ready
    clearTimeout(timer)
    void link.closed.then(() => server.leave())
    server.add(new Peer<A, B>(link, describeSocket(socket, unixPath)))
  } catch (e) {
    clearTimeout(timer)
    if (counted) server.leave()
    socket.destroy()
    s.options.onReject?.(e as Error, remote)
  }
}

/** Admit a client that arrived as a Wire (over NATS) and link it, as `welcome` does a socket. */
async function welcomeWire<A, B>(server: Server<A, B>, wire: Wire, name: string, remote: PeerAddress, s: Settings): Promise<void> {
  const full = server.clients >= s.maxClients
  const counted = !full && server.enter()
  const { io, rest } = admissionOverWire(wire)
  const timer = setTimeout(() => io.destroy(), s.handshakeTimeoutMs)
  try {
    await admitClient(io, s.secret, !counted)
    const link = new LinkImpl(rest, {
      name,
      ...s.options.limits,
      handshakeTimeoutMs: s.handshakeTimeoutMs,
      idleTimeoutMs: s.idle > 0 ? s.idle : undefined,
    })
    await link.ready
    clearTimeout(timer)
    void link.closed.then(() => server.leave())
    server.add(new Peer<A, B>(link, remote))
  } catch (e) {
    clearTimeout(timer)
    if (counted) server.leave()
    // A refusal was written and the wire closed behind it (destroying it now could overtake it).
    if (!(e instanceof AuthenticationError)) io.destroy()
    s.options.onReject?.(e as Error, remote)
  }
}
