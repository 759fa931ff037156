/**
 * The bridge between user-level handles (Sender, Receiver, and later procedure endpoints) and
 * ports. A handle carries the `HANDLE` brand whose value is a `HandleAccess`; the layer above
 * registers a factory that turns a `Cap` back into a user-level handle. Handles leave a process
 * checked, then committed (`checkHandles`, `commitHandles`); they arrive in `decodeEntry`.
 */
import { HANDLE, type Branded } from '../codec/walk.js'
import { TAG_HANDLE, decode, type HandleTagNumber } from '../codec/msgpack.js'
import { HandleError, ProtocolError } from '../errors.js'
import { Entry, dropCap, type Cap, type Closable, type Port, type QueueAccount } from './port.js'

export interface HandleAccess {
  readonly kind: 'sender' | 'receiver'
  /** The payload tag (0x01 for senders and receivers; layers above use others for their handles). */
  readonly tag?: HandleTagNumber
  /** The handle's port; throws `HandleError` if it was moved or closed, or cannot move now. */
  check(): Port
  /** Give the port (and the reference it holds) away: the handle becomes moved. */
  detach(): Cap
}

/** Turns a cap back into the user-level handle its payload tag names. Registered by the layers above. */
export type HandleFactory = (cap: Cap) => Closable & Branded

const factories = new Map<number, HandleFactory>()

export function registerHandleFactory(tag: HandleTagNumber, f: HandleFactory): void {
  factories.set(tag, f)
}

export function wrapCap(cap: Cap, tag: HandleTagNumber = TAG_HANDLE): Closable & Branded {
  const f = factories.get(tag)
  if (!f) throw new ProtocolError(`a handle with tag ${tag}, which this process does not know`)
  return f(cap)
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

/** Decode a message that reached its receiver's home, turning its caps into user-level handles. */
export function decodeEntry(bytes: Buffer, start: number, end: number, caps: Cap[], from: QueueAccount | null = null): Entry {
  if (caps.length === 0) return new Entry(decode(bytes, noHandles, start, end), null, end - start, from)
  const handles: Closable[] = []
  const used: boolean[] = new Array(caps.length).fill(false)
  let value: unknown
  try {
    value = decode(
      bytes,
      (i, tag) => {
        if (i >= caps.length || used[i]) throw new ProtocolError(`handle reference ${i} is out of range or used twice`)
        // A cap its tag refuses (an endpoint naming a receiver) stays unused: it is dropped below.
        const h = wrapCap(caps[i]!, tag)
        used[i] = true
        handles.push(h)
        return h
      },
      start,
      end,
    )
  } catch (e) {
    for (const h of handles) h.close()
    caps.forEach((c, i) => !used[i] && dropCap(c))
    throw e
  }
  caps.forEach((c, i) => !used[i] && dropCap(c))
  return new Entry(value, handles.length ? handles : null, end - start, from)
}

/** The handle reader of a message without caps: any reference in it is out of range. */
function noHandles(i: number): never {
  throw new ProtocolError(`handle reference ${i} is out of range or used twice`)
}
