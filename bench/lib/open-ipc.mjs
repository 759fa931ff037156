// Open a child process (bench/children/<file>) over Node's IPC channel with the given serialization
// ('json' or 'advanced'); replies go to the sink, disconnecting ends it. Shared by the raw echo and
// the raw one-way scenarios.
import { fork } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { track, waitExit } from './procs.mjs'

export async function openRawIpc(file, serialization, sink, what) {
  const child = track(
    fork(fileURLToPath(new URL(`../children/${file}`, import.meta.url)), [], {
      serialization,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    }),
  )
  let closing = false
  child.on('exit', (code, signal) => closing || sink.fail(new Error(`${what} exited early (${code ?? signal})`)))
  child.on('message', sink.deliver)
  await once(child, 'spawn')
  return {
    send: (m) => child.send(m),
    async close() {
      closing = true
      child.disconnect()
      return [{ what, ...(await waitExit(child)) }]
    },
  }
}
