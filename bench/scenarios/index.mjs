// Every scenario, in report order: raw baselines first, then ipfi channels and procedures, then
// peer libraries, then payloads, the one-way rates (pipelined, streams, many clients), then the
// NATS scenarios (raw client and ipfi through one nats-server).
import rawMessageChannel from './raw-message-channel.mjs'
import rawWorker from './raw-worker.mjs'
import rawIpcJson from './raw-ipc-json.mjs'
import rawIpcAdvanced from './raw-ipc-advanced.mjs'
import rawFd3 from './raw-fd3-msgpackr.mjs'
import { rawTcp, rawUnixSocket } from './raw-socket.mjs'
import ipfiChannel from './ipfi-channel.mjs'
import ipfiWorker from './ipfi-worker.mjs'
import ipfiFork from './ipfi-fork.mjs'
import ipfiSocket from './ipfi-unix-socket.mjs'
import ipfiMemory from './ipfi-memory.mjs'
import ipfiMemoryChunk1 from './ipfi-memory-chunk1.mjs'
import ipfiOneway from './ipfi-channel-oneway.mjs'
import ipfiProcWorker from './ipfi-proc-worker.mjs'
import ipfiProcFork from './ipfi-proc-fork.mjs'
import { ipfiProcTcp, ipfiProcUnix } from './ipfi-proc-server.mjs'
import ipfiProcMemoryChunk1 from './ipfi-proc-memory-chunk1.mjs'
import { streamScenarios } from './ipfi-proc-stream.mjs'
import ipfiFork1ch from './ipfi-fork-1ch.mjs'
import ipfiFork1000ch from './ipfi-fork-1000ch.mjs'
import { loopStyleScenarios } from './ipfi-loop-styles.mjs'
import birpcWorker from './birpc-worker.mjs'
import birpcFork from './birpc-fork.mjs'
import comlinkWorker from './comlink-worker.mjs'
import { grpcScenarios } from './grpc.mjs'
import { payloadScenarios } from './payload.mjs'
import { pipelinedScenarios } from './pipelined.mjs'
import { manyClients } from './many-clients.mjs'
import { natsScenarios } from './nats.mjs'
import { pythonScenarios } from './python.mjs'

export const scenarios = [
  rawMessageChannel, rawWorker, rawIpcJson, rawIpcAdvanced, rawFd3, rawUnixSocket, rawTcp,
  ipfiChannel, ipfiWorker, ipfiFork, ipfiSocket, ipfiMemory, ipfiMemoryChunk1, ipfiFork1ch, ipfiFork1000ch, ...loopStyleScenarios,
  ipfiProcWorker, ipfiProcFork, ipfiProcUnix, ipfiProcTcp, ipfiProcMemoryChunk1,
  birpcWorker, birpcFork, comlinkWorker, ...grpcScenarios,
  ...payloadScenarios,
  ...pipelinedScenarios, ipfiOneway, ...streamScenarios, ...manyClients,
  ...natsScenarios, // need nats-server: left out, saying so, where it is missing (bench/lib/open/nats-server.mjs)
  ...pythonScenarios,
]

/**
 * The pinned latency pass (run.mjs runs it after the unpinned one, the whole process tree on one
 * CPU): the raw wires, ipfi channels (every loop style) and procedures, and the peer libraries,
 * one call in flight against birpc and comlink.
 */
export const pinnedIds = [
  'raw-message-channel', 'raw-worker', 'raw-fd3-msgpackr',
  'ipfi-channel', 'ipfi-worker', 'ipfi-fork', ...loopStyleScenarios.map((s) => s.id),
  'ipfi-proc-worker', 'ipfi-proc-fork', 'birpc-worker', 'birpc-fork', 'comlink-worker',
]
