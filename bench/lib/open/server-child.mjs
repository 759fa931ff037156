// A server in a child process (bench/children/*-server.mjs): it says its address over Node IPC
// once listening, and ends when told 'stop'. Used by many-clients, grpc and the ipfi server scenarios.
import { fork } from 'node:child_process'
import { childPath, track, waitExit } from './procs.mjs'

export async function startServer(file, address) {
  const child = track(fork(childPath(file), [address], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }))
  const [msg] = await Promise.race([
    new Promise((r) => child.once('message', (m) => r([m]))),
    new Promise((_, j) => child.once('exit', (c) => j(new Error(`${file} exited early (${c})`)))),
  ])
  return {
    address: msg.address,
    child,
    /** Ask it to stop; its exit as { what, code, signal, forced }. */
    async stop() {
      child.send('stop')
      return { what: file, ...(await waitExit(child)) }
    },
  }
}
