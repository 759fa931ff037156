// Raw baseline, worker thread: echo every message back with parentPort.postMessage; null ends it.
import { parentPort } from 'node:worker_threads'

parentPort.on('message', (m) => {
  if (m === null) parentPort.close()
  else parentPort.postMessage(m)
})
