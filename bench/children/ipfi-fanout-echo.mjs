// ipfi echo child for the many-channels scenarios (fork()): the parent sends `{ rx, tx }` pairs
// over the bootstrap channel (the handles move here); every pair gets its own echo loop, rx -> tx.
// Each loop ends when the parent closes that channel; the child ends when all are done.
import { parent } from 'ipfi'
import { drain } from '../lib/peers/ipfi-pump.mjs'

const { receiver, sender } = await parent()
const loops = []
await drain(receiver, ({ rx, tx }) => loops.push(drain(rx, (m) => tx.send(m)).then(() => tx.close())))
await Promise.all(loops)
sender.close()
