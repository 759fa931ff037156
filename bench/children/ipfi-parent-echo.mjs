// ipfi echo child for both fork() (a process, fd 3) and spawnWorker() (a thread): echo every
// message from parent() back until the parent closes its sender, then close ours and end.
import { ConnectionLostError, DisconnectedError, parent } from 'ipfi'

const { receiver, sender } = await parent()
for (;;) {
  let m
  try {
    m = await receiver.recv()
  } catch (e) {
    if (e instanceof DisconnectedError && !(e instanceof ConnectionLostError)) break
    throw e
  }
  sender.send(m)
}
sender.close()
