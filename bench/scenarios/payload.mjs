// 1 MiB payload echo, MiB/s, sequential round trips: the same transports as the small-message
// scenarios (each payload scenario opens its own worker or child), message `{a:1, b:2, data}` with
// a 1 MiB Buffer in `data`. A worker shares this process, so only process children report their
// peak RSS (on request, bench/lib/usage.mjs).
import rawWorker from './raw-worker.mjs'
import rawFd3 from './raw-fd3-msgpackr.mjs'
import ipfiWorker from './ipfi-worker.mjs'
import ipfiFork from './ipfi-fork.mjs'

const payload = (base, extra) => ({
  open: base.open,
  impl: base.impl,
  kind: base.kind,
  type: 'payload',
  childIsProcess: base.kind === 'process',
  ...extra,
})

export const payloadScenarios = [
  payload(rawWorker, { id: 'raw-worker-1mib', label: 'worker postMessage (structured clone copy), 1 MiB' }),
  payload(rawFd3, { id: 'raw-fd3-1mib', label: 'fd-3 pipe, length + msgpackr, 1 MiB' }),
  payload(ipfiWorker, { id: 'ipfi-worker-1mib', label: 'ipfi spawnWorker(), 1 MiB', compareWith: ['raw-worker-1mib'] }),
  payload(ipfiFork, { id: 'ipfi-fork-1mib', label: 'ipfi fork(), 1 MiB', compareWith: ['raw-fd3-1mib'] }),
]
