// Shared by the procedure scenarios: open a child that exposes `echo` and `items` (bench/children/
// ipfi-procedures-echo.mjs) with fork() or spawnWorker(), and measure a stream.
import { performance } from 'node:perf_hooks'
import { fork, remote, spawnWorker } from 'ipfi'
import { track, waitExit, withDeadline } from './procs.mjs'

const CHILD = new URL('../children/ipfi-procedures-echo.mjs', import.meta.url)

/** The echo transport over `remote(endpoint).echo(m)` for a child handle from fork()/spawnWorker(). */
export async function procedureEcho(child, sink) {
  const endpoint = await child.receiver.recv()
  const api = remote(endpoint)
  endpoint.close()
  return {
    api,
    send: (m) => api.echo(m).then(sink.deliver, sink.fail),
    close: () => api[Symbol.dispose](),
  }
}

/** A forked procedures child: { api, send, close() -> exits }. */
export async function openProcedureFork(sink, what) {
  const c = fork(CHILD, { stdio: 'inherit' })
  track(c.process)
  let closing = false
  c.exited.then((e) => closing || sink.fail(new Error(`${what} exited early (${e.code ?? e.signal})`)))
  const p = await procedureEcho(c, sink)
  return {
    ...p,
    async close() {
      closing = true
      p.close()
      await c[Symbol.asyncDispose]()
      const e = await waitExit(c.process)
      return [{ what, ...e, forced: e.forced || e.signal !== null }]
    },
  }
}

/** A procedures worker thread: { api, send, close() -> exits }. */
export async function openProcedureWorker(sink, what) {
  const w = spawnWorker(CHILD)
  let closing = false
  w.exited.then((e) => closing || sink.fail(new Error(`${what} exited early (code ${e.code})`)))
  const p = await procedureEcho(w, sink)
  return {
    ...p,
    async close() {
      closing = true
      p.close()
      await w[Symbol.asyncDispose]()
      const e = await withDeadline(w.exited, 5000, () => ({ code: null, signal: 'timeout' }))
      return [{ what, code: e.code, signal: e.signal, forced: e.code !== 0 }]
    },
  }
}

/** Items per second of `api.items(n)`; `consume(item)`, if given, runs for every item. */
export async function streamRate(api, n, consume) {
  const start = performance.now()
  let expect = 0
  for await (const i of api.items(n)) {
    if (i !== expect++) throw new Error(`stream item ${i} out of order`)
    consume?.(i)
  }
  if (expect !== n) throw new Error(`stream gave ${expect} of ${n} items`)
  const elapsedMs = performance.now() - start
  return { elapsedMs, msgsPerSec: n / (elapsedMs / 1000) }
}
