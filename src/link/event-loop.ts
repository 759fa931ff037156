/**
 * Whether links keep the event loop alive. A link's wire is ref'ed only while someone in this
 * process waits for a message (a pending recv or select), so a program whose work is done exits
 * even though its links are open, as it would with in-process channels.
 */
import type { Wire } from '../wire/wire.js'

const wires = new Set<Wire>()
let waiting = 0

export function registerWire(w: Wire): void {
  wires.add(w)
  if (waiting > 0) w.ref?.()
  else w.unref?.()
}

export function unregisterWire(w: Wire): void {
  wires.delete(w)
}

export function waitBegin(): void {
  if (waiting++ === 0) for (const w of wires) w.ref?.()
}

export function waitEnd(): void {
  if (--waiting === 0) for (const w of wires) w.unref?.()
}
