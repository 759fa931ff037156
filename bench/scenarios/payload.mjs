// Payload echo, MiB/s, sequential round trips, at 1 MiB and 50 MiB: the same transports as the
// small-message scenarios (each payload scenario opens its own worker or child), message
// `{a:1, b:2, data}` with a Buffer in `data`. A worker shares this process, so only process
// children report their peak RSS (on request, bench/lib/peers/usage.mjs). `large` scenarios take their
// size and round trips from CONFIG in run.mjs (50 MiB, a few round trips); the runner appends the
// size to the label.
import rawWorker from './raw-worker.mjs'
import rawFd3 from './raw-fd3-msgpackr.mjs'
import ipfiWorker from './ipfi-worker.mjs'
import ipfiFork from './ipfi-fork.mjs'
import { openIpfiFork, openIpfiWorker } from '../lib/open/ipfi.mjs'

const payload = (base, mib, id, label, rawId, open = base.open) => ({
  id: `${id}-${mib}mib`,
  label,
  open,
  impl: base.impl,
  kind: base.kind,
  type: 'payload',
  large: mib > 1,
  raw: rawId ? `${rawId}-${mib}mib` : null,
  compareWith: rawId ? [`${rawId}-${mib}mib`] : [],
})

export const payloadScenarios = [1, 50].flatMap((mib) => [
  payload(rawWorker, mib, 'raw-worker', 'worker postMessage (structured clone copy)'),
  payload(rawFd3, mib, 'raw-fd3', 'fd-3 pipe, length + msgpackr'),
  payload(ipfiWorker, mib, 'ipfi-worker', 'ipfi spawnWorker()', 'raw-worker'),
  payload(ipfiFork, mib, 'ipfi-fork', 'ipfi fork()', 'raw-fd3'),
  // The same with `transfer(msg, [msg.data])` on both ends: the payload is moved, not copied, at each send.
  payload(ipfiWorker, mib, 'ipfi-worker-transfer', 'ipfi spawnWorker(), transfer()', 'raw-worker', (sink) => openIpfiWorker('ipfi-parent-echo.mjs', sink, 'ipfi echo worker (transfer)', 'recv', true)),
  payload(ipfiFork, mib, 'ipfi-fork-transfer', 'ipfi fork(), transfer()', 'raw-fd3', (sink) => openIpfiFork('ipfi-parent-echo.mjs', sink, 'ipfi fork echo child (transfer)', 'recv', true)),
])
