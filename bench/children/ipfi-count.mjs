// ipfi one-way child for both fork() and spawnWorker(): count what arrives from parent(), answer
// the end marker with the count (bench/lib/oneway-count.mjs), until the parent closes its sender.
import { ConnectionLostError, DisconnectedError, parent } from 'ipfi'
import { counter } from '../lib/oneway-count.mjs'

const { receiver, sender } = await parent()
const count = counter((r) => sender.send(r))
for (;;) {
  let m
  try {
    m = await receiver.recv()
  } catch (e) {
    if (e instanceof DisconnectedError && !(e instanceof ConnectionLostError)) break
    throw e
  }
  count(m)
}
sender.close()
