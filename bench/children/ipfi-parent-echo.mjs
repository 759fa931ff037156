// ipfi echo child for both fork() (a process, fd 3) and spawnWorker() (a thread): echo every
// message from parent() back (a stats request gets this process's memory figures) until the
// parent closes its sender, then close ours and end. IPFI_BENCH_LOOP picks the loop style
// (bench/lib/peers/ipfi-pump.mjs; default: `await recv()` per message).
import { parent } from 'ipfi'
import { drain } from '../lib/peers/ipfi-pump.mjs'
import { isStatsRequest, usage } from '../lib/peers/usage.mjs'

const { receiver, sender } = await parent()
await drain(receiver, (m) => sender.send(isStatsRequest(m) ? usage() : m), process.env.IPFI_BENCH_LOOP || 'recv')
sender.close()
