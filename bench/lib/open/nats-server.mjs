/**
 * The nats-server of the NATS scenarios (bench/scenarios/nats.mjs): Debian's `nats-server`
 * (`apt-get install -y nats-server`), started by the bench itself on a free loopback port and
 * stopped by PID, as test/support/nats-server.ts does for the tests. One server for every NATS
 * scenario of a run, raw client and ipfi alike: started by the first that opens, stopped after the
 * last closes. `max_payload` is raised to 4 MiB so that the raw client can carry the 1 MiB payload
 * (with its encoding) in one message; ipfi splits its stream into packets of at most a quarter of
 * its credit window anyway.
 */
import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { track, waitExit } from './procs.mjs'

const INSTALL = 'Debian/Ubuntu: apt-get install -y nats-server; or https://docs.nats.io/running-a-nats-service/introduction/installation'

/** null if nats-server runs here; else why not, in a sentence. */
export function natsServerMissing() {
  const r = spawnSync('nats-server', ['--version'], { encoding: 'utf8' })
  if (!r.error && r.status === 0) return null
  return `nats-server is not installed or does not run (${r.error?.code ?? r.stderr?.trim() ?? `exit ${r.status}`}); the NATS scenarios need it (${INSTALL})`
}

/**
 * The scenarios this run can measure: those that need nats-server are left out, saying so plainly,
 * when it is missing; asked for by name (--only), they are an error instead.
 */
export function withoutUnavailable(scenarios, only) {
  const needing = scenarios.filter((s) => s.needs === 'nats-server')
  if (needing.length === 0) return { scenarios, note: null }
  const missing = natsServerMissing()
  if (!missing) return { scenarios, note: null }
  if (only) throw new Error(`${missing}: cannot run ${needing.map((s) => s.id).join(', ')}`)
  return { scenarios: scenarios.filter((s) => s.needs !== 'nats-server'), note: `${missing}. Left out of this run: ${needing.map((s) => s.id).join(', ')}` }
}

async function freePort() {
  const s = net.createServer()
  await new Promise((r) => s.listen(0, '127.0.0.1', r))
  const { port } = s.address()
  await new Promise((r) => s.close(r))
  return port
}

async function accepting(port, ms, log) {
  const until = Date.now() + ms
  for (;;) {
    const ok = await new Promise((r) => {
      const c = net.connect(port, '127.0.0.1')
      c.once('connect', () => (c.destroy(), r(true)))
      c.once('error', () => r(false))
    })
    if (ok) return
    if (Date.now() > until) throw new Error(`nats-server did not accept connections on 127.0.0.1:${port} within ${ms} ms:\n${log()}`)
    await new Promise((r) => setTimeout(r, 25))
  }
}

let users = 0
let running = null // Promise<{ hostPort, child, dir, log() }>

/** host:port of the run's nats-server, started if need be; `releaseNatsServer()` once done with it. */
export async function acquireNatsServer() {
  users++
  running ??= (async () => {
    const missing = natsServerMissing()
    if (missing) throw new Error(missing)
    const dir = mkdtempSync(join(tmpdir(), 'ipfi-bench-nats-'))
    const port = await freePort()
    const conf = join(dir, 'nats.conf')
    writeFileSync(conf, `listen: 127.0.0.1:${port}\nmax_payload: 4MB\n`)
    const child = track(spawn('nats-server', ['-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] }))
    let log = ''
    child.stdout.on('data', (d) => (log += d))
    child.stderr.on('data', (d) => (log += d))
    const early = new Promise((_, reject) => child.once('exit', (c, s) => reject(new Error(`nats-server exited at once (${c ?? s}):\n${log}`))))
    early.catch(() => {})
    await Promise.race([accepting(port, 10_000, () => log), early])
    return { hostPort: `127.0.0.1:${port}`, child, dir, log: () => log }
  })()
  try {
    return (await running).hostPort
  } catch (e) {
    users--
    running = null
    throw e
  }
}

/** One user fewer; the last one stops the server (SIGTERM) and says if it logged a slow consumer. */
export async function releaseNatsServer() {
  if (--users > 0 || !running) return
  const s = await running
  running = null
  s.child.kill('SIGTERM')
  await waitExit(s.child)
  rmSync(s.dir, { recursive: true, force: true })
  if (/slow consumer/i.test(s.log())) console.error(`bench: nats-server reported a slow consumer during the run:\n${s.log().split('\n').filter((l) => /slow consumer/i.test(l)).slice(0, 5).join('\n')}`)
}
