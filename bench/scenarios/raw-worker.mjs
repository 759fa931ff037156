// Raw baseline: a worker thread echoing with parentPort; we use worker.postMessage.
import { openRawWorker } from '../lib/open/worker.mjs'

export default {
  id: 'raw-worker',
  label: 'worker postMessage',
  impl: 'raw',
  kind: 'thread',
  type: 'echo',
  open: (sink) => openRawWorker('raw-worker-echo.mjs', sink, 'raw echo worker'),
}
