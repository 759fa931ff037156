// ipfi procedures over a worker thread: remote(endpoint).echo(m), one call per round trip.
import { openProcedureWorker } from '../lib/open/ipfi-procedures.mjs'

export default {
  id: 'ipfi-proc-worker',
  label: 'ipfi remote().echo(), worker',
  impl: 'ipfi',
  kind: 'thread',
  type: 'echo',
  compareWith: ['raw-worker', 'ipfi-worker', 'birpc-worker', 'comlink-worker'],
  open: (sink) => openProcedureWorker(sink, 'ipfi procedures worker'),
}
