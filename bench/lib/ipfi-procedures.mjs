// Shared by the procedure scenarios: open a child that exposes `echo`, and measure a stream.
import { performance } from 'node:perf_hooks'
import { remote } from 'ipfi'

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

/** Items per second of `api.items(n)`, consumed as fast as they come. */
export async function streamRate(api, n) {
  const start = performance.now()
  let expect = 0
  for await (const i of api.items(n)) if (i !== expect++) throw new Error(`stream item ${i} out of order`)
  if (expect !== n) throw new Error(`stream gave ${expect} of ${n} items`)
  const elapsedMs = performance.now() - start
  return { elapsedMs, msgsPerSec: n / (elapsedMs / 1000) }
}
