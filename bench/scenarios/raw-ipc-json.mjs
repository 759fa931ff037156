// Raw baseline: child_process.fork() with Node's IPC channel, serialization 'json'.
import { fork } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { track, waitExit } from '../lib/procs.mjs'

export default {
  id: 'raw-ipc-json',
  label: "child_process IPC 'json'",
  impl: 'raw',
  kind: 'process',
  type: 'echo',
  async open(sink) {
    const child = track(
      fork(fileURLToPath(new URL('../children/raw-ipc-echo.mjs', import.meta.url)), [], {
        serialization: 'json',
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      }),
    )
    let closing = false
    child.on('exit', (code, signal) => closing || sink.fail(new Error(`IPC echo child exited early (${code ?? signal})`)))
    child.on('message', sink.deliver)
    await once(child, 'spawn')
    return {
      send: (m) => child.send(m),
      async close() {
        closing = true
        child.disconnect()
        return [{ what: 'IPC json echo child', ...(await waitExit(child)) }]
      },
    }
  },
}
