// Open a plain worker thread (bench/children/<file>) that talks with postMessage: replies go to the
// sink, `null` tells it to end. Shared by the raw echo and the raw one-way scenarios.
import { once } from 'node:events'
import { Worker } from 'node:worker_threads'
import { waitWorkerExit } from './procs.mjs'

export async function openRawWorker(file, sink, what) {
  const worker = new Worker(new URL(`../children/${file}`, import.meta.url))
  const exited = once(worker, 'exit').then(([code]) => code)
  let closing = false
  worker.on('error', (e) => sink.fail(e))
  exited.then((code) => closing || sink.fail(new Error(`${what} exited early (code ${code})`)))
  worker.on('message', sink.deliver)
  await once(worker, 'online')
  return {
    send: (m) => worker.postMessage(m),
    async close() {
      closing = true
      worker.postMessage(null)
      return [{ what, ...(await waitWorkerExit(worker, exited)) }]
    },
  }
}
