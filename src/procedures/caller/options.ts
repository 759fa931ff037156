/** Checking call options (per call, or a proxy's defaults) before anything is sent. */
import { MAX_WINDOW } from '../messages.js'
import type { CallOptions } from '../types.js'

/** Longest timer Node keeps (a longer one would fire at once, with a TimeoutOverflowWarning). */
const MAX_TIMEOUT = 2 ** 31 - 1

function checkWindow(w: number): number {
  if (!Number.isSafeInteger(w) || w < 1 || w > MAX_WINDOW) throw new RangeError(`window must be an integer from 1 to ${MAX_WINDOW}, got ${w}`)
  return w
}

/**
 * Throw a RangeError for options that cannot work (so `.with()` and `remote()` fail where they are
 * written, not in the middle of a call); return them with the timeout made safe for a timer:
 * `Infinity` means none, and a very long one is capped.
 */
export function checkCallOptions(options: CallOptions): CallOptions {
  if (typeof options !== 'object' || options === null) throw new TypeError('call options must be an object')
  const { timeout, signal, window } = options
  if (window !== undefined) checkWindow(window)
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw new TypeError('signal must be an AbortSignal')
  if (timeout === undefined) return options
  if (typeof timeout !== 'number' || Number.isNaN(timeout) || timeout < 0) throw new RangeError(`timeout must be a number of milliseconds >= 0, got ${String(timeout)}`)
  if (timeout === Infinity) return { ...options, timeout: undefined }
  return timeout > MAX_TIMEOUT ? { ...options, timeout: MAX_TIMEOUT } : options
}
