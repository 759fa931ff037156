// Peer library: birpc over a worker thread (structured clone over the worker's port), echo(m).
import { createBirpc } from 'birpc'
import { startWorker } from '../lib/open/worker.mjs'

export default {
  id: 'birpc-worker',
  label: 'birpc echo(), worker',
  impl: 'birpc',
  kind: 'thread',
  type: 'echo',
  compareWith: ['raw-worker'],
  async open(sink) {
    const { worker, online, close } = startWorker('birpc-echo.mjs', sink, 'birpc echo worker')
    const rpc = createBirpc({}, { post: (data) => worker.postMessage(data), on: (fn) => worker.on('message', fn) })
    await online
    return {
      send: (m) => rpc.echo(m).then(sink.deliver, sink.fail),
      close: () =>
        close(() => {
          rpc.$close()
          worker.postMessage('bye')
        }),
    }
  },
}
