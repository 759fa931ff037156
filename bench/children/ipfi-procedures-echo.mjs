// ipfi procedures child for fork() and spawnWorker(): exposes `echo` and the stream procedures
// (a result stream, an argument stream counted with optional work per item, and both at once),
// sends the endpoint to the parent, then serves until the parent lets go of it.
import { expose, parent } from 'ipfi'
import { busy } from '../lib/peers/busy.mjs'

const { sender } = await parent()
sender.send(
  expose({
    echo: (m) => m,
    async *items(n) {
      for (let i = 0; i < n; i++) yield i
    },
    /** Reads a streamed argument to its end (`slowUs` of work per item), checks its order, returns the count. */
    async count(items, slowUs = 0) {
      let n = 0
      for await (const i of items) {
        if (i !== n++) throw new Error(`argument item ${i} out of order`)
        if (slowUs) busy(slowUs)
      }
      return n
    },
    /** Both ways at once: every item of the streamed argument comes back as a result item. */
    async *map(items) {
      for await (const i of items) yield i
    },
  }),
)
sender.close()
