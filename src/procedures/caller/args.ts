/**
 * What a call's arguments become before they are sent: each function (anywhere inside) is lent
 * for the call as a callback, and each top-level async iterable that is not a handle becomes a
 * streamed argument, pulled by the procedure.
 */
import { isPlainData, walk } from '../../codec/walk.js'
import type { CallerCall } from './call.js'
import { LentFunction } from '../callback.js'
import { isStream } from '../messages.js'

export interface PreparedArgs {
  args: unknown[]
  /** Positions of the streamed arguments (sent as null). */
  streams: number[]
  sources: AsyncIterable<unknown>[]
}

const keep = <T>(h: T): T => h

/** No streamed argument (shared: the send only reads it). */
export const NO_STREAMS: number[] = []

/** What the call sends; null when the arguments are plain data (the common case): nothing to lend or stream. */
export function prepareArgs(args: unknown[], call: CallerCall): PreparedArgs | null {
  if (isPlainData(args)) return null
  let out: unknown[] | null = null
  const streams: number[] = []
  const sources: AsyncIterable<unknown>[] = []
  const lend = (fn: (...args: never[]) => unknown) => {
    const lent = new LentFunction(fn)
    ;(call.lent ??= []).push(lent)
    return lent
  }
  for (let i = 0; i < args.length; i++) {
    const a = args[i]
    let b: unknown = a
    if (isStream(a)) {
      streams.push(i)
      sources.push(a)
      b = null
    } else if ((typeof a === 'object' && a !== null) || typeof a === 'function') {
      // Functions anywhere (this one too, if it is not a handle) are lent; handles stay for the send.
      b = walk(a, { handle: keep, fn: lend })
    }
    if (b !== a) (out ??= args.slice())[i] = b
  }
  return { args: out ?? args, streams: streams.length ? streams : NO_STREAMS, sources }
}
