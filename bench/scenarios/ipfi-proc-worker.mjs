// ipfi procedures over a worker thread: remote(endpoint).echo(m), one call per round trip.
import { spawnWorker } from 'ipfi'
import { procedureEcho } from '../lib/ipfi-procedures.mjs'
import { withDeadline } from '../lib/procs.mjs'

export default {
  id: 'ipfi-proc-worker',
  label: 'ipfi remote().echo(), worker',
  impl: 'ipfi',
  kind: 'thread',
  type: 'echo',
  compareWith: ['raw-worker', 'ipfi-worker', 'birpc-worker', 'comlink-worker'],
  async open(sink) {
    const w = spawnWorker(new URL('../children/ipfi-procedures-echo.mjs', import.meta.url))
    let closing = false
    w.exited.then((e) => closing || sink.fail(new Error(`ipfi procedures worker exited early (code ${e.code})`)))
    const p = await procedureEcho(w, sink)
    return {
      send: p.send,
      async close() {
        closing = true
        p.close()
        await w[Symbol.asyncDispose]()
        const e = await withDeadline(w.exited, 5000, () => ({ code: null, signal: 'timeout' }))
        return [{ what: 'ipfi procedures worker', code: e.code, signal: e.signal, forced: e.code !== 0 }]
      },
    }
  },
}
