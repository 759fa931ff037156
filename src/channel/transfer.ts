/**
 * Sending in-process: the value itself is delivered (no copy). Handles inside it still move, as they
 * would across a wire: each occurrence is replaced by a fresh handle and the original becomes unusable.
 * Containers are copied only on the path to a handle.
 */
import { tagOf } from '../codec/msgpack.js'
import { HANDLE, isPlainData, walk, type Branded } from '../codec/walk.js'
import { checkHandles, commitHandles, wrapCap } from '../link/handles.js'
import { Entry, type Port } from '../link/port.js'

class Slot {
  readonly [HANDLE] = true
  constructor(readonly index: number) {}
}

/** The Entry of `value` sent to `target` if it holds handles; null when the value itself is queued. */
export function localEntry(value: unknown, target: Port): Entry | null {
  if (isPlainData(value)) return null
  const found: Branded[] = []
  const slotted = walk(value, {
    handle(h) {
      found.push(h)
      return new Slot(found.length - 1)
    },
  })
  if (found.length === 0) return null
  checkHandles(found, target)
  const handles = commitHandles(found).map((cap, i) => wrapCap(cap, tagOf(found[i]!)))
  const delivered = walk(slotted, { handle: (s) => handles[(s as unknown as Slot).index] })
  return new Entry(delivered, handles, 0, null)
}
