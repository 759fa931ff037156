// Raw baseline: a worker thread echoing with parentPort; we use worker.postMessage.
import { once } from 'node:events'
import { Worker } from 'node:worker_threads'
import { waitWorkerExit } from '../lib/procs.mjs'

export default {
  id: 'raw-worker',
  label: 'worker postMessage',
  impl: 'raw',
  kind: 'thread',
  type: 'echo',
  async open(sink) {
    const worker = new Worker(new URL('../children/raw-worker-echo.mjs', import.meta.url))
    const exited = once(worker, 'exit').then(([code]) => code)
    let closing = false
    worker.on('error', (e) => sink.fail(e))
    exited.then((code) => closing || sink.fail(new Error(`raw worker exited early (code ${code})`)))
    worker.on('message', sink.deliver)
    await once(worker, 'online')
    return {
      send: (m) => worker.postMessage(m),
      async close() {
        closing = true
        worker.postMessage(null)
        return [{ what: 'raw echo worker', ...(await waitWorkerExit(worker, exited)) }]
      },
    }
  },
}
