// Start a child process (bench/children/<file>) over Node's IPC channel with the given serialization
// ('json' or 'advanced'): `startIpcChild` is the lifecycle the raw IPC and birpc fork scenarios share;
// `openRawIpc` adds the transport (replies go to the sink, disconnecting ends it), for the raw echo
// and the raw one-way scenarios.
import { fork } from 'node:child_process'
import { once } from 'node:events'
import { childPath, track, waitExit, watchExit } from './procs.mjs'

/**
 * An early exit fails the sink. Returns { child, spawned, close(before) -> exits }: wire up the
 * child, then await `spawned`; close() stops watching, runs `before()`, disconnects and waits.
 */
export function startIpcChild(file, serialization, sink, what) {
  const child = track(
    fork(childPath(file), [], {
      serialization,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    }),
  )
  const watch = watchExit(child, sink, what)
  return {
    child,
    spawned: once(child, 'spawn'),
    async close(before) {
      watch.closing = true
      before?.()
      child.disconnect()
      return [{ what, ...(await waitExit(child)) }]
    },
  }
}

export async function openRawIpc(file, serialization, sink, what) {
  const { child, spawned, close } = startIpcChild(file, serialization, sink, what)
  child.on('message', sink.deliver)
  await spawned
  return { send: (m) => child.send(m), close: () => close() }
}
