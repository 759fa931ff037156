// Raw baseline: child_process.fork() with Node's IPC channel, serialization 'json'.
import { openRawIpc } from '../lib/open/ipc.mjs'

export default {
  id: 'raw-ipc-json',
  label: "child_process IPC 'json'",
  impl: 'raw',
  kind: 'process',
  type: 'echo',
  raw: 'raw-fd3-msgpackr',
  open: (sink) => openRawIpc('raw-ipc-echo.mjs', 'json', sink, 'IPC json echo child'),
}
