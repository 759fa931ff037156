// Shared by the procedure scenarios: open a child that exposes `echo` and `items` (bench/children/
// ipfi-procedures-echo.mjs) with fork() or spawnWorker(), and measure a stream.
import { performance } from 'node:perf_hooks'
import { remote } from 'ipfi'
import { ipfiChild } from './ipfi.mjs'

/** A procedures child, how: 'fork' or 'worker'; { api, send, close() -> exits }. */
async function openProcedures(how, sink, what) {
  const { c, close } = ipfiChild(how, 'ipfi-procedures-echo.mjs', sink, what)
  const endpoint = await c.receiver.recv()
  const api = remote(endpoint)
  endpoint.close()
  return {
    api,
    send: (m) => api.echo(m).then(sink.deliver, sink.fail),
    close: () => close(() => api[Symbol.dispose]()),
  }
}

export const openProcedureFork = (sink, what) => openProcedures('fork', sink, what)
export const openProcedureWorker = (sink, what) => openProcedures('worker', sink, what)

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

async function* numbers(n) {
  for (let i = 0; i < n; i++) yield i
}

/** Items per second of an argument stream: `api.count(numbers(n), slowUs)`, read by the callee (`slowUs` of work per item there). */
export async function argStreamRate(api, n, slowUs = 0) {
  const start = performance.now()
  const got = await api.count(numbers(n), slowUs)
  if (got !== n) throw new Error(`the argument stream gave ${got} of ${n} items`)
  const elapsedMs = performance.now() - start
  return { elapsedMs, msgsPerSec: n / (elapsedMs / 1000) }
}

/** Items per second each way of `api.map(numbers(n))`: items go out as an argument stream and come back as a result stream, at once. */
export async function bidiStreamRate(api, n) {
  const start = performance.now()
  let expect = 0
  for await (const i of api.map(numbers(n))) {
    if (i !== expect++) throw new Error(`bidirectional stream item ${i} out of order`)
  }
  if (expect !== n) throw new Error(`the bidirectional stream gave ${expect} of ${n} items`)
  const elapsedMs = performance.now() - start
  return { elapsedMs, msgsPerSec: n / (elapsedMs / 1000) }
}
