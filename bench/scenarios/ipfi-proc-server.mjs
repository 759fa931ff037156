// ipfi procedures over a socket: listen() in a child process (bench/children/ipfi-server.mjs),
// connect() here, remote(endpoint).echo(m) per round trip; over a Unix socket and loopback TCP,
// the wires of grpc-js unary.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect, remote } from 'ipfi'
import { watchExit } from '../lib/open/procs.mjs'
import { startServer } from '../lib/open/server-child.mjs'

const WIRE = { unix: 'Unix socket', tcp: 'loopback TCP' }
const COMPARE = {
  unix: ['raw-unix-socket', 'ipfi-unix-socket', 'grpc-unary-unix'],
  tcp: ['raw-tcp', 'grpc-unary-tcp'],
}

/**
 * remote(endpoint).echo(m) from here to a started listen() server (`{ child, address, stop }`, JS or
 * Python) that sends its endpoint as the first message; `cleanup` runs once it has stopped.
 */
export async function callsTo(server, sink, what, cleanup = () => {}) {
  const watch = watchExit(server.child, sink, what)
  const peer = await connect(server.address)
  const endpoint = await peer.receiver.recv()
  const api = remote(endpoint)
  endpoint.close()
  return {
    send: (m) => api.echo(m).then(sink.deliver, sink.fail),
    async close() {
      watch.closing = true
      api[Symbol.dispose]()
      await peer[Symbol.asyncDispose]()
      const e = await server.stop()
      cleanup()
      return [{ ...e, what }]
    },
  }
}

const procServer = (wire) => ({
  id: `ipfi-proc-${wire}`,
  label: `ipfi remote().echo(), connect() ${WIRE[wire]}`,
  impl: 'ipfi',
  kind: 'process',
  type: 'echo',
  raw: COMPARE[wire][0],
  compareWith: COMPARE[wire],
  async open(sink) {
    const dir = mkdtempSync(join(tmpdir(), 'ipfi-bench-'))
    const server = await startServer('ipfi-server.mjs', wire === 'unix' ? `unix:${join(dir, 's.sock')}` : 'tcp://127.0.0.1:0')
    return callsTo(server, sink, `ipfi server (${wire})`, () => rmSync(dir, { recursive: true, force: true }))
  },
})

export const ipfiProcUnix = procServer('unix')
export const ipfiProcTcp = procServer('tcp')
