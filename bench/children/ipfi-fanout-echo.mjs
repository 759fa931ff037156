// ipfi echo child for the many-channels scenarios (fork()): the parent sends `{ rx, tx }` pairs
// over the bootstrap channel (the handles move here); every pair gets its own echo loop, rx -> tx.
// Each loop ends when the parent closes that channel; the child ends when all are done.
import { ConnectionLostError, DisconnectedError, parent } from 'ipfi'

/** recv() until every sender closed (undefined then); a lost link throws. */
async function next(rx) {
  try {
    return { value: await rx.recv() }
  } catch (e) {
    if (e instanceof DisconnectedError && !(e instanceof ConnectionLostError)) return undefined
    throw e
  }
}

async function echo({ rx, tx }) {
  for (let m; (m = await next(rx)); ) tx.send(m.value)
  tx.close()
}

const { receiver, sender } = await parent()
const loops = []
for (let pair; (pair = await next(receiver)); ) loops.push(echo(pair.value))
await Promise.all(loops)
sender.close()
