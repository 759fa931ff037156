/**
 * The bridge between user-level handles (Sender, Receiver, and later procedure endpoints) and
 * ports. A handle carries the `HANDLE` brand whose value is a `HandleAccess`; the layer above
 * registers a factory that turns a `Cap` back into a user-level handle.
 */
import { HANDLE, type Branded } from '../codec/walk.js'
import { HandleError } from '../errors.js'
import type { Cap, Closable, Port } from './port.js'

export interface HandleAccess {
  readonly kind: 'sender' | 'receiver'
  /** The handle's port; throws `HandleError` if it was moved or closed, or cannot move now. */
  check(): Port
  /** Give the port (and the reference it holds) away: the handle becomes moved. */
  detach(): Cap
}

export interface HandleFactory {
  wrap(cap: Cap): Closable & Branded
}

let factory: HandleFactory | null = null

export function setHandleFactory(f: HandleFactory): void {
  factory = f
}

export function wrapCap(cap: Cap): Closable & Branded {
  if (!factory) throw new Error('ipfi internal error: no handle factory registered')
  return factory.wrap(cap)
}

export function access(h: Branded): HandleAccess {
  const a = h[HANDLE]
  if (typeof a !== 'object' || a === null || typeof (a as HandleAccess).detach !== 'function') {
    throw new HandleError('this object carries the ipfi handle brand but is not a handle of this copy of ipfi')
  }
  return a as HandleAccess
}

/**
 * Check that every handle found in a message can move, before anything moves. `target` is the
 * port the message is sent to (a receiver may not be sent into its own channel).
 */
export function checkHandles(handles: Branded[], target: Port): void {
  let receivers: Set<Branded> | undefined
  for (const h of handles) {
    const a = access(h)
    const port = a.check()
    if (a.kind === 'receiver') {
      if (port === target || port === target.resolve()) throw new HandleError('a receiver cannot be sent into its own channel')
      receivers ??= new Set()
      if (receivers.has(h)) throw new HandleError('the same receiver appears twice in one message')
      receivers.add(h)
    }
  }
}

/** Move the handles: each occurrence becomes a Cap owning its reference. */
export function commitHandles(handles: Branded[]): Cap[] {
  const caps: Cap[] = []
  let seen: Map<Branded, Cap> | undefined
  for (const h of handles) {
    const prev = seen?.get(h)
    if (prev) {
      // The same sender twice: each occurrence is an independent sender.
      prev.port.addSender()
      caps.push({ kind: 'sender', port: prev.port })
      continue
    }
    const cap = access(h).detach()
    ;(seen ??= new Map()).set(h, cap)
    caps.push(cap)
  }
  return caps
}
