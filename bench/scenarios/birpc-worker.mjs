// Peer library: birpc over a worker thread (structured clone over the worker's port), echo(m).
import { once } from 'node:events'
import { Worker } from 'node:worker_threads'
import { createBirpc } from 'birpc'
import { waitWorkerExit } from '../lib/procs.mjs'

export default {
  id: 'birpc-worker',
  label: 'birpc echo(), worker',
  impl: 'birpc',
  kind: 'thread',
  type: 'echo',
  compareWith: ['raw-worker'],
  async open(sink) {
    const worker = new Worker(new URL('../children/birpc-echo.mjs', import.meta.url))
    const exited = once(worker, 'exit').then(([code]) => code)
    let closing = false
    worker.on('error', (e) => sink.fail(e))
    exited.then((code) => closing || sink.fail(new Error(`birpc worker exited early (code ${code})`)))
    const rpc = createBirpc({}, { post: (data) => worker.postMessage(data), on: (fn) => worker.on('message', fn) })
    await once(worker, 'online')
    return {
      send: (m) => rpc.echo(m).then(sink.deliver, sink.fail),
      async close() {
        closing = true
        rpc.$close()
        worker.postMessage('bye')
        return [{ what: 'birpc echo worker', ...(await waitWorkerExit(worker, exited)) }]
      },
    }
  },
}
