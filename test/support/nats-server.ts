/**
 * Real NATS servers for tests: Debian's `nats-server` (2.9 here; .ci/run installs it, and so does
 * this file when it is missing and the tests run as root with apt-get), started on loopback on a
 * free port, alone or as a cluster whose members are routed to each other, and stopped by PID. A
 * test that needs one fails loudly when nats-server cannot be started: never a skip.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { sleep } from './async.js'

export interface NatsServer {
  /** host:port, as a nats:// address names it. */
  readonly hostPort: string
  readonly port: number
  readonly pid: number
  /** SIGKILL, and wait until it is gone. */
  kill(): Promise<void>
  /** SIGTERM (SIGKILL if it lingers), and wait until it is gone. */
  stop(): Promise<void>
  /** Start it again on the same ports (after kill or stop). */
  restart(): Promise<void>
  /** What it printed since it last started. */
  log(): string
}

let checked = false
const runs = () => {
  const r = spawnSync('nats-server', ['--version'], { encoding: 'utf8' })
  return r.error || r.status !== 0 ? (r.error?.message ?? r.stderr) : null
}

/**
 * nats-server, installed first if it is missing where that can be done without asking (root, with
 * apt-get: Debian's package, as .ci/run installs it), so that `npm test` on a fresh clone runs the
 * NATS tests; elsewhere a loud error saying how to install it.
 */
function checkInstalled(): void {
  if (checked) return
  let why = runs()
  if (why !== null && process.getuid?.() === 0 && spawnSync('apt-get', ['--version']).status === 0) {
    const apt = (args: string[]) =>
      spawnSync('apt-get', ['-o', 'DPkg::Lock::Timeout=300', ...args], { stdio: 'ignore', timeout: 600_000, env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } }).status === 0
    if (!apt(['install', '-y', '-qq', 'nats-server'])) apt(['update', '-qq']) && apt(['install', '-y', '-qq', 'nats-server'])
    why = runs()
  }
  if (why !== null) {
    throw new Error(`these tests need nats-server (Debian: apt-get install -y nats-server; .ci/run installs it), and it could not be run: ${why}`)
  }
  checked = true
}

/** A port that was free a moment ago on 127.0.0.1. */
export async function freePort(): Promise<number> {
  const s = net.createServer()
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r))
  const port = (s.address() as net.AddressInfo).port
  await new Promise<void>((r) => s.close(() => r()))
  return port
}

async function accepting(port: number, ms: number, log: () => string): Promise<void> {
  const until = Date.now() + ms
  for (;;) {
    const ok = await new Promise<boolean>((r) => {
      const s = net.connect(port, '127.0.0.1')
      s.once('connect', () => {
        s.destroy()
        r(true)
      })
      s.once('error', () => r(false))
    })
    if (ok) return
    if (Date.now() > until) throw new Error(`nats-server did not accept connections on 127.0.0.1:${port} within ${ms} ms:\n${log()}`)
    await sleep(25)
  }
}

interface Spec {
  port: number
  /** Extra lines of the configuration file. */
  config: string[]
}

const running = new Set<ChildProcess>()
process.on('exit', () => {
  for (const c of running) c.kill('SIGKILL')
})

function server(spec: Spec, dir: string): NatsServer {
  let child: ChildProcess | null = null
  let log = ''
  const conf = path.join(dir, `nats-${spec.port}.conf`)
  writeFileSync(conf, [`listen: 127.0.0.1:${spec.port}`, ...spec.config].join('\n') + '\n')
  const gone = async (c: ChildProcess) => {
    if (c.exitCode === null && c.signalCode === null) await new Promise((r) => c.once('exit', r))
    running.delete(c)
  }
  const s: NatsServer = {
    hostPort: `127.0.0.1:${spec.port}`,
    port: spec.port,
    get pid() {
      return child?.pid ?? -1
    },
    async restart() {
      checkInstalled()
      log = ''
      const c = spawn('nats-server', ['-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] })
      child = c
      running.add(c)
      c.stdout!.on('data', (d) => (log += d))
      c.stderr!.on('data', (d) => (log += d))
      const failed = new Promise<never>((_, reject) => {
        c.once('error', (e) => reject(new Error(`nats-server could not be started: ${e.message}`)))
        c.once('exit', (code, signal) => reject(new Error(`nats-server exited at once (${code ?? signal}):\n${log}`)))
      })
      failed.catch(() => {})
      await Promise.race([accepting(spec.port, 10_000, () => log), failed])
    },
    log: () => log,
    async kill() {
      const c = child
      if (!c) return
      c.kill('SIGKILL')
      await gone(c)
    },
    async stop() {
      const c = child
      if (!c) return
      c.kill('SIGTERM')
      const t = setTimeout(() => c.kill('SIGKILL'), 5000)
      await gone(c)
      clearTimeout(t)
    },
  }
  return s
}

/** One nats-server on a free loopback port. `config`: extra lines of its configuration file. */
export async function startNatsServer(config: string[] = []): Promise<NatsServer & { close(): Promise<void> }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ipfi-nats-'))
  const s = server({ port: await freePort(), config }, dir)
  await s.restart()
  return Object.assign(s, {
    async close() {
      await s.stop()
      rmSync(dir, { recursive: true, force: true })
    },
  })
}

/** `n` nats-servers on loopback, each routed to the others (a full mesh): one cluster. */
export async function startNatsCluster(n: number): Promise<{ servers: NatsServer[]; close(): Promise<void> }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ipfi-nats-cluster-'))
  const ports = await Promise.all(Array.from({ length: n }, () => freePort()))
  const routes = await Promise.all(Array.from({ length: n }, () => freePort()))
  const servers = ports.map((port, i) =>
    server(
      {
        port,
        config: [
          `server_name: ipfi-test-${i}`,
          'cluster {',
          '  name: ipfi-test',
          `  listen: 127.0.0.1:${routes[i]}`,
          `  routes: [${routes.map((r) => `nats-route://127.0.0.1:${r}`).join(', ')}]`,
          '}',
        ],
      },
      dir,
    ),
  )
  await Promise.all(servers.map((s) => s.restart()))
  return {
    servers,
    async close() {
      await Promise.all(servers.map((s) => s.stop()))
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
