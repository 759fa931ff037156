/**
 * Whether links keep the event loop alive. Links' wires are ref'ed while someone in this process
 * waits for a message (a pending recv or select), so a program whose work is done exits even
 * though its links are open, as it would with in-process channels.
 *
 * A wait begins and ends per message received, and a process may hold many links: the wires are
 * ref'ed when a wait begins and none was held, and let go only once nobody has waited for a
 * moment (one unref'ed timer, refreshed: it holds nothing itself, and unlike a `setImmediate` it
 * does not make the loop spin once more per message, which a peer on the same CPU pays for), so
 * steady traffic costs a counter per message, not a ref and an unref of every wire in the process.
 */
import type { Wire } from '../wire/wire.js'

const wires = new Set<Wire>()
let waiting = 0
/** Whether the wires are ref'ed now. */
let held = false
/** Lets the wires go once nobody waited for RELEASE_MS (created on first use, then refreshed). */
let releaseTimer: NodeJS.Timeout | null = null
const RELEASE_MS = 1

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
  if (--waiting === 0 && held) {
    if (releaseTimer) releaseTimer.refresh()
    else (releaseTimer = setTimeout(release, RELEASE_MS)).unref()
  }
}

function release(): void {
  if (waiting !== 0 || !held) return
  held = false
  for (const w of wires) w.unref?.()
}
