// ipfi over memoryWirePair({ chunk: 1 }): every write reaches the peer one byte per chunk (a
// stress test of the frame decoder, not a real transport). Expected to be slow; run with fewer
// iterations (iterScale). Reports its wire bytes, for the cost per byte.
import { openMemoryChannels } from '../lib/open/ipfi-memory.mjs'

export default {
  id: 'ipfi-memory-chunk1',
  label: 'ipfi memory wire, 1-byte chunks',
  impl: 'ipfi',
  kind: 'in-process',
  type: 'echo',
  compareWith: ['raw-message-channel', 'ipfi-memory'],
  bytesReference: 'ipfi-memory', // the same wire with whole writes: the cost per byte is the difference
  iterScale: 0.1,
  note: 'test wire: every byte is a separate chunk; expected to be slow',
  open: (sink) => openMemoryChannels(1, sink),
}
