/**
 * Bookkeeping for child processes and threads: wait for a clean exit with a deadline, kill on
 * timeout (and say so), and kill whatever is still alive if the runner itself dies.
 */
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'

/** The path of a child's entry point, bench/children/<file>. */
export const childPath = (file) => fileURLToPath(new URL(`../../children/${file}`, import.meta.url))

const live = new Set()

export function track(child) {
  live.add(child)
  child.once('exit', () => live.delete(child))
  return child
}

process.on('exit', () => {
  for (const c of live) {
    try {
      c.kill('SIGKILL')
    } catch {
      /* gone */
    }
  }
})

/**
 * Fail `sink` if the ChildProcess exits before close: returns `{ closing }`, set it to true on close
 * (callers may read it too, e.g. to ignore a socket error while closing).
 */
export function watchExit(child, sink, what) {
  const watch = { closing: false }
  child.on('exit', (code, signal) => watch.closing || sink.fail(new Error(`${what} exited early (${code ?? signal})`)))
  return watch
}

/** Resolve with `p`'s value, or `onTimeout()`'s after `ms`. */
export async function withDeadline(p, ms, onTimeout) {
  let timer
  const t = new Promise((r) => (timer = setTimeout(() => r(onTimeout()), ms)))
  try {
    return await Promise.race([p, t])
  } finally {
    clearTimeout(timer)
  }
}

/** Wait for a ChildProcess to exit; SIGKILL it after `ms`. Returns { code, signal, forced }. */
export async function waitExit(child, ms = 5000) {
  if (child.exitCode !== null || child.signalCode !== null) {
    return { code: child.exitCode, signal: child.signalCode, forced: false }
  }
  const exited = once(child, 'exit').then(([code, signal]) => ({ code, signal, forced: false }))
  return withDeadline(exited, ms, async () => {
    child.kill('SIGKILL')
    const [code, signal] = await once(child, 'exit').catch(() => [null, 'SIGKILL'])
    return { code, signal, forced: true }
  })
}

/** Wait for a Worker to exit; terminate() it after `ms`. Returns { code, signal: null, forced }. */
export async function waitWorkerExit(worker, exitedPromise, ms = 5000) {
  return withDeadline(exitedPromise.then((code) => ({ code, signal: null, forced: false })), ms, async () => {
    const code = await worker.terminate()
    return { code, signal: null, forced: true }
  })
}
