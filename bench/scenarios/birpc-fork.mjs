// Peer library: birpc over a forked process, Node IPC with serialization 'json' (process.send), echo(m).
import { fork } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { createBirpc } from 'birpc'
import { track, waitExit } from '../lib/procs.mjs'

export default {
  id: 'birpc-fork',
  label: "birpc echo(), fork IPC 'json'",
  impl: 'birpc',
  kind: 'process',
  type: 'echo',
  compareWith: ['raw-ipc-json', 'raw-fd3-msgpackr'],
  async open(sink) {
    const child = track(
      fork(fileURLToPath(new URL('../children/birpc-echo.mjs', import.meta.url)), [], {
        serialization: 'json',
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      }),
    )
    let closing = false
    child.on('exit', (code, signal) => closing || sink.fail(new Error(`birpc child exited early (${code ?? signal})`)))
    const rpc = createBirpc({}, { post: (data) => child.send(data), on: (fn) => child.on('message', fn) })
    await once(child, 'spawn')
    return {
      send: (m) => rpc.echo(m).then(sink.deliver, sink.fail),
      async close() {
        closing = true
        rpc.$close()
        child.disconnect()
        return [{ what: 'birpc echo child', ...(await waitExit(child)) }]
      },
    }
  },
}
