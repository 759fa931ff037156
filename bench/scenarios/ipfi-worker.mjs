// ipfi spawnWorker(): a worker thread linked over a dedicated MessagePort.
import { openIpfiWorker } from '../lib/open/ipfi.mjs'

export default {
  id: 'ipfi-worker',
  label: 'ipfi spawnWorker()',
  impl: 'ipfi',
  kind: 'thread',
  type: 'echo',
  compareWith: ['raw-worker'],
  open: async (sink) => openIpfiWorker('ipfi-parent-echo.mjs', sink, 'ipfi echo worker'),
}
