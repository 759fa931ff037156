// ipfi procedures with streams, to and from a forked child (default window), items per second:
//   result streams     async generator `items(n)` there, `for await` here; a fast consumer (takes
//                      each item and moves on) and a slow one (SLOW_US of synchronous work per item,
//                      so it cannot take more than 1e6 / SLOW_US a second)
//   argument streams   an async generator here passed as an argument, read with `for await` there
//                      (`count(items, slowUs)`), fast and slow in the same way
//   bidirectional      both at once: `map(items)` yields every item of its argument stream back
import { openProcedureFork, argStreamRate, bidiStreamRate, streamRate } from '../lib/open/ipfi-procedures.mjs'
import { busy } from '../lib/peers/busy.mjs'

export const SLOW_US = 20

const slowLabel = `slow consumer (${SLOW_US} µs per item)`

const scenario = ({ id, label, slow, compareWith, run }) => ({
  id,
  label,
  impl: 'ipfi',
  kind: 'process',
  type: 'oneway',
  raw: 'raw-ipc-json-oneway',
  compareWith: ['raw-ipc-json-oneway', ...compareWith],
  iterScale: slow ? 0.1 : 0.5,
  ...(slow && { consumerLimitPerSec: 1e6 / SLOW_US }),
  async open(sink) {
    const p = await openProcedureFork(sink, `ipfi procedures stream child (${id})`)
    return {
      run: (n) => run(p.api, n),
      close: () => p.close(),
    }
  },
})

export const streamScenarios = [
  scenario({
    id: 'ipfi-proc-stream',
    label: 'ipfi remote().items(N) result stream from a forked child, fast consumer',
    compareWith: ['ipfi-fork-oneway'],
    run: (api, n) => streamRate(api, n),
  }),
  scenario({
    id: 'ipfi-proc-stream-slow',
    label: `ipfi remote().items(N) result stream from a forked child, ${slowLabel}`,
    slow: true,
    compareWith: ['ipfi-proc-stream'],
    run: (api, n) => streamRate(api, n, () => busy(SLOW_US)),
  }),
  scenario({
    id: 'ipfi-proc-argstream',
    label: 'ipfi remote().count(items) argument stream to a forked child, fast consumer',
    compareWith: ['ipfi-fork-oneway', 'ipfi-proc-stream'],
    run: (api, n) => argStreamRate(api, n),
  }),
  scenario({
    id: 'ipfi-proc-argstream-slow',
    label: `ipfi remote().count(items) argument stream to a forked child, ${slowLabel}`,
    slow: true,
    compareWith: ['ipfi-proc-argstream'],
    run: (api, n) => argStreamRate(api, n, SLOW_US),
  }),
  scenario({
    id: 'ipfi-proc-bidi',
    label: 'ipfi remote().map(items) both ways at once with a forked child, items each way',
    compareWith: ['ipfi-fork-oneway', 'ipfi-proc-stream'],
    run: (api, n) => bidiStreamRate(api, n),
  }),
]
