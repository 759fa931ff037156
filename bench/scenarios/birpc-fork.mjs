// Peer library: birpc over a forked process, Node IPC with serialization 'json' (process.send), echo(m).
import { createBirpc } from 'birpc'
import { startIpcChild } from '../lib/open/ipc.mjs'

export default {
  id: 'birpc-fork',
  label: "birpc echo(), fork IPC 'json'",
  impl: 'birpc',
  kind: 'process',
  type: 'echo',
  compareWith: ['raw-ipc-json', 'raw-fd3-msgpackr'],
  async open(sink) {
    const { child, spawned, close } = startIpcChild('birpc-echo.mjs', 'json', sink, 'birpc echo child')
    const rpc = createBirpc({}, { post: (data) => child.send(data), on: (fn) => child.on('message', fn) })
    await spawned
    return {
      send: (m) => rpc.echo(m).then(sink.deliver, sink.fail),
      close: () => close(() => rpc.$close()),
    }
  },
}
