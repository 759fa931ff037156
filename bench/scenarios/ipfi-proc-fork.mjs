// ipfi procedures over a forked process: remote(endpoint).echo(m), one call per round trip.
import { openProcedureFork } from '../lib/open/ipfi-procedures.mjs'

export default {
  id: 'ipfi-proc-fork',
  label: 'ipfi remote().echo(), fork',
  impl: 'ipfi',
  kind: 'process',
  type: 'echo',
  compareWith: ['raw-fd3-msgpackr', 'ipfi-fork', 'birpc-fork', 'grpc-unary-unix'],
  open: (sink) => openProcedureFork(sink, 'ipfi procedures child'),
}
