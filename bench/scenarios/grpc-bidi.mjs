// Peer library: grpc-js bidirectional stream ping-pong over a Unix socket: one `Chat` call, every
// message written on it comes back on it (bench/children/grpc-server.mjs, JSON-encoded).
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { BenchClient, grpc } from '../lib/grpc-service.mjs'
import { startServer } from '../lib/server-child.mjs'

export default {
  id: 'grpc-bidi-unix',
  label: 'grpc-js bidi stream, Unix socket',
  impl: 'grpc-js',
  kind: 'process',
  type: 'echo',
  compareWith: ['raw-fd3-msgpackr'],
  iterScale: 0.5,
  note: 'half the round trips, to keep --quick short',
  async open(sink) {
    const dir = mkdtempSync(join(tmpdir(), 'ipfi-bench-'))
    const server = await startServer('grpc-server.mjs', `unix:${join(dir, 's.sock')}`)
    let closing = false
    server.child.on('exit', (code, signal) => closing || sink.fail(new Error(`grpc server exited early (${code ?? signal})`)))
    const client = new BenchClient(server.address, grpc.credentials.createInsecure())
    await new Promise((r, j) => client.waitForReady(Date.now() + 10_000, (e) => (e ? j(e) : r())))
    const call = client.chat()
    const ended = new Promise((r) => call.on('status', r))
    call.on('data', sink.deliver)
    call.on('error', (e) => closing || sink.fail(e))
    return {
      send: (m) => call.write(m),
      async close() {
        closing = true
        call.end() // the server ends its side, the call's status arrives
        await Promise.race([ended, new Promise((r) => setTimeout(r, 5000))])
        client.close()
        const e = await server.stop()
        rmSync(dir, { recursive: true, force: true })
        return [{ what: 'grpc bidi server', ...e }]
      },
    }
  },
}
