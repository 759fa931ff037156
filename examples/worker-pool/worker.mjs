// @ts-check
// One worker of the pool (examples/worker-pool/main.mjs forks several): it exposes `api` and sends
// the endpoint to the parent, then serves calls until the parent lets go of it.
import { parent, expose, currentCall } from 'ipfi'

/** @type {import('ipfi').ParentEnds<never, import('ipfi').Endpoint<WorkerApi>>} */
const { sender, data } = await parent()
const { id } = /** @type {{ id: number }} */ (data)

/** @typedef {{ job: number, steps: number }} Job */
/** @typedef {{ job: number, worker: number, result: number }} JobResult */
/** @typedef {typeof api} WorkerApi */

const api = {
  /**
   * Run a job in `steps` steps (each a slice of work), reporting progress after each.
   * @param {Job} job
   * @param {(job: number, percent: number) => unknown} onProgress
   * @returns {Promise<JobResult>}
   */
  async run({ job, steps }, onProgress) {
    const { signal } = /** @type {import('ipfi').CallContext} */ (currentCall())
    let result = 0
    try {
      for (let step = 1; step <= steps; step++) {
        result += work(job * 1000 + step)
        await new Promise((r) => setTimeout(r, 20)) // a pause between slices: calls and cancels get in
        signal.throwIfAborted()
        await onProgress(job, Math.round((step / steps) * 100))
      }
    } catch (e) {
      if (!signal.aborted) throw e
      console.log(`  worker ${id}: job ${job} cancelled (currentCall().signal aborted: ${signal.reason.name})`)
      throw signal.reason
    }
    return { job, worker: id, result }
  },
}

/** A slice of CPU work. @param {number} seed */
function work(seed) {
  let x = seed
  for (let i = 0; i < 200_000; i++) x = (x * 1103515245 + 12345) % 2147483648
  return x % 1000
}

sender.send(expose(api))
