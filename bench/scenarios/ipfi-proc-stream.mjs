// ipfi procedures: a streamed result (async generator in a forked child), items per second.
import { fork } from 'ipfi'
import { procedureEcho, streamRate } from '../lib/ipfi-procedures.mjs'
import { track, waitExit } from '../lib/procs.mjs'

export default {
  id: 'ipfi-proc-stream',
  label: 'ipfi remote().items(N) stream from a forked child, default window',
  impl: 'ipfi',
  kind: 'process',
  type: 'oneway',
  iterScale: 0.5,
  warmup: false, // a fresh child every run: nothing to warm but the parent, which other scenarios warm
  async run(n) {
    const c = fork(new URL('../children/ipfi-procedures-echo.mjs', import.meta.url), { stdio: 'inherit' })
    track(c.process)
    const p = await procedureEcho(c, { deliver() {}, fail() {} })
    const exits = []
    try {
      return { ...(await streamRate(p.api, n)), exits }
    } finally {
      p.close()
      await c[Symbol.asyncDispose]()
      const e = await waitExit(c.process)
      exits.push({ what: 'ipfi procedures stream child', ...e, forced: e.forced || e.signal !== null }) // the array the result carries
    }
  },
}
