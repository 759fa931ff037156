/**
 * Whether links keep the event loop alive. Links' wires are ref'ed while someone in this process
 * waits for a message (a pending recv or select), so a program whose work is done exits even
 * though its links are open, as it would with in-process channels.
 *
 * A wait begins and ends per message received, and a process may hold many links: the wires are
 * ref'ed when a wait begins and none was held, and let go only at the end of an event-loop turn
 * in which nobody waited any more (one `setImmediate`), so steady traffic costs a counter per
 * message, not a ref and an unref of every wire in the process. Not a timer: a timer pending
 * while the thread sleeps made a round trip between two threads on one CPU about 15% slower
 * (43 µs against 37: the sleep then has a deadline), even when it was not touched per message.
 */
import type { Wire } from '../wire/wire.js'

const wires = new Set<Wire>()
let waiting = 0
/** Whether the wires are ref'ed now. */
let held = false
let releaseQueued = false

export function registerWire(w: Wire): void {
  wires.add(w)
  if (held) w.ref?.()
  else w.unref?.()
}

export function unregisterWire(w: Wire): void {
  wires.delete(w)
}

export function waitBegin(): void {
  if (waiting++ === 0 && !held) {
    held = true
    for (const w of wires) w.ref?.()
  }
}

export function waitEnd(): void {
  if (--waiting === 0 && held && !releaseQueued) {
    releaseQueued = true
    setImmediate(release)
  }
}

function release(): void {
  releaseQueued = false
  if (waiting !== 0 || !held) return
  held = false
  for (const w of wires) w.unref?.()
}
