// @ts-check
// The server of a small job system across hosts: it listens on a name on a NATS server, waits for
// two workers (on this host or any other that reaches the NATS server), hands out jobs through
// procedures, and collects the results. examples/across-hosts/worker.mjs is the worker.
//
//   nats-server -a 127.0.0.1 -p 4222 &          # Debian/Ubuntu: apt-get install -y nats-server
//   node examples/across-hosts/server.mjs &
//   node examples/across-hosts/worker.mjs w1 &
//   node examples/across-hosts/worker.mjs w2
//
// NATS_URL names the NATS server (default nats://127.0.0.1:4222; on other hosts, point it at
// this one's); the shared secret admits the workers (JOBS_SECRET, the same on every side).
import { expose, listen } from 'ipfi'

const NATS = process.env.NATS_URL ?? 'nats://127.0.0.1:4222'
const SECRET = process.env.JOBS_SECRET ?? 'an example secret'
const WORKERS = 2
const JOBS = 8

/** @typedef {{ name: string }} Hello */
/** @typedef {ReturnType<typeof jobsFor>} JobsApi */

const queue = Array.from({ length: JOBS }, (_, i) => i + 1)
/** @type {Map<number, { result: number, by: string }>} */
const results = new Map()
/** @type {() => void} */
let allDone = () => {}
const finished = new Promise((/** @type {(v?: unknown) => void} */ r) => (allDone = r))

/** The procedures one worker calls: take the next job (null: none left), hand in a result. */
function jobsFor(/** @type {string} */ name) {
  return {
    next: () => queue.shift() ?? null,
    /** @param {number} job @param {number} result */
    done(job, result) {
      results.set(job, { result, by: name })
      console.log(`server: job ${job} = ${result} (by ${name})`)
      if (results.size === JOBS) allDone()
    },
  }
}

/** @type {import('ipfi').Server<import('ipfi').Endpoint<JobsApi>, Hello>} */
const server = await listen(`${NATS}/ipfi-example.jobs`, { secret: SECRET })
console.log(`server: listening on ${server.address}, waiting for ${WORKERS} workers`)

const workers = []
while (workers.length < WORKERS) {
  const peer = await server.accept()
  const { name } = await peer.receiver.recv()
  console.log(`server: worker ${name} connected`)
  workers.push({ peer, name })
}
for (const { peer, name } of workers) peer.sender.send(expose(jobsFor(name)))

await finished
const by = workers.map(({ name }) => `${name} ${[...results.values()].filter((r) => r.by === name).length}`)
console.log(`server: ${JOBS} jobs done (${by.join(', ')})`)
// Each worker closes its link once no job is left; then the server closes.
await Promise.all(workers.map(({ peer }) => peer.closed))
await server.close()
console.log('server: closed')
