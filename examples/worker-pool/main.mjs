// @ts-check
// A pool of forked workers, each exposing procedures: jobs fanned out across them, progress
// reported through callbacks, one job cancelled with an AbortSignal, then a clean shutdown.
//
//   npx tsup && node examples/worker-pool/main.mjs
import { fork, remote } from 'ipfi'

/** @typedef {import('./worker.mjs').WorkerApi} WorkerApi */
/** @typedef {import('./worker.mjs').JobResult} JobResult */

const POOL = 3
const JOBS = 6
const CANCEL = 4 // this job is cancelled once it is half done

// Start the workers; each sends its endpoint first.
/** @type {import('ipfi').ChildProcessHandle<never, import('ipfi').Endpoint<WorkerApi>>[]} */
const workers = []
for (let id = 1; id <= POOL; id++) workers.push(fork(new URL('./worker.mjs', import.meta.url), { data: { id } }))
const apis = await Promise.all(
  workers.map(async (w) => {
    const endpoint = await w.receiver.recv()
    const api = remote(endpoint) // a typed proxy: Remote<WorkerApi>
    endpoint.close() //              (the proxy holds its own copy)
    return api
  }),
)
console.log(`pool: ${POOL} workers up (pids ${workers.map((w) => w.pid).join(', ')})`)

// Fan out: each worker takes the next job as soon as it is free.
const queue = Array.from({ length: JOBS }, (_, i) => i + 1)
const cancel = new AbortController()
/** @type {JobResult[]} */
const done = []

/** @param {number} job @param {number} percent */
function onProgress(job, percent) {
  console.log(`job ${job}: ${percent}%`)
  if (job === CANCEL && percent >= 50) cancel.abort(new Error(`job ${job} is not needed any more`))
}

await Promise.all(
  apis.map(async (api) => {
    for (let job = queue.shift(); job !== undefined; job = queue.shift()) {
      const signal = job === CANCEL ? cancel.signal : undefined
      try {
        const r = await api.run.with({ signal })({ job, steps: 2 }, onProgress)
        console.log(`job ${r.job}: done by worker ${r.worker}, result ${r.result}`)
        done.push(r)
      } catch (e) {
        console.log(`job ${job}: rejected here with "${/** @type {Error} */ (e).message}"`)
      }
    }
  }),
)
console.log(`pool: ${done.length} of ${JOBS} jobs done, 1 cancelled`)

// Shut down: dropping the proxies closes their sessions; with nothing left to serve, each worker exits.
for (const api of apis) api[Symbol.dispose]()
const exits = await Promise.all(workers.map((w) => w.exited))
console.log(`pool: workers exited with codes ${exits.map((e) => e.code).join(', ')}`)
