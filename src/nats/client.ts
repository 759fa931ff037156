/**
 * The NATS client, loaded only when a `nats://` address is used: `@nats-io/transport-node` is an
 * optional peer dependency, so a program that never names a NATS address needs nothing more.
 *
 * Connections are shared: every listener and link of this process that names the same servers
 * (and passes no connection options of its own) uses one NATS connection, counted, and closed when
 * the last of them is gone. Each wire on a connection is told when the client reconnected (it
 * resumes: docs/PROTOCOL.md Appendix C) and when the connection closed for good (it fails).
 */
import { ConnectionLostError, DisconnectedError } from '../errors.js'
import type { NatsConnection } from '@nats-io/transport-node'

/** The package, as this layer uses it. */
type NatsModule = typeof import('@nats-io/transport-node')

const PACKAGE = '@nats-io/transport-node'
/** How long the last user's release waits for the connection to flush before it closes it. */
const FLUSH_ON_CLOSE_MS = 1000
let loading: Promise<NatsModule> | null = null

function load(): Promise<NatsModule> {
  loading ??= import(PACKAGE).catch((e: unknown) => {
    loading = null
    throw Object.assign(
      new Error(`ipfi: nats:// addresses need the NATS client: npm install ${PACKAGE} (${(e as Error).message})`, { cause: e }),
      { code: 'ERR_IPFI_NATS_CLIENT_MISSING' },
    )
  }) as Promise<NatsModule>
  return loading
}

/** What a wire on a shared connection is told. */
export interface ConnectionWatcher {
  /** The client reconnected (to the same server or another one of the cluster). */
  reconnected(server: string): void
  /** The connection closed for good: every wire on it fails with `cause`. */
  lost(cause: ConnectionLostError): void
}

export interface Subscription {
  unsubscribe(): void
}

export class SharedConnection {
  readonly nc: NatsConnection
  readonly servers: string
  #users = 0
  /** Users that want the process kept alive by this connection (a listener; a wire someone waits on). */
  #holds = 0
  #closing = false
  readonly #watchers = new Set<ConnectionWatcher>()
  readonly #forget: () => void

  constructor(nc: NatsConnection, servers: string, forget: () => void) {
    this.nc = nc
    this.servers = servers
    this.#forget = forget
    this.#patchHeartbeats()
    this.#applyRef()
    void this.#watch()
  }

  /**
   * Whether `user` wants the process kept alive by this connection. As a socket link does, a
   * connection none of whose users holds it lets an idle program exit: its socket and the NATS
   * client's ping timer are unref'ed (the client's internals, reached with care: a client without
   * them keeps the process alive as before). Between reconnect attempts the client's own timers
   * hold the process.
   */
  hold(on: boolean): void {
    this.#holds += on ? 1 : -1
    this.#applyRef()
  }

  #internals(): { socket?: { ref?(): void; unref?(): void }; heartbeats?: { timer?: { ref?(): void; unref?(): void }; _schedule?: () => void } } {
    const p = (this.nc as unknown as { protocol?: { transport?: { socket?: unknown }; heartbeats?: unknown } }).protocol
    return { socket: p?.transport?.socket as never, heartbeats: p?.heartbeats as never }
  }

  #applyRef(): void {
    const { socket, heartbeats } = this.#internals()
    const f = this.#holds > 0 ? 'ref' : 'unref'
    if (typeof socket?.[f] === 'function') socket[f]!()
    const t = heartbeats?.timer
    if (typeof t?.[f] === 'function') t[f]!()
  }

  /** The ping timer is set again after each ping: unref each new one while nothing holds. */
  #patchHeartbeats(): void {
    const hb = this.#internals().heartbeats
    const schedule = hb?._schedule
    if (!hb || typeof schedule !== 'function') return
    hb._schedule = () => {
      schedule.call(hb)
      if (this.#holds === 0) hb.timer?.unref?.()
    }
  }

  async #watch(): Promise<void> {
    void this.nc.closed().then((err) => {
      this.#forget()
      const why = err ? `: ${(err as Error).message}` : this.#closing ? '' : ' (closed by the application)'
      const cause = new ConnectionLostError(`the NATS connection to ${this.servers} closed${why}`, err ? { cause: err } : undefined)
      for (const w of [...this.#watchers]) w.lost(cause)
    })
    try {
      for await (const s of this.nc.status()) {
        if (s.type === 'reconnect') {
          this.#applyRef() // a new socket
          for (const w of [...this.#watchers]) w.reconnected(s.server)
        }
      }
    } catch {
      // the connection closed: reported above
    }
  }

  /** The largest payload the server we are connected to takes now. */
  maxPayload(): number {
    return this.nc.info?.max_payload ?? 1024 * 1024
  }

  get isClosed(): boolean {
    return this.nc.isClosed()
  }

  publish(subject: string, bytes: Uint8Array): void {
    this.nc.publish(subject, bytes)
  }

  /** Deliver each message's payload to `onMessage`, synchronously as it is read. */
  subscribe(subject: string, onMessage: (data: Uint8Array, reply: string | undefined) => void, queue?: string): Subscription {
    const sub = this.nc.subscribe(subject, {
      queue,
      callback: (err, msg) => {
        if (!err) onMessage(msg.data, msg.reply)
      },
    })
    return { unsubscribe: () => !this.nc.isClosed() && sub.unsubscribe() }
  }

  watch(w: ConnectionWatcher): () => void {
    this.#watchers.add(w)
    return () => this.#watchers.delete(w)
  }

  acquire(): void {
    this.#users++
  }

  /**
   * One user fewer; the last one closes the connection, after what was published is flushed. A
   * connection that is not connected then (its server gone, the client reconnecting) would flush
   * only once reconnected, and reconnect for ever: it waits a moment at most, then closes.
   */
  release(): void {
    if (--this.#users > 0 || this.#closing) return
    this.#closing = true
    this.#forget()
    let timer: NodeJS.Timeout | undefined
    const most = new Promise<void>((r) => {
      timer = setTimeout(r, FLUSH_ON_CLOSE_MS)
      timer.unref()
    })
    void Promise.race([this.nc.flush().catch(() => {}), most])
      .then(() => {
        clearTimeout(timer)
        return this.nc.close()
      })
      .catch(() => {})
  }
}

const shared = new Map<string, Promise<SharedConnection>>()

export interface ConnectionOptions {
  /** Options of the NATS client's connect() (user, pass, token, tls, name, ...), `servers` excepted. */
  connection?: Record<string, unknown>
  /** Time to reach a server, in ms. */
  timeout?: number
}

/**
 * A connection to `servers` (host:port, comma-separated), counted for the caller: call
 * `release()` once done. Shared with every other user of the same servers that passed no
 * `connection` options; with options, a connection of its own.
 */
export async function acquireConnection(servers: string[], options: ConnectionOptions = {}): Promise<SharedConnection> {
  const key = servers.join(',')
  const own = options.connection !== undefined
  const open = async (): Promise<SharedConnection> => {
    const nats = await load()
    let nc: NatsConnection
    try {
      nc = await nats.connect({
        name: 'ipfi',
        maxReconnectAttempts: -1,
        reconnectTimeWait: 250,
        ...(options.timeout !== undefined ? { timeout: options.timeout } : {}),
        ...options.connection,
        servers,
      })
    } catch (e) {
      throw new DisconnectedError(`cannot reach the NATS server at ${key}: ${(e as Error).message}`, { cause: e })
    }
    return new SharedConnection(nc, key, own ? () => {} : () => shared.get(key) === pending && shared.delete(key))
  }
  let pending: Promise<SharedConnection>
  if (own) pending = open()
  else {
    const existing = shared.get(key)
    if (existing) pending = existing
    else {
      pending = open()
      shared.set(key, pending)
      pending.catch(() => shared.get(key) === pending && shared.delete(key))
    }
  }
  const c = await pending
  c.acquire()
  return c
}
