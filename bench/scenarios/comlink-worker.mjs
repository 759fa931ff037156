// Peer library: comlink over a worker thread (its node adapter around the Worker), echo(m).
import { once } from 'node:events'
import { Worker } from 'node:worker_threads'
import * as Comlink from 'comlink/dist/esm/comlink.mjs'
import nodeEndpoint from 'comlink/dist/esm/node-adapter.mjs'
import { waitWorkerExit } from '../lib/procs.mjs'

export default {
  id: 'comlink-worker',
  label: 'comlink echo(), worker',
  impl: 'comlink',
  kind: 'thread',
  type: 'echo',
  compareWith: ['raw-worker'],
  async open(sink) {
    const worker = new Worker(new URL('../children/comlink-echo.mjs', import.meta.url))
    const exited = once(worker, 'exit').then(([code]) => code)
    let closing = false
    worker.on('error', (e) => sink.fail(e))
    exited.then((code) => closing || sink.fail(new Error(`comlink worker exited early (code ${code})`)))
    const api = Comlink.wrap(nodeEndpoint(worker))
    await once(worker, 'online')
    return {
      send: (m) => api.echo(m).then(sink.deliver, sink.fail),
      async close() {
        closing = true
        await api[Comlink.releaseProxy]() // the worker drops its listener and ends
        return [{ what: 'comlink echo worker', ...(await waitWorkerExit(worker, exited)) }]
      },
    }
  },
}
