/**
 * The one way ipfi gives up a wait: `recv`, `select`, `Server.accept` and `OneShotServer.accept`
 * all take `{ timeout, signal }` and mean the same by them.
 */
import { TimeoutError } from '../errors.js'

/** How long a wait may last: `recv`, `select` and both servers' `accept` take these. */
export interface RecvOptions {
  /** Reject with `TimeoutError` after this many milliseconds. */
  timeout?: number
  /** Reject with `signal.reason` when aborted. */
  signal?: AbortSignal
}

/**
 * A promise that `start` settles, or that gives up first: after `timeout` ms with a `TimeoutError`
 * ("<what> timed out after N ms"), or with `signal.reason` when it aborts (at once if it already
 * has, without starting). `start` begins the wait and returns how to take it back; giving up calls
 * that, so nothing is lost: a message that comes later stays queued for the next wait.
 */
export function giveUpWith<T>(options: RecvOptions | undefined, what: string, start: (resolve: (v: T) => void, reject: (e: unknown) => void) => () => void): Promise<T> {
  const timeout = options?.timeout
  const signal = options?.signal
  if (signal?.aborted) return Promise.reject(signal.reason)
  return new Promise<T>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined
    let settled = false
    const stop = (): boolean => {
      if (settled) return false
      settled = true
      if (timer) clearTimeout(timer)
      signal?.removeEventListener('abort', onAbort)
      return true
    }
    const giveUp = (e: unknown) => {
      if (!stop()) return
      cancel()
      reject(e)
    }
    const onAbort = () => giveUp(signal!.reason)
    const cancel = start(
      (v) => stop() && resolve(v),
      (e) => stop() && reject(e),
    )
    if (settled) return // start settled at once
    if (timeout !== undefined) timer = setTimeout(() => giveUp(new TimeoutError(`${what} timed out after ${timeout} ms`)), timeout)
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}
