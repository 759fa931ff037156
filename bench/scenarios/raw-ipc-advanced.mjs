// Raw baseline: child_process.fork() with Node's IPC channel, serialization 'advanced' (the
// structured clone algorithm, v8.serialize), the same echo child as 'json'.
import { openRawIpc } from '../lib/open/ipc.mjs'

export default {
  id: 'raw-ipc-advanced',
  label: "child_process IPC 'advanced'",
  impl: 'raw',
  kind: 'process',
  type: 'echo',
  raw: 'raw-fd3-msgpackr',
  compareWith: ['raw-fd3-msgpackr', 'raw-ipc-json'],
  open: (sink) => openRawIpc('raw-ipc-echo.mjs', 'advanced', sink, 'IPC advanced echo child'),
}
