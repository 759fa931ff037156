/**
 * A Port is this process's view of one channel. It is either the channel's *home* (the receiver
 * lives here: a queue and the waiters on it) or a *route* to where the receiver lives, through one
 * link (an import of the peer's export, or a forward to a receiver that moved out over that link).
 *
 * `senders` counts every reference that can still put a message into the channel through this port:
 * live local Sender objects, and each remote reference (an export entry or an inbound forward on
 * some link). At home, zero means disconnected; on a route, zero means release the route upstream.
 */
import { describeCause, disconnected } from '../errors.js'
import { Fifo } from './fifo.js'

/** A queued message: the decoded value and the handles inside it (closed if it is dropped). */
export class Entry {
  constructor(
    readonly value: unknown,
    readonly handles: Closable[] | null,
    /** Encoded size; 0 for a message that never crossed a wire. */
    readonly bytes: number,
    /** The link it came over, which counts the bytes its peer has waiting unread here. */
    readonly from: QueueAccount | null,
  ) {}
}

/**
 * What a home queue holds per message: an Entry, or, for a message sent in this process with no
 * handles in it, the value itself (no object per message: the common in-process case). A value is
 * told from an Entry by `instanceof`, and no user value is an Entry (the class is not exported).
 */
type Item = unknown

/**
 * What `Port.takeValue` returns when nothing is queued (a value may be `undefined`). Keyed by
 * `Symbol.for`, and items are told apart only by the Port's own code, because a receiver of one
 * copy of ipfi may read a port of another copy loaded in the same process.
 */
export const EMPTY: unique symbol = Symbol.for('ipfi.empty')

/** The Entry of a queued item (made for a bare value, only when its size or handles are asked for). */
export function entryOf(item: Item): Entry {
  return item instanceof Entry ? item : new Entry(item, null, 0, null)
}

/** The value of a queued item. */
function valueOf(item: Item): unknown {
  return item instanceof Entry ? item.value : item
}

/** Counts what a link's peer has queued, unread, in this process (see LinkLimits.maxQueuedBytes). */
export interface QueueAccount {
  queued(bytes: number): void
  unqueued(bytes: number): void
}

export interface Closable {
  close(): void
}

/** How a route port reaches the receiver, and how a remote party reaches this port. */
export interface Route {
  link: LinkSide
  /** 0: the peer's export table; 1: the peer's inbound table (a receiver we moved there). */
  kind: 0 | 1
  id: number
}
export type RemoteRef = Route

/** What a port needs from the link it is routed through or referenced from. */
export interface LinkSide {
  embargoDone(port: Port): void
  sendValue(route: Route, value: unknown, target: Port, transferList?: readonly ArrayBuffer[]): void
  sendDisembargo(route: Route, token: number): void
  releaseRoute(route: Route, lostReason?: string): void
  sendDropped(ref: RemoteRef, lostReason: string | null): void
  forward(route: Route, payload: Uint8Array, caps: Cap[]): void
  forwardEntry(route: Route, entry: Entry): void
  /** Bytes sent on the link that have not reached its transport yet. */
  readonly unsentBytes: number
  /** Resolves once everything sent on the link so far has reached its transport. */
  drained(): Promise<void>
  /** Hand what is queued to the wire now, not at the end of the tick. */
  flushNow(): void
}

/** A handle carried by a message, with the reference it owns: a sender ref, or a whole receiver. */
export interface Cap {
  kind: 'sender' | 'receiver'
  port: Port
}

/** Decodes a message that reached its home from `bytes[start, end)`, its caps made into handles. */
export type DecodeEntry = (bytes: Buffer, start: number, end: number, caps: Cap[]) => Entry

export interface Waiter {
  /** The message's value, and its Entry (null for a bare value: see Item; make one if a size is needed). */
  resolve(value: unknown, entry: Entry | null): void
  reject(error: Error): void
}

let nextToken = 1

export class Port {
  route: Route | null
  /**
   * Set when this route was shortened: the receiver came to this process (or back to it) over the
   * link this port routed through, so sends go straight to `alias`. Until the embargo is lifted,
   * they wait in `embargo`, so they cannot overtake sends still in flight along the old loop.
   */
  alias: Port | null = null
  embargo: (() => void)[] | null = null
  /** Ports aliased to this one, and the embargo tokens they wait for here. */
  private aliases: Set<Port> | null = null
  private tokens: Map<number, Port> | null = null
  private embargoLink: LinkSide | null = null
  private embargoToken = 0
  senders = 0
  /** The receiver is known to be gone (closed here, or DROPPED reported from its home). */
  receiverGone = false
  /** Why the receiver is gone, if it was lost with a link (for the error senders see). */
  goneReason: string | null = null
  private goneCause: unknown = undefined
  /** Set when a sender reference was lost with a link: the home reports ConnectionLostError. */
  lostCause: unknown = undefined
  /** Set when a sender reference ended with a link closed in order: the cause of the DisconnectedError. */
  private endCause: unknown = undefined
  /** Remote parties that hold a reference to this port (export entries, inbound forwards). */
  readonly remotes = new Set<RemoteRef>()

  // Home state.
  private readonly queue = new Fifo<Item>()
  /**
   * The waiters, oldest first: the oldest in `waiter`, any others in `moreWaiters`. Almost always
   * there is one at most (one loop per receiver), so a message hands itself to a field rather than
   * shifting an array: with many channels each port's array is old and cold, and a shift per
   * message showed in the profile (see ARCHITECTURE.md, "Many channels").
   */
  private waiter: Waiter | null = null
  private moreWaiters: Waiter[] | null = null
  /** Notified when something changes for a ReceiverSet watching this port. */
  watcher: (() => void) | null = null

  constructor(route: Route | null = null) {
    this.route = route
  }

  get isHome(): boolean {
    return this.route === null && this.alias === null
  }

  /** The port a send should act on: follows shortened routes, stopping at one still embargoed. */
  resolve(): Port {
    let p: Port = this
    while (p.alias && !p.embargo) p = p.alias
    return p
  }
  get queued(): number {
    return this.queue.size
  }
  get hasWaiters(): boolean {
    return this.waiter !== null
  }
  /** Home only: no sender can ever add a message again. */
  get disconnected(): boolean {
    return this.senders === 0
  }

  addSender(): void {
    this.senders++
  }

  /** Drop one sender reference. `lostCause` says it went down with a link; `endCause`, that its link closed in order. */
  releaseSender(lostCause?: unknown, endCause?: unknown): void {
    if (lostCause !== undefined) this.lostCause = lostCause
    if (endCause !== undefined) this.endCause = endCause
    if (--this.senders > 0) return
    if (this.senders < 0) throw new Error('ipfi internal error: sender count below zero')
    this.onIdle()
  }

  /** Called when the sender count is zero (also right after a receiver moved with none left). */
  onIdle(): void {
    if (this.senders !== 0) return
    if (this.alias) {
      if (this.embargo) return // released when the embargo lifts
      const target = this.alias
      this.alias = null
      target.aliases?.delete(this)
      target.releaseSender()
    } else if (this.route) {
      const r = this.route
      r.link.releaseRoute(r, this.lostCause === undefined ? undefined : describeCause(this.lostCause))
    } else if (this.queued === 0) {
      this.failWaiters()
    } else {
      this.watcher?.()
    }
  }

  addRemote(ref: RemoteRef): void {
    this.remotes.add(ref)
    this.senders++
  }
  removeRemote(ref: RemoteRef, lostCause?: unknown, endCause?: unknown): void {
    if (this.remotes.delete(ref)) this.releaseSender(lostCause, endCause)
  }

  /** The error a sender through this port gets once the receiver is gone. */
  goneError(): Error {
    if (this.goneReason === null) {
      return this.goneCause === undefined
        ? disconnected('the receiver of this channel is closed')
        : disconnected('the link to the receiver of this channel was closed', undefined, this.goneCause)
    }
    return disconnected('the link to the receiver of this channel was lost', this.goneCause ?? this.goneReason)
  }

  // ---- home side ----

  private push(item: Item): void {
    if (this.receiverGone) return dropItem(item)
    const w = this.waiter
    if (w) {
      this.waiter = this.moreWaiters?.shift() ?? null
      return item instanceof Entry ? w.resolve(item.value, item) : w.resolve(item, null)
    }
    this.queue.push(item)
    if (item instanceof Entry) item.from?.queued(item.bytes)
    this.watcher?.()
  }

  /** The next queued message's value, or EMPTY. */
  takeValue(): unknown {
    return valueOf(this.takeItem())
  }

  /** The next queued item (an Entry or a bare value), or EMPTY. */
  private takeItem(): Item | typeof EMPTY {
    const item = this.queue.shift(EMPTY)
    if (item instanceof Entry) item.from?.unqueued(item.bytes)
    return item
  }

  /** The next queued message as an Entry, or undefined. */
  take(): Entry | undefined {
    const item = this.takeItem()
    return item === EMPTY ? undefined : entryOf(item)
  }

  /** Take every queued message (when the receiver moves away). */
  drain(): Entry[] {
    const rest = this.queue.takeAll().map(entryOf)
    for (const e of rest) e.from?.unqueued(e.bytes)
    return rest
  }

  addWaiter(w: Waiter): void {
    if (this.waiter === null) this.waiter = w
    else (this.moreWaiters ??= []).push(w)
  }
  removeWaiter(w: Waiter): void {
    if (this.waiter === w) {
      this.waiter = this.moreWaiters?.shift() ?? null
      return
    }
    const more = this.moreWaiters
    const i = more ? more.indexOf(w) : -1
    if (i >= 0) more!.splice(i, 1)
  }

  /** Every waiter, oldest first, and none left here. */
  private takeWaiters(): Waiter[] {
    const first = this.waiter
    if (first === null) return []
    const ws = this.moreWaiters ?? []
    ws.unshift(first)
    this.waiter = null
    this.moreWaiters = null
    return ws
  }

  disconnectedError(): Error {
    if (this.lostCause !== undefined) return disconnected('the last senders of this channel were lost with their link', this.lostCause)
    if (this.endCause !== undefined) return disconnected('the last senders of this channel ended with their link', undefined, this.endCause)
    return disconnected('every sender of this channel is closed')
  }

  private failWaiters(): void {
    const ws = this.takeWaiters()
    for (const w of ws) w.reject(this.disconnectedError())
    this.watcher?.()
  }

  /** The receiver is closed for good: drop what is queued and tell every remote holder. */
  closeReceiver(): void {
    if (this.receiverGone) return
    this.receiverGone = true
    for (const e of this.drain()) dropEntry(e)
    const ws = this.takeWaiters()
    for (const w of ws) w.reject(disconnected('the receiver was closed'))
    this.watcher = null
    for (const ref of this.remotes) ref.link.sendDropped(ref, null)
    if (this.aliases) for (const a of this.aliases) a.routeGone(null)
  }

  // ---- route side ----

  /** The receiver moved out over `route`'s link: from now on this port forwards what arrives. */
  moveTo(route: Route): void {
    this.route = route
    this.watcher = null
  }

  /** Once the frame that moved the receiver is queued: what was queued here follows it, in order. */
  forwardQueued(): void {
    const route = this.route!
    for (const e of this.drain()) route.link.forwardEntry(route, e)
    this.onIdle()
  }

  /** The receiver's home reported it gone, or the route's link died. Tell whoever routes through us. */
  routeGone(lostReason: string | null, cause?: unknown): void {
    if (this.receiverGone) return
    this.receiverGone = true
    this.goneReason = lostReason
    this.goneCause = cause
    if (this.embargo) this.liftEmbargo() // what waited is dropped now
    for (const ref of this.remotes) ref.link.sendDropped(ref, lostReason)
    if (this.aliases) for (const a of this.aliases) a.routeGone(lostReason, cause)
  }

  /**
   * A message arriving from a remote party, encoded in `bytes[start, end)`: deliver it here or pass
   * it on along the route. The bytes are valid during this call only (see Wire.start).
   */
  accept(bytes: Buffer, start: number, end: number, caps: Cap[], decodeEntry: DecodeEntry): void {
    if (this.receiverGone) return dropCaps(caps)
    if (this.embargo) {
      // Kept for later: a copy (the chunk may be written again once the wire's onData returned).
      const copy = Buffer.from(bytes.subarray(start, end))
      this.embargo.push(() => this.alias!.accept(copy, 0, copy.length, caps, decodeEntry))
      return
    }
    if (this.alias) return this.alias.accept(bytes, start, end, caps, decodeEntry)
    if (this.route) return this.route.link.forward(this.route, bytes.subarray(start, end), caps)
    this.push(own(decodeEntry(bytes, start, end, caps)))
  }

  /**
   * A message sent in this process, already prepared: its Entry if it carries handles (moved into
   * fresh ones), or null to queue the value itself.
   */
  deliver(value: unknown, entry: Entry | null): void {
    this.deliverItem(entry === null ? value : own(entry))
  }

  private deliverItem(item: Item): void {
    if (this.receiverGone) return dropItem(item)
    if (this.embargo) {
      this.embargo.push(() => this.alias!.deliverItem(item))
      return
    }
    if (this.alias) return this.alias.deliverItem(item)
    if (this.route) return this.route.link.forwardEntry(this.route, entryOf(item))
    this.push(item)
  }

  /**
   * Shorten this route to `target`, which just arrived over the link this port routes through.
   * A disembargo token goes out along the old route; it comes back to `target` after everything
   * sent before it, and only then do the sends made meanwhile go through.
   */
  shortenTo(target: Port, link: LinkSide): void {
    const route = this.route!
    const token = nextToken++
    this.route = null
    this.alias = target
    this.embargo = []
    this.embargoLink = link
    this.embargoToken = token
    ;(target.aliases ??= new Set()).add(this)
    ;(target.tokens ??= new Map()).set(token, this)
    target.addSender() // the alias holds the target while this port has senders
    route.link.sendDisembargo(route, token)
    route.link.releaseRoute(route)
    if (this.receiverGone && !target.receiverGone) {
      // The old route had been reported gone, but the receiver is right here: it is alive.
      this.receiverGone = false
      this.goneReason = null
    }
  }

  /** A disembargo token travelling along routes: consumed where it was registered, passed on otherwise. */
  acceptDisembargo(token: number): void {
    const waiting = this.tokens?.get(token)
    if (waiting) {
      this.tokens!.delete(token)
      return waiting.liftEmbargo()
    }
    if (this.route) this.route.link.sendDisembargo(this.route, token)
  }

  /** Let what waited for the embargo go through, in order. */
  liftEmbargo(): void {
    const queued = this.embargo
    if (!queued) return
    this.embargo = null
    this.alias?.tokens?.delete(this.embargoToken)
    this.embargoLink?.embargoDone(this)
    this.embargoLink = null
    for (const f of queued) f()
    if (this.senders === 0) this.onIdle()
  }
}

export function dropEntry(entry: Entry): void {
  if (entry.handles) for (const h of entry.handles) h.close()
}

/** An Entry of this copy of ipfi (one made by another copy loaded in the process is copied: see EMPTY). */
function own(entry: Entry): Entry {
  if (entry instanceof Entry) return entry
  const e: Entry = entry
  return new Entry(e.value, e.handles, e.bytes, e.from ?? null)
}

function dropItem(item: Item): void {
  if (item instanceof Entry) dropEntry(item)
}

export function dropCaps(caps: Cap[]): void {
  for (const c of caps) dropCap(c)
}

export function dropCap(c: Cap): void {
  if (c.kind === 'sender') c.port.releaseSender()
  else c.port.closeReceiver()
}
