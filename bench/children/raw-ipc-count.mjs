// Raw one-way baseline, child process with Node IPC: count what arrives, answer the end marker with
// the count (bench/lib/peers/oneway-count.mjs). Exits once the parent disconnects the channel.
import { counter } from '../lib/peers/oneway-count.mjs'

process.on('message', counter((r) => process.send(r)))
