// Calls per second with 1, 10 and 100 clients at once, each keeping 10 calls in flight, against a
// server in another process: ipfi listen()/connect() + remote().echo, and grpc-js unary, over a
// Unix socket and loopback TCP. Client and server each get one process.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { connect, remote } from 'ipfi'
import { MSG, isEcho } from '../lib/measure.mjs'
import { BenchClient, grpc } from '../lib/grpc-service.mjs'
import { startServer } from '../lib/server-child.mjs'

const IN_FLIGHT = 10

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

const ipfi = (wire, n) => ({
  id: `ipfi-server-${wire}-${n}`,
  label: `ipfi listen()/connect(), ${wire === 'unix' ? 'Unix socket' : 'loopback TCP'}, ${n} client${n > 1 ? 's' : ''}, remote().echo calls/s`,
  impl: 'ipfi',
  kind: 'process',
  type: 'oneway',
  compareWith: [`grpc-unary-${wire}-${n}`],
  iterScale: 0.05,
  warmup: false, // a fresh server every run
  async run(total) {
    const dir = mkdtempSync(join(tmpdir(), 'ipfi-bench-'))
    const server = await startServer('ipfi-server.mjs', wire === 'unix' ? `unix:${join(dir, 's.sock')}` : 'tcp://127.0.0.1:0')
    const peers = await Promise.all(Array.from({ length: n }, () => connect(server.address)))
    const exits = []
    try {
      const apis = await Promise.all(peers.map(async (p) => remote(await p.receiver.recv())))
      return { ...(await drive(apis, total, (api, m) => api.echo(m))), exits }
    } finally {
      for (const p of peers) p.close()
      exits.push(await server.stop()) // the same array the result carries
      rmSync(dir, { recursive: true, force: true })
    }
  },
})

const grpcUnary = (wire, n) => ({
  id: `grpc-unary-${wire}-${n}`,
  label: `grpc-js unary, ${wire === 'unix' ? 'Unix socket' : 'loopback TCP'}, ${n} client${n > 1 ? 's' : ''}, calls/s`,
  impl: 'grpc-js',
  kind: 'process',
  type: 'oneway',
  iterScale: 0.01,
  warmup: false, // a fresh server every run
  async run(total) {
    const dir = mkdtempSync(join(tmpdir(), 'ipfi-bench-'))
    const server = await startServer('grpc-server.mjs', wire === 'unix' ? `unix:${join(dir, 's.sock')}` : '127.0.0.1:0')
    // A channel of its own per client (no shared subchannel), as separate processes would have.
    const clients = Array.from({ length: n }, () => new BenchClient(server.address, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 }))
    const exits = []
    try {
      await Promise.all(clients.map((c) => new Promise((r, j) => c.waitForReady(Date.now() + 10_000, (e) => (e ? j(e) : r())))))
      return { ...(await drive(clients, total, (c, m) => new Promise((r, j) => c.echo(m, (e, v) => (e ? j(e) : r(v)))))), exits }
    } finally {
      for (const c of clients) c.close()
      exits.push(await server.stop()) // the same array the result carries
      rmSync(dir, { recursive: true, force: true })
    }
  },
})

export const manyClients = ['unix', 'tcp'].flatMap((wire) => [1, 10, 100].flatMap((n) => [ipfi(wire, n), grpcUnary(wire, n)]))
