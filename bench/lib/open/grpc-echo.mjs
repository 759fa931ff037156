/**
 * grpc-js echo transports against a server child (bench/children/grpc-server.mjs, JSON-encoded):
 * `unary`, one Echo call per round trip, or `bidi`, one Chat stream on which every message written
 * comes back; over a Unix socket or loopback TCP.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { BenchClient, grpc } from '../peers/grpc-service.mjs'
import { watchExit } from './procs.mjs'
import { startServer } from './server-child.mjs'

export const grpcAddress = (wire, dir) => (wire === 'unix' ? `unix:${join(dir, 's.sock')}` : '127.0.0.1:0')

export async function openGrpcEcho(mode, wire, sink) {
  const dir = mkdtempSync(join(tmpdir(), 'ipfi-bench-'))
  const server = await startServer('grpc-server.mjs', grpcAddress(wire, dir))
  const watch = watchExit(server.child, sink, 'grpc server')
  const client = new BenchClient(server.address, grpc.credentials.createInsecure())
  await new Promise((r, j) => client.waitForReady(Date.now() + 10_000, (e) => (e ? j(e) : r())))
  let send
  let end = async () => {}
  if (mode === 'unary') {
    send = (m) => client.echo(m, (e, v) => (e ? sink.fail(e) : sink.deliver(v)))
  } else {
    const call = client.chat()
    const ended = new Promise((r) => call.on('status', r))
    call.on('data', sink.deliver)
    call.on('error', (e) => watch.closing || sink.fail(e))
    send = (m) => call.write(m)
    end = async () => {
      call.end() // the server ends its side, the call's status arrives
      await Promise.race([ended, new Promise((r) => setTimeout(r, 5000))])
    }
  }
  return {
    send,
    async close() {
      watch.closing = true
      await end()
      client.close()
      const e = await server.stop()
      rmSync(dir, { recursive: true, force: true })
      return [{ ...e, what: `grpc ${mode} server (${wire})` }]
    },
  }
}
