/**
 * State the codec shares with every other copy of ipfi loaded in this process.
 *
 * msgpackr keeps one extension table per module instance, and two copies of ipfi (two installs, or
 * one module imported under two URLs) can share one msgpackr: the copy that loads last owns the
 * decoders of the ipfi tags for both. So whatever those decoders read — the handle reader of the
 * decode in progress, how it reads maps, the registered error classes — lives here, under a `Symbol.for` key, and not
 * in module variables of whichever copy happens to own the decoders.
 */

import type { HandleTagNumber } from './msgpack.js'

export type ErrorCtor = new (message?: string) => Error

/** What decode() calls for each handle reference it meets, with the table index and the tag. */
export type HandleReader = (index: number, tag: HandleTagNumber) => unknown

interface CodecState {
  readHandle: HandleReader | null
  /** True while a payload is decoded with its maps as `Map`s (one with a `__proto__` key: proto-key.ts). */
  mapsAsMaps: boolean
  readonly errorClasses: Map<string, ErrorCtor>
}

const KEY = Symbol.for('ipfi.codec.state.v1')
const g = globalThis as { [KEY]?: CodecState }

export const shared: CodecState = (g[KEY] ??= { readHandle: null, mapsAsMaps: false, errorClasses: new Map() })
