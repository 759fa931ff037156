// Calls per second with 1, 10 and 100 clients at once, each keeping 10 calls in flight, against a
// server in another process: ipfi listen()/connect() + remote().echo, and grpc-js unary, over a
// Unix socket and loopback TCP. Client and server each get one process. Each server and its
// clients are opened once and measured every round.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { connect, remote } from 'ipfi'
import { MSG, isEcho } from '../lib/measure/echo.mjs'
import { BenchClient, grpc } from '../lib/peers/grpc-service.mjs'
import { grpcAddress } from '../lib/open/grpc-echo.mjs'
import { watchExit } from '../lib/open/procs.mjs'
import { startServer } from '../lib/open/server-child.mjs'

const IN_FLIGHT = 10
const WIRE = { unix: 'Unix socket', tcp: 'loopback TCP' }

/** Run `total` calls spread over the clients, IN_FLIGHT at a time per client; calls/s. */
async function drive(clients, total, call) {
  const per = Math.ceil(total / clients.length)
  let wrong = 0
  const start = performance.now()
  await Promise.all(
    clients.map(async (c) => {
      let next = 0
      await Promise.all(
        Array.from({ length: IN_FLIGHT }, async () => {
          while (next < per) {
            next++
            if (!isEcho(await call(c, MSG))) wrong++
          }
        }),
      )
    }),
  )
  const elapsedMs = performance.now() - start
  if (wrong) throw new Error(`${wrong} calls came back wrong`)
  return { elapsedMs, msgsPerSec: (per * clients.length) / (elapsedMs / 1000) }
}

/**
 * Start a server child (bench/children/<file>) on `address`; `clients(address)` makes the clients,
 * `call(client, m)` is one call. Returns the open scenario: run(total) each round, then close().
 */
async function serve({ file, address, dir, sink, clients, call, closeClients }) {
  const server = await startServer(file, address)
  const watch = watchExit(server.child, sink, file)
  const cs = await clients(server.address)
  return {
    run: (total) => drive(cs, total, call),
    async close() {
      watch.closing = true
      await closeClients(cs)
      const e = await server.stop()
      rmSync(dir, { recursive: true, force: true })
      return [e]
    },
  }
}

const ipfi = (wire, n) => ({
  id: `ipfi-server-${wire}-${n}`,
  label: `ipfi listen()/connect(), ${WIRE[wire]}, ${n} client${n > 1 ? 's' : ''}, remote().echo calls/s`,
  impl: 'ipfi',
  kind: 'process',
  type: 'oneway',
  compareWith: [`grpc-unary-${wire}-${n}`],
  iterScale: 0.05,
  open(sink) {
    const dir = mkdtempSync(join(tmpdir(), 'ipfi-bench-'))
    let peers = []
    const clients = async (address) => {
      peers = await Promise.all(Array.from({ length: n }, () => connect(address)))
      return Promise.all(peers.map(async (p) => remote(await p.receiver.recv())))
    }
    const closeClients = async (apis) => {
      for (const api of apis) api[Symbol.dispose]()
      await Promise.all(peers.map((p) => p[Symbol.asyncDispose]()))
    }
    const address = wire === 'unix' ? `unix:${join(dir, 's.sock')}` : 'tcp://127.0.0.1:0'
    return serve({ file: 'ipfi-server.mjs', address, dir, sink, clients, call: (api, m) => api.echo(m), closeClients })
  },
})

const grpcUnary = (wire, n) => ({
  id: `grpc-unary-${wire}-${n}`,
  label: `grpc-js unary, ${WIRE[wire]}, ${n} client${n > 1 ? 's' : ''}, calls/s`,
  impl: 'grpc-js',
  kind: 'process',
  type: 'oneway',
  iterScale: 0.008, // grpc-js calls cost some 0.5 ms each
  open(sink) {
    const dir = mkdtempSync(join(tmpdir(), 'ipfi-bench-'))
    const clients = async (address) => {
      // A channel of its own per client (no shared subchannel), as separate processes would have.
      const cs = Array.from({ length: n }, () => new BenchClient(address, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 }))
      await Promise.all(cs.map((c) => new Promise((r, j) => c.waitForReady(Date.now() + 10_000, (e) => (e ? j(e) : r())))))
      return cs
    }
    const call = (c, m) => new Promise((r, j) => c.echo(m, (e, v) => (e ? j(e) : r(v))))
    const closeClients = async (cs) => {
      for (const c of cs) c.close()
    }
    return serve({ file: 'grpc-server.mjs', address: grpcAddress(wire, dir), dir, sink, clients, call, closeClients })
  },
})

export const manyClients = ['unix', 'tcp'].flatMap((wire) => [1, 10, 100].flatMap((n) => [ipfi(wire, n), grpcUnary(wire, n)]))
