/**
 * The Python side of the bench (python/bench/): which interpreter runs it, a Python driver that
 * times its own round trips (`openPythonDriver`), and a Python far end that this process talks to
 * over ipfi on a Unix socket (`acceptPythonPeer`).
 *
 * The interpreter: IPFI_BENCH_PYTHON, else the first `python3` that can import grpc (grpcio is a
 * bench-only option, Debian's python3-grpcio lives in /usr/bin/python3's dist-packages), else
 * `python3`. Every Python scenario runs on that one interpreter, so ipfi and grpcio are compared
 * on the same Python.
 */
import { spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, rmSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { summarize } from '../measure/stats.mjs'
import { track, waitExit, watchExit, withDeadline } from './procs.mjs'

const PY_BENCH = fileURLToPath(new URL('../../../python/bench/', import.meta.url))

const canImportGrpc = (py) => spawnSync(py, ['-c', 'import grpc'], { stdio: 'ignore', timeout: 15_000 }).status === 0

function pickPython() {
  if (process.env.IPFI_BENCH_PYTHON) return process.env.IPFI_BENCH_PYTHON
  return ['python3', '/usr/bin/python3'].find(canImportGrpc) ?? 'python3'
}

export const PYTHON = pickPython()
export const HAS_GRPCIO = canImportGrpc(PYTHON)
export const PYTHON_VERSION = spawnSync(PYTHON, ['-c', 'import sys; print(sys.version.split()[0])'], { encoding: 'utf8' }).stdout?.trim() || 'unknown'

/**
 * Start `python/bench/driver.py MODE` and wait for it to be connected to its far end. The
 * transport: `send(m)` echoes one message through the driver (the probe), `echoRound(it, ctx)`
 * measures one echo round in Python (bench/lib/measure/round.mjs), `run(n)` one one-way round;
 * `close()` ends the driver's stdin and waits for it (it exits 0 only if its far end did).
 */
export async function openPythonDriver(mode, sink, what) {
  const child = track(spawn(PYTHON, [join(PY_BENCH, 'driver.py'), mode], {
    stdio: ['pipe', 'pipe', 'inherit'],
    env: { ...process.env, IPFI_BENCH_NODE: process.execPath },
  }))
  const watch = watchExit(child, sink, what)
  const lines = createInterface({ input: child.stdout })
  const waiting = []
  lines.on('line', (line) => {
    const w = waiting.shift()
    if (!w) return sink.fail(new Error(`${what}: unasked output ${line.slice(0, 200)}`))
    let v
    try {
      v = JSON.parse(line)
    } catch {
      return w.reject(new Error(`${what}: not JSON: ${line.slice(0, 200)}`))
    }
    if (v.error) w.reject(new Error(`${what}: ${v.error}`))
    else w.resolve(v)
  })
  child.on('exit', (code, signal) => {
    for (const w of waiting.splice(0)) w.reject(new Error(`${what} exited (${code ?? signal})`))
  })
  const answer = (timeoutMs) => withDeadline(new Promise((resolve, reject) => waiting.push({ resolve, reject })), timeoutMs,
    () => Promise.reject(new Error(`${what}: no answer within ${timeoutMs} ms`)))
  const ask = (cmd, timeoutMs) => {
    const p = answer(timeoutMs)
    child.stdin.write(`${JSON.stringify(cmd)}\n`)
    return p
  }
  await answer(30_000) // {"ready": true}
  return {
    send: (msg) => ask({ op: 'echo', msg }, 15_000).then((r) => sink.deliver(r.reply), sink.fail),
    async echoRound(it, ctx) {
      const lat = await ask({ op: 'latency', n: it.latency }, ctx.timeoutMs)
      const tp = await ask({ op: 'throughput', n: it.throughput, window: ctx.window }, ctx.timeoutMs)
      return { ...summarize(lat.samples), seqRtPerSec: it.latency / (lat.elapsedMs / 1000), inflight100RtPerSec: tp.rtPerSec }
    },
    async run(n) {
      return ask({ op: 'oneway', n }, 120_000)
    },
    async close() {
      watch.closing = true
      child.stdin.end()
      const e = await waitExit(child, 15_000)
      return [{ what, ...e }]
    },
  }
}

let seq = 0

/**
 * Listen on a fresh Unix socket, start `python/bench/peer.py MODE unix:/path` (or any `argv`),
 * accept its one connection and stop listening. Returns { child, socket }.
 */
export async function acceptPythonPeer(mode) {
  const server = net.createServer()
  const path = join(tmpdir(), `ipfi-pybench-${process.pid}-${Date.now()}-${seq++}.sock`)
  rmSync(path, { force: true })
  server.listen(path)
  await once(server, 'listening')
  const accepted = once(server, 'connection')
  const child = track(spawn(PYTHON, [join(PY_BENCH, 'peer.py'), mode, `unix:${path}`], { stdio: ['ignore', 'inherit', 'inherit'] }))
  try {
    const [socket] = await withDeadline(accepted, 15_000, () => Promise.reject(new Error(`peer.py ${mode} did not connect within 15 s`)))
    return { child, socket }
  } catch (e) {
    child.kill('SIGKILL')
    throw e
  } finally {
    server.close()
    rmSync(path, { force: true })
  }
}

/**
 * Start `python/bench/peer.py MODE unix:/path` as a server (it listens there and says "ready");
 * `stop()` closes its stdin, which ends it, and returns its exit.
 */
export async function startPythonServer(mode) {
  const dir = mkdtempSync(join(tmpdir(), 'ipfi-pybench-'))
  const path = join(dir, 's.sock')
  const child = track(spawn(PYTHON, [join(PY_BENCH, 'peer.py'), mode, `unix:${path}`], { stdio: ['pipe', 'pipe', 'inherit'] }))
  const lines = createInterface({ input: child.stdout })
  const [line] = await withDeadline(Promise.race([once(lines, 'line'), once(child, 'exit').then(([c]) => Promise.reject(new Error(`peer.py ${mode} exited (${c})`)))]),
    15_000, () => Promise.reject(new Error(`peer.py ${mode} was not ready within 15 s`)))
  if (line.trim() !== 'ready') throw new Error(`peer.py ${mode} said ${line}`)
  return {
    address: `unix:${path}`,
    child,
    async stop() {
      child.stdin.end()
      const e = await waitExit(child, 15_000)
      rmSync(dir, { recursive: true, force: true })
      return e
    },
  }
}
