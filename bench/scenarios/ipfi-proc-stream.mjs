// ipfi procedures: a streamed result (async generator `items(n)` in a forked child, default
// window), items per second with a fast consumer (takes each item and moves on) and a slow one
// (SLOW_US of synchronous work per item, so it cannot take more than 1e6 / SLOW_US a second).
import { performance } from 'node:perf_hooks'
import { openProcedureFork, streamRate } from '../lib/open/ipfi-procedures.mjs'

export const SLOW_US = 20

function busy() {
  const until = performance.now() + SLOW_US / 1000
  while (performance.now() < until);
}

const stream = (slow) => ({
  id: slow ? 'ipfi-proc-stream-slow' : 'ipfi-proc-stream',
  label: `ipfi remote().items(N) stream from a forked child, ${slow ? `slow consumer (${SLOW_US} µs per item)` : 'fast consumer'}`,
  impl: 'ipfi',
  kind: 'process',
  type: 'oneway',
  raw: 'raw-ipc-json-oneway',
  compareWith: slow ? ['raw-ipc-json-oneway', 'ipfi-proc-stream'] : ['raw-ipc-json-oneway', 'ipfi-fork-oneway'],
  iterScale: slow ? 0.1 : 0.5,
  ...(slow && { consumerLimitPerSec: 1e6 / SLOW_US }),
  async open(sink) {
    const p = await openProcedureFork(sink, `ipfi procedures stream child (${slow ? 'slow' : 'fast'})`)
    return {
      run: (n) => streamRate(p.api, n, slow ? busy : undefined),
      close: () => p.close(),
    }
  },
})

export const streamScenarios = [stream(false), stream(true)]
