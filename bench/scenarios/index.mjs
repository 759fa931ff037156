// Every scenario, in report order: raw baselines first, then ipfi.
import rawMessageChannel from './raw-message-channel.mjs'
import rawWorker from './raw-worker.mjs'
import rawIpcJson from './raw-ipc-json.mjs'
import rawFd3 from './raw-fd3-msgpackr.mjs'
import ipfiChannel from './ipfi-channel.mjs'
import ipfiWorker from './ipfi-worker.mjs'
import ipfiFork from './ipfi-fork.mjs'
import ipfiSocket from './ipfi-unix-socket.mjs'
import ipfiMemory from './ipfi-memory-chunk1.mjs'
import ipfiOneway from './ipfi-channel-oneway.mjs'
import ipfiProcWorker from './ipfi-proc-worker.mjs'
import ipfiProcFork from './ipfi-proc-fork.mjs'
import ipfiProcStream from './ipfi-proc-stream.mjs'
import { manyClients } from './many-clients.mjs'

export const scenarios = [rawMessageChannel, rawWorker, rawIpcJson, rawFd3, ipfiChannel, ipfiWorker, ipfiFork, ipfiSocket, ipfiMemory, ipfiOneway, ipfiProcWorker, ipfiProcFork, ipfiProcStream, ...manyClients]
