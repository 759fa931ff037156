/**
 * Sending in-process: the value itself is delivered (no copy). Handles inside it still move, as they
 * would across a wire: each occurrence is replaced by a fresh handle and the original becomes unusable.
 * Containers are copied only on the path to a handle. Buffers of a transfer list move as they would
 * across a wire too: the sender's are detached and the value delivered sees the same bytes in the
 * buffers that took them over (no copy).
 */
import { tagOf } from '../codec/msgpack.js'
import { Place, bufferOf, moveBuffers } from '../codec/transfer-list.js'
import { HANDLE, isPlainData, walk, type Branded, type WalkOptions } from '../codec/walk.js'
import { checkHandles, commitHandles, wrapCap } from '../link/handles.js'
import { Entry, type Port } from '../link/port.js'

class Slot {
  readonly [HANDLE] = true
  constructor(readonly index: number) {}
}

/** `value` with each handle replaced by a Slot (the handles collected into `found`); `bytes`, if given, picks what stands for each binary. */
function slot(value: unknown, found: Branded[], bytes?: WalkOptions['bytes']): unknown {
  return walk(value, {
    handle(h) {
      found.push(h)
      return new Slot(found.length - 1)
    },
    bytes,
  })
}

/** The Entry of `value` sent to `target` if it holds handles; null when the value itself is queued. */
export function localEntry(value: unknown, target: Port): Entry | null {
  if (isPlainData(value)) return null
  const found: Branded[] = []
  const slotted = slot(value, found)
  if (found.length === 0) return null
  checkHandles(found, target)
  const handles = commitHandles(found).map((cap, i) => wrapCap(cap, tagOf(found[i]!)))
  const delivered = walk(slotted, { handle: (s) => handles[(s as unknown as Slot).index] })
  return new Entry(delivered, handles, 0, null)
}

/**
 * `value` sent to `target` with the buffers of `list` moved (transfer-list.ts): what is delivered,
 * and its Entry if it holds handles (null: the value itself is queued).
 */
export function localTransfer(value: unknown, target: Port, list: readonly ArrayBuffer[]): { delivered: unknown; entry: Entry | null } {
  const found: Branded[] = []
  // Where each binary lies is read now: once its buffer moved, the view reads as empty.
  const slotted = slot(value, found, (b) => (list.includes(bufferOf(b)) ? new Rebind(new Place(b)) : b))
  checkHandles(found, target)
  const moved = moveBuffers(list)
  const handles = commitHandles(found).map((cap, i) => wrapCap(cap, tagOf(found[i]!)))
  const delivered = walk(slotted, {
    handle: (s) => (s instanceof Slot ? handles[s.index] : (s as unknown as Rebind).place.in(moved)),
  })
  return { delivered, entry: handles.length ? new Entry(delivered, handles, 0, null) : null }
}

/** Stands for a binary whose buffer moves (its Place), until it is seen again in the buffer that took it over. */
class Rebind {
  readonly [HANDLE] = true
  constructor(readonly place: Place) {}
}
