// ipfi fork(): a child process linked over an extra fd-3 pipe with ipfi's own framing.
import { openIpfiFork } from '../lib/open/ipfi.mjs'

export default {
  id: 'ipfi-fork',
  label: 'ipfi fork()',
  impl: 'ipfi',
  kind: 'process',
  type: 'echo',
  compareWith: ['raw-fd3-msgpackr', 'raw-ipc-json', 'raw-ipc-advanced'],
  open: async (sink) => openIpfiFork('ipfi-parent-echo.mjs', sink, 'ipfi fork echo child'),
}
