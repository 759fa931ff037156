// Raw one-way baseline, worker thread: count what arrives on parentPort, answer the end marker with
// the count (bench/lib/peers/oneway-count.mjs); null ends it.
import { parentPort } from 'node:worker_threads'
import { counter } from '../lib/peers/oneway-count.mjs'

const count = counter((r) => parentPort.postMessage(r))
parentPort.on('message', (m) => {
  if (m === null) parentPort.close()
  else count(m)
})
