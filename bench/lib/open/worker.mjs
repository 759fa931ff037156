// Start a plain worker thread (bench/children/<file>): `startWorker` is the lifecycle the raw, birpc
// and comlink worker scenarios share; `openRawWorker` adds the postMessage transport (replies go to
// the sink, `null` tells it to end), for the raw echo and the raw one-way scenarios.
import { once } from 'node:events'
import { Worker } from 'node:worker_threads'
import { childPath, waitWorkerExit } from './procs.mjs'

/**
 * An error or an early exit fails the sink. Returns { worker, online, close(end) -> exits }: wire up
 * the worker, then await `online`; close() stops watching, awaits `end()` (which tells the worker to
 * end) and waits for it to exit.
 */
export function startWorker(file, sink, what) {
  const worker = new Worker(childPath(file))
  const exited = once(worker, 'exit').then(([code]) => code)
  let closing = false
  worker.on('error', (e) => sink.fail(e))
  exited.then((code) => closing || sink.fail(new Error(`${what} exited early (code ${code})`)))
  return {
    worker,
    online: once(worker, 'online'),
    async close(end) {
      closing = true
      await end()
      return [{ what, ...(await waitWorkerExit(worker, exited)) }]
    },
  }
}

export async function openRawWorker(file, sink, what) {
  const { worker, online, close } = startWorker(file, sink, what)
  worker.on('message', sink.deliver)
  await online
  return {
    send: (m) => worker.postMessage(m),
    close: () => close(() => worker.postMessage(null)),
  }
}
