// ipfi procedures over a forked process: remote(endpoint).echo(m), one call per round trip.
import { fork } from 'ipfi'
import { procedureEcho } from '../lib/ipfi-procedures.mjs'
import { track, waitExit } from '../lib/procs.mjs'

export default {
  id: 'ipfi-proc-fork',
  label: 'ipfi remote().echo(), fork',
  impl: 'ipfi',
  kind: 'process',
  type: 'echo',
  compareWith: ['raw-fd3-msgpackr', 'ipfi-fork', 'birpc-fork'],
  async open(sink) {
    const c = fork(new URL('../children/ipfi-procedures-echo.mjs', import.meta.url), { stdio: 'inherit' })
    track(c.process)
    let closing = false
    c.exited.then((e) => closing || sink.fail(new Error(`ipfi procedures child exited early (${e.code ?? e.signal})`)))
    const p = await procedureEcho(c, sink)
    return {
      send: p.send,
      async close() {
        closing = true
        p.close()
        await c[Symbol.asyncDispose]()
        const e = await waitExit(c.process)
        return [{ what: 'ipfi procedures child', ...e, forced: e.forced || e.signal !== null }]
      },
    }
  },
}
