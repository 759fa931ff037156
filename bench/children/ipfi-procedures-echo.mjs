// ipfi procedures child for fork() and spawnWorker(): exposes `echo` (and a stream) and sends the
// endpoint to the parent, then serves until the parent lets go of it.
import { expose, parent } from 'ipfi'

const { sender } = await parent()
sender.send(
  expose({
    echo: (m) => m,
    async *items(n) {
      for (let i = 0; i < n; i++) yield i
    },
  }),
)
sender.close()
