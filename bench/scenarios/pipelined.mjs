// Pipelined one-way small messages (bench/lib/measure/oneway.mjs): msg/s from here to a counting peer that
// stays open across rounds. Raw: one postMessage / process.send per message; ipfi: a channel to a
// spawnWorker() / fork() child.
import { openRawIpc } from '../lib/open/ipc.mjs'
import { openIpfiFork, openIpfiWorker } from '../lib/open/ipfi.mjs'
import { openRawWorker } from '../lib/open/worker.mjs'

const oneway = (o) => ({ type: 'oneway', pipelined: true, ...o })

export const pipelinedScenarios = [
  oneway({
    id: 'raw-worker-oneway',
    label: 'worker postMessage, one per message',
    impl: 'raw',
    kind: 'thread',
    open: (sink) => openRawWorker('raw-worker-count.mjs', sink, 'raw counting worker'),
  }),
  oneway({
    id: 'raw-ipc-json-oneway',
    label: "child_process IPC 'json', one process.send per message",
    impl: 'raw',
    kind: 'process',
    open: (sink) => openRawIpc('raw-ipc-count.mjs', 'json', sink, 'IPC json counting child'),
  }),
  oneway({
    id: 'ipfi-worker-oneway',
    label: 'ipfi spawnWorker() channel',
    impl: 'ipfi',
    kind: 'thread',
    raw: 'raw-worker-oneway',
    compareWith: ['raw-worker-oneway'],
    open: async (sink) => openIpfiWorker('ipfi-count.mjs', sink, 'ipfi counting worker'),
  }),
  oneway({
    id: 'ipfi-fork-oneway',
    label: 'ipfi fork() channel',
    impl: 'ipfi',
    kind: 'process',
    raw: 'raw-ipc-json-oneway',
    compareWith: ['raw-ipc-json-oneway'],
    open: async (sink) => openIpfiFork('ipfi-count.mjs', sink, 'ipfi counting child'),
  }),
]
