/**
 * OneShotServer: one client, one channel, found by name (ipc-channel's IpcOneShotServer). The name
 * is the path of a Unix socket in a fresh private directory (0700, socket 0600); both are removed
 * once the client is accepted or the server closes.
 */
import { mkdtemp, chmod, rm, stat } from 'node:fs/promises'
import * as net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { channel, giveUpWith, setConnector, Sender, type Receiver, type RecvOptions } from '../channel/index.js'
import { DisconnectedError } from '../errors.js'
import { LinkImpl } from '../link/link.js'
import type { LinkLimits } from '../link/limits.js'
import { duplexWire } from '../wire/duplex.js'
import { bootstrapReceiver, bootstrapSender } from '../channel/index.js'

export interface OneShotOptions {
  limits?: Partial<LinkLimits>
}

const REFUSED = 'this OneShotServer has already accepted its client'

export class OneShotServer<T> {
  readonly name: string
  #dir: string
  #server: net.Server
  #first: Promise<{ rx: Receiver<T>; link: LinkImpl }>
  #closed = false

  private constructor(dir: string, name: string, server: net.Server, first: Promise<{ rx: Receiver<T>; link: LinkImpl }>) {
    this.#dir = dir
    this.name = name
    this.#server = server
    this.#first = first
  }

  /** Listen for one client. */
  static async create<T>(options: OneShotOptions = {}): Promise<OneShotServer<T>> {
    const dir = await mkdtemp(join(tmpdir(), 'ipfi-'))
    await chmod(dir, 0o700)
    const name = join(dir, 'socket')
    const server = net.createServer()
    let taken = false
    const first = new Promise<{ rx: Receiver<T>; link: LinkImpl }>((resolve, reject) => {
      server.on('connection', (socket) => {
        const link = new LinkImpl(duplexWire(socket), { name: 'OneShotServer client', ...options.limits, closeWhenIdle: true })
        if (taken) return link.close(REFUSED)
        taken = true
        const [tx, rx] = channel<T>()
        const boot = bootstrapSender<Sender<T>>(link)
        boot.send(tx)
        boot.close()
        server.close()
        // The name is gone before accept() resolves (an error removing it is not the client's problem).
        rm(dir, { recursive: true, force: true }).then(
          () => resolve({ rx, link }),
          () => resolve({ rx, link }),
        )
      })
      server.once('close', () => {
        if (!taken) reject(new DisconnectedError('the OneShotServer was closed before a client connected'))
      })
    })
    first.catch(() => {})
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(name, () => {
        server.off('error', reject)
        resolve()
      })
    })
    await chmod(name, 0o600)
    const mode = (await stat(dir)).mode & 0o777
    if (mode !== 0o700) throw new Error(`ipfi: OneShotServer directory ${dir} has mode ${mode.toString(8)}, expected 700`)
    return new OneShotServer<T>(dir, name, server, first)
  }

  /**
   * Wait for the client and its first message: `[receiver, firstMessage]`. A `timeout` covers both
   * (the client's connecting and its first message), and giving up loses nothing: the client and
   * its message still come to a later accept.
   */
  accept(options?: RecvOptions): Promise<[Receiver<T>, T]> {
    return giveUpWith<[Receiver<T>, T]>(options, 'accept', (resolve, reject) => {
      const stop = new AbortController()
      this.#first.then(({ rx }) => {
        if (stop.signal.aborted) return
        rx.recv({ signal: stop.signal }).then((first) => resolve([rx, first]), reject)
      }, reject)
      return () => stop.abort()
    })
  }

  /**
   * Stop listening and remove the socket (idempotent). An accepted client stays connected; its link
   * closes by itself once the channel it carries is gone on both sides.
   */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await new Promise<void>((r) => (this.#server.listening ? this.#server.close(() => r()) : r()))
    await rm(this.#dir, { recursive: true, force: true })
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }
}

/** Sender.connect(name): link to a OneShotServer and receive the sender it hands out. */
async function connect(name: string, options: { timeout?: number; limits?: Partial<LinkLimits> } = {}): Promise<Sender<unknown>> {
  const socket = net.connect(name)
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve)
    socket.once('error', (err) =>
      reject(new DisconnectedError(`no OneShotServer is listening at ${name} (it may have accepted its client already, or closed)`, { cause: err })),
    )
  })
  const link = new LinkImpl(duplexWire(socket), { name: `OneShotServer ${name}`, ...options.limits, closeWhenIdle: true })
  const inbox = bootstrapReceiver<Sender<unknown>>(link)
  try {
    const tx = await inbox.recv({ timeout: options.timeout })
    if (!(tx instanceof Sender)) throw new DisconnectedError('the OneShotServer sent no sender')
    return tx
  } finally {
    inbox.close()
  }
}

setConnector(connect)
