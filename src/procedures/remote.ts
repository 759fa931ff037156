/** `remote<T>(endpoint)`: a typed proxy whose methods call the procedures behind the endpoint. */
import { HandleError } from '../errors.js'
import { Endpoint } from './endpoint.js'
import { checkCallOptions } from './caller/options.js'
import { CallerSession } from './caller/session.js'
import type { CallOptions, Remote } from './types.js'

/**
 * Names the proxy never turns into calls: `then` (so the proxy is not a thenable), and what string
 * conversion and JSON.stringify look for (so printing a proxy does not call anything remotely).
 */
const NOT_PROCEDURES = new Set(['then', 'toString', 'valueOf', 'toJSON'])

/**
 * A proxy for the procedures behind `endpoint`: `proxy.name(...args)` calls them there. It holds
 * its own copy of the endpoint (the one passed in stays yours). Close it with `proxy[Symbol.dispose]()`
 * (or `using`); a forgotten proxy is closed when it is garbage collected.
 *
 * `then`, `toString`, `valueOf` and `toJSON` are never procedures: the proxy is not a thenable, and
 * printing it calls nothing.
 *
 * ```js
 * const worker = spawnWorker(async ({ sender, ipfi }) => {
 *   sender.send(ipfi.expose({ async *countTo(n) { for (let i = 1; i <= n; i++) yield i } }))
 * })
 * const counter = remote(await worker.receiver.recv())
 * for await (const i of counter.countTo(3)) console.log(i) // 1, 2, 3: a stream, paced by credits
 * counter[Symbol.dispose]()
 * await worker[Symbol.asyncDispose]()
 * ```
 */
export function remote<T>(endpoint: Endpoint<T> | Endpoint<unknown>, defaults: CallOptions = {}): Remote<T> {
  if (!(endpoint instanceof Endpoint)) throw new HandleError('remote() takes an Endpoint (from expose(), or received in a message)')
  defaults = checkCallOptions(defaults)
  const session = new CallerSession(endpoint.clone() as Endpoint<unknown>, defaults)
  const methods = new Map<string, unknown>()
  const close = () => session.close()
  const method = (name: string) => {
    const call = (...args: unknown[]) => session.call(name, args, undefined)
    call.with = (options: CallOptions) => {
      const checked = checkCallOptions(options)
      return (...args: unknown[]) => session.call(name, args, checked)
    }
    return call
  }
  return new Proxy(Object.create(null) as object, {
    get(_, key) {
      if (typeof key === 'symbol') {
        if (key === Symbol.dispose) return close
        if (key === Symbol.asyncDispose) return async () => close()
        if (key === Symbol.toStringTag) return 'Remote'
        return undefined
      }
      if (NOT_PROCEDURES.has(key)) return undefined
      let m = methods.get(key)
      if (!m) methods.set(key, (m = method(key)))
      return m
    },
    has: (_, key) => typeof key === 'string' && !NOT_PROCEDURES.has(key),
    set: () => false,
    defineProperty: () => false,
    deleteProperty: () => false,
  }) as Remote<T>
}
