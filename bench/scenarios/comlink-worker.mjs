// Peer library: comlink over a worker thread (its node adapter around the Worker), echo(m).
import * as Comlink from 'comlink/dist/esm/comlink.mjs'
import nodeEndpoint from 'comlink/dist/esm/node-adapter.mjs'
import { startWorker } from '../lib/open/worker.mjs'

export default {
  id: 'comlink-worker',
  label: 'comlink echo(), worker',
  impl: 'comlink',
  kind: 'thread',
  type: 'echo',
  compareWith: ['raw-worker'],
  async open(sink) {
    const { worker, online, close } = startWorker('comlink-echo.mjs', sink, 'comlink echo worker')
    const api = Comlink.wrap(nodeEndpoint(worker))
    await online
    return {
      send: (m) => api.echo(m).then(sink.deliver, sink.fail),
      close: () => close(() => api[Comlink.releaseProxy]()), // the worker drops its listener and ends
    }
  },
}
