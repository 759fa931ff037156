// ipfi echo child for both fork() (a process, fd 3) and spawnWorker() (a thread): echo every
// message from parent() back (a stats request gets this process's memory figures) until the
// parent closes its sender, then close ours and end.
import { ConnectionLostError, DisconnectedError, parent } from 'ipfi'
import { isStatsRequest, usage } from '../lib/usage.mjs'

const { receiver, sender } = await parent()
for (;;) {
  let m
  try {
    m = await receiver.recv()
  } catch (e) {
    if (e instanceof DisconnectedError && !(e instanceof ConnectionLostError)) break
    throw e
  }
  sender.send(isStatsRequest(m) ? usage() : m)
}
sender.close()
