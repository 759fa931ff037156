// ipfi fork(): a child process linked over an extra fd-3 pipe with ipfi's own framing.
import { fork } from 'ipfi'
import { pump } from '../lib/ipfi-pump.mjs'
import { track, waitExit } from '../lib/procs.mjs'

export default {
  id: 'ipfi-fork',
  label: 'ipfi fork()',
  impl: 'ipfi',
  kind: 'process',
  type: 'echo',
  compareWith: ['raw-fd3-msgpackr', 'raw-ipc-json'],
  async open(sink) {
    const c = fork(new URL('../children/ipfi-parent-echo.mjs', import.meta.url), { stdio: 'inherit' })
    track(c.process)
    let closing = false
    c.exited.then((e) => closing || sink.fail(new Error(`ipfi echo child exited early (${e.code ?? e.signal})`)))
    const main = pump(c.receiver, sink.deliver, sink.fail)
    return {
      send: (m) => c.sender.send(m),
      async close() {
        closing = true
        main.stop()
        // Close our ends and wait: the child ends on its own (asyncDispose SIGTERMs it after 2 s).
        await c[Symbol.asyncDispose]()
        const e = await waitExit(c.process)
        return [{ what: 'ipfi fork echo child', ...e, forced: e.forced || e.signal !== null }]
      },
    }
  },
}
