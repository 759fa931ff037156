// @ts-check
// A worker of examples/across-hosts (start server.mjs first; see there how): it connects to the
// server's name on the NATS server, says who it is, then takes jobs until none is left, hands in
// each result, and closes its link.
//
//   node examples/across-hosts/worker.mjs [name]      (NATS_URL, JOBS_SECRET: as for the server)
import os from 'node:os'
import { connect, remote } from 'ipfi'

/** @typedef {import('./server.mjs').JobsApi} JobsApi */

const NATS = process.env.NATS_URL ?? 'nats://127.0.0.1:4222'
const SECRET = process.env.JOBS_SECRET ?? 'an example secret'
const name = process.argv[2] ?? `${os.hostname()}:${process.pid}`

/** @type {import('ipfi').Peer<import('./server.mjs').Hello, import('ipfi').Endpoint<JobsApi>>} */
const peer = await connect(`${NATS}/ipfi-example.jobs`, { secret: SECRET })
peer.sender.send({ name })
const endpoint = await peer.receiver.recv()
const jobs = remote(endpoint)
endpoint.close() // the proxy holds its own copy

let done = 0
for (let job = await jobs.next(); job !== null; job = await jobs.next()) {
  await new Promise((r) => setTimeout(r, 50)) // a job takes a while: the other worker gets its share
  await jobs.done(job, job * job)
  done++
}
console.log(`worker ${name}: ${done} jobs done`)
jobs[Symbol.dispose]()
peer.close()
await peer.closed
