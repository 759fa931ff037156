/**
 * Whether links keep the event loop alive. While someone in this process waits for a message (a
 * pending recv or select) and a link is open, one handle holds the event loop, as a socket with a
 * pending read would; otherwise nothing does, so a program whose work is done exits even though
 * its links are open, as it would with in-process channels.
 *
 * The wires themselves never hold it (each is unref'ed once, when registered): a wait begins and
 * ends per message received and a process may hold many links, so the hold is one MessagePort,
 * ref'ed when the first wait begins and unref'ed when the last one ends: two flag flips per
 * message, whatever the number of links. (Ref'ing every wire cost 0.5 ms a message with 1,000
 * links open; letting them go at the end of the turn took a `setImmediate` a message, 5-9% of a
 * round trip between two threads or processes on one CPU; a release timer, 15%, since a pending
 * timer gives every sleep a deadline. A MessagePort adds no deadline.)
 */
import { MessageChannel } from 'node:worker_threads'
import type { Wire } from '../wire/wire.js'

const wires = new Set<Wire>()
let waiting = 0
/**
 * The handle that holds the event loop (one end of a channel that carries nothing; both ends are
 * kept, so that neither is collected and closes the other), made on first use; `held`: it is
 * ref'ed now.
 */
let keeper: MessageChannel | null = null
let held = false

function hold(on: boolean): void {
  if (on === held) return
  held = on
  if (!keeper) {
    keeper = new MessageChannel()
    keeper.port2.unref()
  }
  if (on) keeper.port1.ref()
  else keeper.port1.unref()
}

export function registerWire(w: Wire): void {
  wires.add(w)
  w.unref?.()
  if (waiting > 0) hold(true)
}

export function unregisterWire(w: Wire): void {
  wires.delete(w)
  if (wires.size === 0) hold(false)
}

export function waitBegin(): void {
  if (waiting++ === 0 && wires.size > 0) hold(true)
}

export function waitEnd(): void {
  if (--waiting === 0) hold(false)
}
