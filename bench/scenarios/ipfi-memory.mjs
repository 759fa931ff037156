// ipfi over memoryWirePair() with whole writes: the same in-memory wire as the 1-byte-chunk
// scenario, the reference its cost per byte is measured against.
import { openMemoryChannels } from '../lib/open/ipfi-memory.mjs'

export default {
  id: 'ipfi-memory',
  label: 'ipfi memory wire, whole writes',
  impl: 'ipfi',
  kind: 'in-process',
  type: 'echo',
  compareWith: ['raw-message-channel'],
  open: (sink) => openMemoryChannels(0, sink),
}
