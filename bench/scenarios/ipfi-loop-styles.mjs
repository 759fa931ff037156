// The same echo over spawnWorker() and fork() as ipfi-worker / ipfi-fork (which loop with a plain
// `await recv()` per message on both ends), with the other loop styles of bench/lib/peers/ipfi-pump.mjs:
// `for await (const m of rx)` (the idiom), and a tuned loop (tryRecv() while something is queued).
import { openIpfiFork, openIpfiWorker } from '../lib/open/ipfi.mjs'

const LABEL = { 'for-await': '`for await` loops', tuned: 'tuned loops (tryRecv, then recv)' }

const styled = (how, loop) => ({
  id: `ipfi-${how}-${loop}`,
  label: `ipfi ${how === 'fork' ? 'fork()' : 'spawnWorker()'}, ${LABEL[loop]}`,
  impl: 'ipfi',
  kind: how === 'fork' ? 'process' : 'thread',
  type: 'echo',
  compareWith: [how === 'fork' ? 'ipfi-fork' : 'ipfi-worker'],
  open: (sink) =>
    (how === 'fork' ? openIpfiFork : openIpfiWorker)('ipfi-parent-echo.mjs', sink, `ipfi ${how} echo (${loop})`, loop),
})

export const loopStyleScenarios = [styled('worker', 'for-await'), styled('worker', 'tuned'), styled('fork', 'for-await')]
