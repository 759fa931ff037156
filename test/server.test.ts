import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { within } from './support/async.js'
import {
  AddressInUseError,
  AuthenticationError,
  ConnectionLostError,
  DisconnectedError,
  connectWire,
  connect,
  currentCall,
  duplexWire,
  expose,
  fork,
  listen,
  remote,
  channel,
  type Endpoint,
  type Peer,
  type Sender,
  type Server,
} from 'ipfi'
import { expectOrderly } from './support/ends.js'

const base = mkdtempSync(join(tmpdir(), 'ipfi-server-test-'))
let n = 0
const unixAddress = () => `unix:${join(base, `d${n++}`, 'app.sock')}`
afterAll(() => rmSync(base, { recursive: true, force: true }))

const tlsFile = (f: string) => readFileSync(new URL(`./fixtures/tls/${f}`, import.meta.url))

type Api = { echo(client: number, i: number): [number, number]; slow(): Promise<string> }

/** Serve every peer an endpoint; `started` counts slow calls that began, `aborted` those whose caller went away. */
function serve(server: Server<Endpoint<Api>, unknown>) {
  const stats = { started: 0, aborted: 0 }
  void (async () => {
    for await (const peer of server) {
      peer.sender.send(
        expose({
          echo: (client: number, i: number) => [client, i] as [number, number],
          slow: () =>
            new Promise<string>((resolve) => {
              stats.started++
              const signal = currentCall()!.signal
              signal.addEventListener('abort', () => {
                stats.aborted++
                resolve('aborted')
              })
            }),
        }),
      )
    }
  })()
  return stats
}

const until = async (cond: () => boolean, what: string, ms = 10_000) => {
  const end = Date.now() + ms
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

describe('listen() and connect()', () => {
  for (const kind of ['unix', 'tcp'] as const) {
    it(`100 clients at once on ${kind}, in 4 processes, each making 1,000 calls: nothing lost or crossed`, { timeout: 120_000 }, async () => {
      const server = await listen<Endpoint<Api>, unknown>(kind === 'unix' ? unixAddress() : 'tcp://127.0.0.1:0')
      serve(server)
      const children = Array.from({ length: 4 }, (_, c) =>
        fork<never, { ok: number; wrong: number; errors: string[] }>(
          async ({ sender, data, ipfi }) => {
            const { address, first, clients, calls } = data as { address: string; first: number; clients: number; calls: number }
            const { connect, remote } = ipfi as unknown as typeof import('ipfi')
            let ok = 0
            let wrong = 0
            const errors: string[] = []
            await Promise.all(
              Array.from({ length: clients }, async (_, k) => {
                const id = first + k
                try {
                  const peer = await connect<unknown, Endpoint<Api>>(address)
                  const api = remote(await peer.receiver.recv())
                  for (let i = 0; i < calls; i += 100) {
                    const batch = await Promise.all(Array.from({ length: 100 }, (_, j) => api.echo(id, i + j)))
                    batch.forEach(([c, v], j) => (c === id && v === i + j ? ok++ : wrong++))
                  }
                  peer.close()
                } catch (e) {
                  errors.push(String(e))
                }
              }),
            )
            sender.send({ ok, wrong, errors })
          },
          { data: { address: server.address, first: c * 25, clients: 25, calls: 1000 } },
        ),
      )
      const reports = await Promise.all(children.map((c) => c.receiver.recv()))
      await Promise.all(children.map((c) => c.exited))
      expect(reports.flatMap((r) => r.errors)).toEqual([])
      expect(reports.reduce((s, r) => s + r.wrong, 0)).toBe(0)
      expect(reports.reduce((s, r) => s + r.ok, 0)).toBe(100 * 1000)
      await server.close()
    })
  }

  it('handles pass between clients through the server: a sender from one client works in another', { timeout: 30_000 }, async () => {
    const server = await listen<unknown, unknown>(unixAddress())
    const a = await connect<unknown, unknown>(server.address)
    const pa = await server.accept()
    const b = await connect<unknown, unknown>(server.address)
    const pb = await server.accept()
    const [tx, rx] = channel<string>()
    a.sender.send({ reply: tx }) // client A -> server
    const got = (await pa.receiver.recv()) as { reply: Sender<string> }
    pb.sender.send(got) // server -> client B, the sender moves on
    const atB = (await b.receiver.recv()) as { reply: Sender<string> }
    atB.reply.send('from B, through the server')
    expect(await rx.recv()).toBe('from B, through the server')
    // B going away (in order) disconnects only what crossed B's link, as a closed channel.
    b.close()
    expectOrderly(await rx.recv().then(() => 'resolved', (e: unknown) => e))
    a.sender.send('A is fine')
    expect(await pa.receiver.recv()).toBe('A is fine')
    a.close()
    await server.close()
  })

  it('a client killed mid-call: its call is aborted on the server; the server and other clients go on', { timeout: 30_000 }, async () => {
    const server = await listen<Endpoint<Api>, unknown>('tcp://127.0.0.1:0')
    const stats = serve(server)
    const child = fork<never, string>(
      async ({ sender, data, ipfi }) => {
        const { connect, remote } = ipfi as unknown as typeof import('ipfi')
        const peer = await connect<unknown, Endpoint<Api>>(data as string)
        const api = remote(await peer.receiver.recv())
        void api.slow()
        sender.send('calling')
        await new Promise(() => {}) // hold until killed
      },
      { data: server.address },
    )
    const other = await connect<unknown, Endpoint<Api>>(server.address)
    const api = remote(await other.receiver.recv())
    expect(await child.receiver.recv()).toBe('calling')
    await until(() => stats.started === 1, 'the slow call to start')
    child.kill('SIGKILL')
    expect((await child.exited).signal).toBe('SIGKILL')
    await until(() => stats.aborted === 1, "the killed client's call to be aborted")
    expect(await api.echo(7, 8)).toEqual([7, 8])
    expect(server.peers.size).toBe(1)
    other.close()
    await server.close()
  })

  it('server.close() with calls in flight settles every client at once, and stops accepting', { timeout: 30_000 }, async () => {
    const server = await listen<Endpoint<Api>, unknown>(unixAddress())
    serve(server)
    const peers = await Promise.all([1, 2, 3].map(() => connect<unknown, Endpoint<Api>>(server.address)))
    const apis = await Promise.all(peers.map(async (p) => remote(await p.receiver.recv())))
    const pending = apis.map((a) => a.slow())
    const settled = pending.map((p) => p.then(() => 'resolved', (e: unknown) => e))
    await server.close()
    // The server said goodbye: an orderly end, not a loss.
    for (const s of await Promise.all(settled)) expectOrderly(s)
    for (const p of peers) expectOrderly(await p.closed)
    await expect(connect(server.address, { timeout: 2000 })).rejects.toBeInstanceOf(DisconnectedError)
    await expect(server.accept()).rejects.toBeInstanceOf(DisconnectedError)
  })

  it('a client admitted while server.close() runs is closed too, and close() does not wait for it', { timeout: 30_000 }, async () => {
    const server = await listen('tcp://127.0.0.1:0', { idleTimeoutMs: 0 })
    const port = Number(server.address.split(':').pop())
    const socket = net.connect(port, '127.0.0.1')
    socket.on('error', () => {})
    /** The next `n` bytes; later ones are put back for the link. */
    const read = (n: number) =>
      new Promise<Buffer>((resolve) => {
        let have = Buffer.alloc(0)
        const onData = (d: Buffer) => {
          have = Buffer.concat([have, d])
          if (have.length < n) return
          socket.off('data', onData)
          socket.pause()
          if (have.length > n) socket.unshift(have.subarray(n))
          resolve(have.subarray(0, n))
        }
        socket.on('data', onData)
        socket.resume()
      })
    expect((await read(39)).subarray(0, 4).toString()).toBe('IPFA') // the offer: the server counts this client
    const closing = server.close()
    // The answer without a secret: magic, version 1, flags 0, an empty proof, a nonce.
    socket.write(Buffer.concat([Buffer.from('IPFA'), Buffer.from([1, 0]), Buffer.alloc(32), Buffer.alloc(32, 7)]))
    expect((await read(38))[5]).toBe(0) // admitted
    const { link } = connectWire(duplexWire(socket))
    socket.resume()
    await link.ready
    let timer: NodeJS.Timeout | undefined
    const guard = new Promise((_, reject) => (timer = setTimeout(() => reject(new Error('server.close() waited for the late client')), 5000)))
    await Promise.race([closing, guard]).finally(() => clearTimeout(timer))
    expectOrderly(await link.closed)
    expect(server.peers.size).toBe(0)
  })

  describe('admission', () => {
    it('a shared secret: right is admitted; wrong and missing are refused on both sides before any channel exists', { timeout: 30_000 }, async () => {
      const rejected: string[] = []
      const server = await listen<string, unknown>('tcp://127.0.0.1:0', { secret: 'open sesame', onReject: (e) => rejected.push(`${e.name}: ${e.message}`) })
      void (async () => {
        for await (const peer of server) peer.sender.send('welcome')
      })()
      const good = await connect<unknown, string>(server.address, { secret: 'open sesame' })
      expect(await good.receiver.recv()).toBe('welcome')
      const wrong = await connect(server.address, { secret: 'open says me' }).catch((e: unknown) => e)
      expect(wrong).toBeInstanceOf(AuthenticationError)
      expect((wrong as Error).message).toMatch(/refused the shared secret/)
      const none = await connect(server.address).catch((e: unknown) => e)
      expect(none).toBeInstanceOf(AuthenticationError)
      expect((none as Error).message).toMatch(/requires a shared secret/)
      await until(() => rejected.length === 2, 'the server to report both refusals')
      expect(rejected).toEqual(['AuthenticationError: the client gave a wrong shared secret', 'AuthenticationError: the client gave no shared secret'])
      expect(server.peers.size).toBe(1)
      // A client with a secret refuses a server that does not check one.
      const open = await listen('tcp://127.0.0.1:0')
      const e = await connect(open.address, { secret: 'x' }).catch((err: unknown) => err)
      expect(e).toBeInstanceOf(AuthenticationError)
      expect((e as Error).message).toMatch(/does not check one/)
      good.close()
      await Promise.all([server.close(), open.close()])
    })

    it('garbage bytes instead of a handshake are refused; a client that says nothing is closed at the handshake timeout', { timeout: 30_000 }, async () => {
      const rejected: Error[] = []
      const server = await listen('tcp://127.0.0.1:0', { handshakeTimeoutMs: 300, onReject: (e) => rejected.push(e) })
      const port = Number(server.address.split(':').pop())
      const talk = (bytes: Buffer | null) =>
        new Promise<{ got: Buffer; closed: boolean }>((resolve) => {
          const s = net.connect(port, '127.0.0.1')
          const got: Buffer[] = []
          s.on('data', (d) => got.push(d))
          s.on('error', () => {})
          s.on('close', () => resolve({ got: Buffer.concat(got), closed: true }))
          if (bytes) s.write(bytes)
        })
      const garbage = await talk(Buffer.alloc(200, 0x41))
      expect(garbage.closed).toBe(true)
      expect(garbage.got.subarray(0, 4).toString()).toBe('IPFA') // the offer, then a refusal
      expect(garbage.got[garbage.got.length - 33]).toBe(4) // VERDICT status 4: not an ipfi answer
      const silent = await talk(null)
      expect(silent.closed).toBe(true)
      await until(() => rejected.length === 2, 'both refusals')
      expect(rejected[0]!.message).toMatch(/did not send an ipfi handshake/)
      expect(rejected[1]!.message).toMatch(/no handshake within 300 ms/)
      expect(server.clients).toBe(0)
      // The server still takes good clients.
      const ok = await connect(server.address)
      ok.close()
      await server.close()
    })

    it('a flood of connections past maxClients: the extra ones are refused with a clear error; a freed place is taken again', { timeout: 30_000 }, async () => {
      const server = await listen('unix:' + join(base, `flood${n++}`, 's'), { maxClients: 5 })
      const results = await Promise.allSettled(Array.from({ length: 20 }, () => connect(server.address)))
      const ok = results.filter((r) => r.status === 'fulfilled').map((r) => (r as PromiseFulfilledResult<Peer<unknown, unknown>>).value)
      const refused = results.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason as Error)
      expect(ok.length).toBe(5)
      expect(refused.length).toBe(15)
      for (const e of refused) {
        expect(e).toBeInstanceOf(AuthenticationError)
        expect(e.message).toMatch(/maximum number of clients/)
      }
      ok[0]!.close()
      await until(() => server.clients === 4, 'the place to be freed')
      const again = await connect(server.address)
      again.close()
      for (const p of ok) p.close()
      await server.close()
    })
  })

  describe('TLS', () => {
    const serverTls = { key: tlsFile('server.key'), cert: tlsFile('server.crt'), ca: tlsFile('ca.crt'), requestCert: true, rejectUnauthorized: true }

    it('with client certificates: a trusted client is linked (its certificate is known); an untrusted one and a client that does not trust the server are refused', { timeout: 30_000 }, async () => {
      const rejected: Error[] = []
      const server = await listen<string, unknown>('tls://127.0.0.1:0', { tls: serverTls, onReject: (e) => rejected.push(e) })
      void (async () => {
        for await (const peer of server) peer.sender.send(`hello ${String(peer.remote.certificateSubject?.CN)}`)
      })()
      const good = await connect<unknown, string>(server.address, { tls: { ca: tlsFile('ca.crt'), key: tlsFile('client.key'), cert: tlsFile('client.crt') } })
      expect(await good.receiver.recv()).toBe('hello ipfi test client')
      const rogue = await connect(server.address, { tls: { ca: tlsFile('ca.crt'), key: tlsFile('rogue-client.key'), cert: tlsFile('rogue-client.crt') }, timeout: 5000 }).catch((e: unknown) => e)
      expect(rogue).toBeInstanceOf(Error)
      expect(rogue).not.toBeInstanceOf(ConnectionLostError) // never linked
      const distrust = await connect(server.address, { tls: { ca: tlsFile('other-ca.crt'), key: tlsFile('client.key'), cert: tlsFile('client.crt') } }).catch((e: unknown) => e)
      expect(distrust).toBeInstanceOf(AuthenticationError)
      expect((distrust as Error).message).toMatch(/TLS handshake/)
      await until(() => rejected.length >= 1, 'the server to report the refused certificate')
      expect(server.peers.size).toBe(1)
      good.close()
      await server.close()
    })
  })

  describe('Unix socket files', () => {
    it('the directory is created 0700 and the socket is 0600; the file is removed on close', async () => {
      const dir = join(base, `perm${n++}`)
      const server = await listen(`unix:${join(dir, 'app.sock')}`)
      expect(statSync(dir).mode & 0o777).toBe(0o700)
      expect(statSync(join(dir, 'app.sock')).mode & 0o777).toBe(0o600)
      await server.close()
      expect(existsSync(join(dir, 'app.sock'))).toBe(false)
    })

    it('a directory writable by group or others is refused (checked, not assumed)', async () => {
      const dir = join(base, `open${n++}`)
      mkdirSync(dir)
      chmodSync(dir, 0o777)
      await expect(listen(`unix:${join(dir, 'app.sock')}`)).rejects.toThrow(/writable by group or others/)
    })

    /** How listen() at `path` settles, with a guard: it must not hang. */
    const refusal = (path: string) =>
      within(listen(`unix:${path}`), 10_000, `listen(unix:${path}) to settle`).then(
        async (s) => {
          await s.close()
          return 'listening'
        },
        (e: Error & { code?: string }) => ({ message: e.message, code: e.code }),
      )

    it.runIf(existsSync('/proc/self'))('a directory that cannot be made is refused at once: under /proc (where recursive mkdir spins), under a regular file', async () => {
      const file = join(base, `file${n++}`)
      writeFileSync(file, '')
      expect(await refusal('/proc/nope/x.sock')).toEqual({ code: 'ENOENT', message: expect.stringMatching(/^ipfi: cannot create the socket directory \/proc\/nope: ENOENT/) })
      expect(await refusal(join(file, 'x.sock'))).toEqual({ code: undefined, message: `ipfi: ${file} is not a directory` })
      expect(await refusal(join(file, 'a', 'b', 'x.sock'))).toEqual({ code: 'ENOTDIR', message: expect.stringContaining(`ipfi: cannot create the socket directory ${join(file, 'a', 'b')}: ENOTDIR`) })
    })

    // Root may create directories anywhere, so the sub-case means nothing as root.
    it.skipIf(process.getuid?.() === 0)('a directory that cannot be made is refused at once: under a directory this user may not write to (skipped as root)', async () => {
      const locked = join(base, `locked${n++}`)
      mkdirSync(locked, { mode: 0o500 })
      expect(await refusal(join(locked, 'sub', 'x.sock'))).toEqual({ code: 'EACCES', message: expect.stringContaining(`ipfi: cannot create the socket directory ${join(locked, 'sub')}: EACCES`) })
      chmodSync(locked, 0o700)
    })

    it('a stale socket from a dead server is replaced; a live one is refused; a non-socket file is left alone', { timeout: 30_000 }, async () => {
      const dir = join(base, `stale${n++}`)
      mkdirSync(dir, { mode: 0o700 })
      const path = join(dir, 'app.sock')
      // A server process killed with SIGKILL leaves its socket file behind.
      const child = fork<never, string>(new URL('./fixtures/listen-and-hang.mjs', import.meta.url).pathname, { data: path })
      expect(await child.receiver.recv()).toBe('listening')
      child.kill('SIGKILL')
      await child.exited
      expect(existsSync(path)).toBe(true)
      const server = await listen(`unix:${path}`)
      const c = await connect(server.address)
      c.close()
      const second = await listen(`unix:${path}`).catch((e: unknown) => e)
      expect(second).toBeInstanceOf(AddressInUseError)
      await server.close()
      writeFileSync(path, 'not a socket')
      await expect(listen(`unix:${path}`)).rejects.toBeInstanceOf(AddressInUseError)
      expect(readFileSync(path, 'utf8')).toBe('not a socket')
    })
  })

  it('a silent peer (a stopped process: no FIN, no heartbeat) is detected within idleTimeoutMs, and its handles settle', { timeout: 30_000 }, async () => {
    const server = await listen<string, string>('tcp://127.0.0.1:0', { idleTimeoutMs: 400 })
    const child = fork<never, string>(
      async ({ sender, data, ipfi }) => {
        const { connect } = ipfi as unknown as typeof import('ipfi')
        await connect(data as string)
        sender.send('connected')
        setInterval(() => {}, 1000) // stay up (stopped, then killed, by the test)
      },
      { data: server.address },
    )
    const peer = await server.accept()
    expect(await child.receiver.recv()).toBe('connected')
    const pending = peer.receiver.recv().catch((e: unknown) => e)
    process.kill(child.process.pid!, 'SIGSTOP')
    try {
      const cause = await peer.closed
      expect(cause).toBeInstanceOf(ConnectionLostError)
      expect((cause as Error).message).toMatch(/nothing arrived from the peer for 400 ms/)
      expect(await pending).toBeInstanceOf(ConnectionLostError)
    } finally {
      process.kill(child.process.pid!, 'SIGKILL')
      await child.exited
    }
    await server.close()
  })

  it('heartbeats keep an idle but live peer linked past idleTimeoutMs', { timeout: 30_000 }, async () => {
    const server = await listen<string, string>(unixAddress(), { idleTimeoutMs: 150 })
    const client = await connect<string, string>(server.address, { idleTimeoutMs: 150 })
    const peer = await server.accept()
    await new Promise((r) => setTimeout(r, 1000)) // many idle timeouts long, nothing sent by the application
    client.sender.send('still here')
    expect(await peer.receiver.recv()).toBe('still here')
    client.close()
    await server.close()
  })

  it('connect() to something that accepts but never answers fails at its timeout; accept() has one too', { timeout: 30_000 }, async () => {
    const silent = net.createServer((socket) => socket.on('error', () => {}))
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r))
    const port = (silent.address() as net.AddressInfo).port
    const e = await connect(`tcp://127.0.0.1:${port}`, { timeout: 200 }).catch((err: unknown) => err)
    expect(e).toBeInstanceOf(AuthenticationError) // never admitted: nothing was linked
    expect((e as Error).message).toMatch(/took more than 200 ms/)
    await new Promise<void>((r) => silent.close(() => r()))
    const server = await listen(unixAddress())
    await expect(server.accept({ timeout: 50 })).rejects.toMatchObject({ name: 'TimeoutError' })
    // The timed-out accept left no waiter behind: the next client goes to the next accept.
    const client = await connect(server.address)
    const peer = await server.accept({ timeout: 5000 })
    expect(server.peers.has(peer)).toBe(true)
    client.close()
    await server.close()
  })

  it('accept({ signal }): aborting rejects with the reason and withdraws the wait; the next client goes to the next accept()', { timeout: 30_000 }, async () => {
    const server = await listen(unixAddress())
    const ac = new AbortController()
    const aborted = server.accept({ signal: ac.signal })
    ac.abort(new Error('not waiting any more'))
    await expect(aborted).rejects.toThrow('not waiting any more')
    const client = await connect(server.address)
    const peer = await server.accept({ timeout: 5000 })
    expect(server.peers.has(peer)).toBe(true)
    client.close()
    await server.close()
  })

  it('an accept() that timed out lets go of its signal: aborting it later leaves the waiting accept() alone', { timeout: 30_000 }, async () => {
    const server = await listen(unixAddress())
    const ac = new AbortController()
    await expect(server.accept({ timeout: 20, signal: ac.signal })).rejects.toMatchObject({ name: 'TimeoutError' })
    const next = server.accept({ timeout: 5000 })
    ac.abort()
    const client = await connect(server.address)
    expect(server.peers.has(await next)).toBe(true)
    client.close()
    await server.close()
  })

  it('addresses: a bad one is a clear TypeError; tcp binds to loopback when no host is given', async () => {
    await expect(listen('http://example.com')).rejects.toThrow(TypeError)
    await expect(listen('tcp://127.0.0.1:99999')).rejects.toThrow(/port out of range/)
    await expect(listen('tls://127.0.0.1:0')).rejects.toThrow(/needs options.tls/)
    const server = await listen('tcp://:0')
    expect(server.address).toMatch(/^tcp:\/\/127\.0\.0\.1:\d+$/)
    await server.close()
  })
})
