// ipfi echo child for both fork() (a process, fd 3) and spawnWorker() (a thread): echo every
// message from parent() back (a stats request gets this process's memory figures) until the
// parent closes its sender, then close ours and end. IPFI_BENCH_LOOP picks the loop style
// (bench/lib/peers/ipfi-pump.mjs; default: `await recv()` per message).
import { parent, transfer } from 'ipfi'
import { drain } from '../lib/peers/ipfi-pump.mjs'
import { isStatsRequest, usage } from '../lib/peers/usage.mjs'

// IPFI_BENCH_TRANSFER: a message's `data` goes back with transfer() (moved, not copied).
const moves = process.env.IPFI_BENCH_TRANSFER === '1'
const { receiver, sender } = await parent()
const echo = moves ? (m) => sender.send(m?.data ? transfer(m, [m.data]) : m) : (m) => sender.send(m)
await drain(receiver, (m) => (isStatsRequest(m) ? sender.send(usage()) : echo(m)), process.env.IPFI_BENCH_LOOP || 'recv')
sender.close()
