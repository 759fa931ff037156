/**
 * Shipping a function to a child we spawn. The parent serializes the function's source with
 * serialize-javascript and hands it over *at spawn time* (an environment variable for a process,
 * workerData for a thread), never over the link. The child evaluates it: that is code the parent
 * trusted, like a module path. The function closes over nothing; data goes in `options.data`.
 */
import serialize from 'serialize-javascript'

export const FN_ENV = 'IPFI_FN'
export const FD_ENV = 'IPFI_FD'
/** Environment strings are limited by the OS (128 KiB on Linux); stay clearly under it. */
const MAX_ENV_SOURCE = 100 * 1024

export function shipSource(fn: (...args: never[]) => unknown, forEnv: boolean): string {
  if (typeof fn !== 'function') throw new TypeError('expected a function')
  const source = serialize(fn)
  if (forEnv && source.length > MAX_ENV_SOURCE) {
    throw new RangeError(`the function's source is ${source.length} bytes; a forked function may have at most ${MAX_ENV_SOURCE} (use a module path)`)
  }
  return source
}

/** Turn shipped source back into the function (child side; the source came from our own parent). */
export function unshipSource(source: string): (ctx: unknown) => unknown {
  // Indirect eval: the function sees only the global scope, as documented.
  const fn = (0, eval)(`(${source})`)
  if (typeof fn !== 'function') throw new TypeError('ipfi: the shipped source is not a function')
  return fn
}

/** The URL of this package's ESM entry, which the boot code of a child imports. */
export function selfEntryUrl(): string {
  return new URL('./index.js', import.meta.url).href
}
