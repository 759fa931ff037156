// birpc echo peer, for a worker thread (parentPort) and a forked process (Node IPC 'json'):
// exposes `echo(m)`. Ends when told: the string 'bye' outside birpc's own messages (a worker closes
// its port), or the parent disconnecting the IPC channel (a process).
import { isMainThread, parentPort } from 'node:worker_threads'
import { createBirpc } from 'birpc'

const port = isMainThread ? process : parentPort
const rpc = createBirpc(
  { echo: (m) => m },
  {
    post: (data) => (isMainThread ? process.send(data) : parentPort.postMessage(data)),
    on: (fn) =>
      port.on('message', (data) => {
        if (data !== 'bye') return fn(data)
        rpc.$close()
        port.close()
      }),
  },
)
if (isMainThread) process.on('disconnect', () => rpc.$close())
