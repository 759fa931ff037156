/**
 * Code that runs first in a child we spawned. Exported (as `__ipfiBootChild` / `__ipfiBootWorker`)
 * only so that the one-line boot script of a child can reach it; not part of the API.
 */
import { workerData } from 'node:worker_threads'
import { noteCrash } from '../link/at-exit.js'
import { syncBuiltinESMExports, createRequire } from 'node:module'
import { WORKER_PORT, parent } from './parent.js'
import { FN_ENV, unshipSource } from './ship.js'
import { WORKER_BOOT, type WorkerBoot } from './worker.js'

async function runShipped(source: string): Promise<void> {
  const fn = unshipSource(source)
  const { receiver, sender, data } = await parent()
  const ipfi = await import(new URL('./index.js', import.meta.url).href)
  await fn({ receiver, sender, data, ipfi })
}

/** In a forked process started with a function. */
export function bootChild(): void {
  const source = process.env[FN_ENV]
  delete process.env[FN_ENV]
  if (source === undefined) throw new Error('ipfi: no function was shipped to this process')
  runShipped(source).catch(crash)
}

/** In a worker thread started by spawnWorker(). */
export function bootWorker(): void {
  const boot = (workerData as Record<string, WorkerBoot> | null)?.[WORKER_BOOT]
  if (!boot) throw new Error('ipfi: this worker was not started by spawnWorker()')
  ;(globalThis as Record<symbol, unknown>)[WORKER_PORT] = boot.port
  // Give the application its own workerData back.
  const wt = createRequire(import.meta.url)('node:worker_threads') as { workerData: unknown }
  wt.workerData = boot.workerData
  syncBuiltinESMExports()
  const run = boot.fn !== null ? runShipped(boot.fn) : import(boot.module!).then(() => {})
  run.catch(crash)
}

function crash(err: unknown): void {
  // As an uncaught error would: report it and end with code 1 (the parent is told why).
  noteCrash(err, 'uncaught exception')
  process.stderr.write(`${(err as Error)?.stack ?? String(err)}\n`)
  process.exit(1)
}
