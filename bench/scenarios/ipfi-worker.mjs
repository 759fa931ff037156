// ipfi spawnWorker(): a worker thread linked over a dedicated MessagePort.
import { spawnWorker } from 'ipfi'
import { pump } from '../lib/ipfi-pump.mjs'
import { withDeadline } from '../lib/procs.mjs'

export default {
  id: 'ipfi-worker',
  label: 'ipfi spawnWorker()',
  impl: 'ipfi',
  kind: 'thread',
  type: 'echo',
  compareWith: ['raw-worker'],
  async open(sink) {
    const w = spawnWorker(new URL('../children/ipfi-parent-echo.mjs', import.meta.url))
    let closing = false
    w.exited.then((e) => closing || sink.fail(new Error(`ipfi echo worker exited early (code ${e.code})`)))
    const main = pump(w.receiver, sink.deliver, sink.fail)
    return {
      send: (m) => w.sender.send(m),
      async close() {
        closing = true
        main.stop()
        // Close our ends and wait: the echo worker ends on its own (asyncDispose kills it after 2 s).
        await w[Symbol.asyncDispose]()
        const e = await withDeadline(w.exited, 5000, () => ({ code: null, signal: 'timeout' }))
        // A thread that ended by itself exits with code 0; terminate() gives 1.
        return [{ what: 'ipfi echo worker', code: e.code, signal: e.signal, forced: e.code !== 0 }]
      },
    }
  },
}
