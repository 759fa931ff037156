// ipfi procedures over memoryWirePair({ chunk: 1 }): remote(endpoint).echo(m) with every byte of
// every frame arriving as a chunk of its own. Expected to be slow; fewer iterations.
import { openMemoryProcedures } from '../lib/open/ipfi-memory.mjs'

export default {
  id: 'ipfi-proc-memory-chunk1',
  label: 'ipfi remote().echo(), memory wire, 1-byte chunks',
  impl: 'ipfi',
  kind: 'in-process',
  type: 'echo',
  compareWith: ['raw-message-channel', 'ipfi-memory-chunk1'],
  iterScale: 0.1,
  note: 'test wire: every byte is a separate chunk; expected to be slow',
  open: (sink) => openMemoryProcedures(1, sink),
}
