/**
 * A link's four tables, after Cap'n Proto's RPC protocol (docs/PROTOCOL.md, "Tables"), and the two
 * translations between them and the wire: a handle leaving in a message becomes a capability
 * descriptor (`describe`), a descriptor arriving becomes a cap that owns its reference
 * (`materialize`). RELEASE, FINISH, DROPPED and DISEMBARGO are applied here too.
 *
 *   exports   id -> port  channels we let the peer send into, with how often we sent each (refcount)
 *   imports   id -> port  the peer's exports we hold, with how often we received each
 *   inbound   id -> port  receivers the peer moved to us; it forwards what arrives for them
 *   outbound  id -> port  receivers we moved to the peer; we forward to them
 *
 * Export and import 0 are the link's bootstrap channels, made with the tables.
 */
import { LimitExceededError, ProtocolError } from '../errors.js'
import * as F from './frames.js'
import type { LinkLimits } from './limits.js'
import { IdTable } from './id-table.js'
import { Port, dropCaps, type Cap, type LinkSide, type RemoteRef, type Route } from './port.js'

interface ExportEntry {
  port: Port
  count: number
  ref: RemoteRef
}
interface ImportEntry {
  port: Port
  count: number
}
interface InboundEntry {
  port: Port
  ref: RemoteRef
}

/** What the tables tell the link to do. */
export interface TablesOwner extends LinkSide {
  readonly name: string
  readonly limits: LinkLimits
}

export class Tables {
  private readonly exports = new IdTable<ExportEntry>()
  private readonly exportOf = new Map<Port, ExportEntry>()
  private nextExport = 1
  private readonly imports = new Map<number, ImportEntry>()
  private readonly inbound = new IdTable<InboundEntry>()
  private readonly outbound = new Map<number, Port>()
  private nextOutbound = 1
  /** Ports shortened through this link whose disembargo has not come back yet. */
  private readonly embargoed = new Set<Port>()
  /** Whether a channel other than the bootstrap ones ever crossed (for closeWhenIdle). */
  private carried = false
  /** The bootstrap inbox (our export 0) and the route to the peer's (its export 0). */
  readonly inbox: Port
  readonly outbox: Port

  constructor(private readonly link: TablesOwner) {
    this.inbox = new Port()
    const inboxRef: RemoteRef = { link, kind: F.TARGET_EXPORT, id: 0 }
    const inboxEntry = { port: this.inbox, count: 1, ref: inboxRef }
    this.exports.set(0, inboxEntry)
    this.exportOf.set(this.inbox, inboxEntry)
    this.inbox.addRemote(inboxRef)
    this.outbox = new Port({ link, kind: F.TARGET_EXPORT, id: 0 })
    this.imports.set(0, { port: this.outbox, count: 1 })
  }

  // -------------------------------------------------------------- outgoing

  /** Describe one capability for the peer; `after` collects what must happen once the frame is queued. */
  describe(c: Cap, after: (() => void)[]): unknown[] {
    let port = c.port
    if (c.kind === 'sender' && port.alias && !port.embargo) {
      // A shortened route: describe where it leads now.
      const alias = port
      port = alias.resolve()
      port.addSender()
      after.push(() => alias.releaseSender())
      c = { kind: 'sender', port }
    }
    if (c.kind === 'receiver') return this.describeReceiver(port, after)
    const r = port.route
    if (r && r.link === this.link) {
      after.push(() => port.releaseSender())
      return [r.kind === F.TARGET_EXPORT ? F.CAP_SENDER_YOUR_EXPORT : F.CAP_SENDER_YOUR_INBOUND, r.id]
    }
    let e = this.exportOf.get(port)
    if (e) {
      e.count++
    } else {
      const id = this.nextExport++
      if (id > 0xffffffff) throw new LimitExceededError(`${this.link.name}: out of export ids on this link`)
      e = { port, count: 1, ref: { link: this.link, kind: F.TARGET_EXPORT, id } }
      this.exports.set(id, e)
      this.carried = true
      this.exportOf.set(port, e)
      port.addRemote(e.ref)
      if (port.receiverGone) {
        const ref = e.ref
        after.push(() => this.link.sendDropped(ref, port.goneReason))
      }
    }
    after.push(() => port.releaseSender())
    return [F.CAP_SENDER_HOSTED, e.ref.id]
  }

  /** A receiver moves to the peer: its port becomes a forwarder, its queue follows the frame. */
  private describeReceiver(port: Port, after: (() => void)[]): unknown[] {
    const id = this.nextOutbound++
    if (id > 0xffffffff) throw new LimitExceededError(`${this.link.name}: out of receiver ids on this link`)
    const route: Route = { link: this.link, kind: F.TARGET_INBOUND, id }
    port.moveTo(route)
    this.outbound.set(id, port)
    this.carried = true
    after.push(() => port.forwardQueued())
    // Tell the peer which of its routes lead here, so it can shorten them (see Port.shortenTo).
    const desc: number[] = [F.CAP_RECEIVER, id]
    const exported = this.exportOf.get(port)
    if (exported) desc.push(F.TARGET_EXPORT, exported.ref.id)
    for (const ref of port.remotes) if (ref.link === this.link && ref.kind === F.TARGET_INBOUND) desc.push(F.TARGET_INBOUND, ref.id)
    return desc
  }

  /**
   * Our last user of a route is gone: forget it and return the control frame that tells the peer
   * (RELEASE for an import, FINISH for an outbound receiver), or null if there was nothing to forget.
   */
  forget(route: Route, lostReason?: string): [kind: number, body: unknown[]] | null {
    if (route.kind === F.TARGET_EXPORT) {
      const imp = this.imports.get(route.id)
      if (!imp) return null
      this.imports.delete(route.id)
      return [F.RELEASE, lostReason ? [route.id, imp.count, lostReason] : [route.id, imp.count]]
    }
    if (!this.outbound.delete(route.id)) return null
    return [F.FINISH, lostReason ? [route.id, lostReason] : [route.id]]
  }

  embargoDone(port: Port): void {
    this.embargoed.delete(port)
  }

  // -------------------------------------------------------------- incoming

  /** The port a MSG to `targetKind`/`id` goes to. */
  target(targetKind: number, id: number): Port {
    const port = targetKind === F.TARGET_EXPORT ? this.exports.port(id) : targetKind === F.TARGET_INBOUND ? this.inbound.port(id) : undefined
    if (!port) throw new ProtocolError(`${this.link.name}: MSG to unknown ${targetKind === F.TARGET_INBOUND ? 'inbound' : 'export'} ${id}`)
    return port
  }

  /** RELEASE `[id, count, lost?]`: the peer let go of `count` references to our export `id`. */
  release(id: number, count: number, lost: string | undefined): void {
    const e = this.exports.get(id)
    if (!e || count < 1 || count > e.count) throw new ProtocolError(`${this.link.name}: RELEASE of ${count} for export ${id}, which is not held that often`)
    e.count -= count
    if (e.count > 0) return
    this.exports.delete(id)
    this.exportOf.delete(e.port)
    e.port.removeRemote(e.ref, lost)
  }

  /** FINISH `[id, lost?]`: the peer's last sender to a receiver it moved to us is gone. */
  finish(id: number, lost: string | undefined): void {
    const e = this.inbound.get(id)
    if (!e) throw new ProtocolError(`${this.link.name}: FINISH for unknown inbound ${id}`)
    this.inbound.delete(id)
    e.port.removeRemote(e.ref, lost)
  }

  /** DROPPED: the receiver behind one of our routes is gone. Unknown ids are fine (released meanwhile). */
  dropped(kind: number, id: number, reason: string | null): void {
    const port = kind === F.TARGET_EXPORT ? this.imports.get(id)?.port : this.outbound.get(id)
    port?.routeGone(reason)
  }

  /** DISEMBARGO: the token we sent along a loop came back to the port it was sent to. */
  disembargo(kind: number, id: number, token: number): void {
    const port = kind === F.TARGET_EXPORT ? this.exports.port(id) : kind === F.TARGET_INBOUND ? this.inbound.port(id) : undefined
    if (!port) throw new ProtocolError(`${this.link.name}: DISEMBARGO to unknown target ${kind}/${id}`)
    port.acceptDisembargo(token)
  }

  /** Turn the peer's capability descriptors into caps that own their references. */
  materialize(descs: unknown): Cap[] {
    if (!Array.isArray(descs)) throw new ProtocolError(`${this.link.name}: malformed caps`)
    if (descs.length > this.link.limits.maxHandlesPerMessage) {
      throw new LimitExceededError(`${this.link.name}: message holds ${descs.length} handles, over the limit of ${this.link.limits.maxHandlesPerMessage}`)
    }
    const caps: Cap[] = []
    try {
      for (const d of descs) caps.push(this.materializeOne(d))
    } catch (e) {
      dropCaps(caps)
      throw e
    }
    return caps
  }

  private materializeOne(d: unknown): Cap {
    if (!Array.isArray(d) || d.length < 2 || d.length % 2 !== 0 || !d.every(F.isId) || (d.length > 2 && d[0] !== F.CAP_RECEIVER)) {
      throw new ProtocolError(`${this.link.name}: malformed capability`)
    }
    const [tag, id] = d as [number, number]
    switch (tag) {
      case F.CAP_SENDER_HOSTED: {
        let imp = this.imports.get(id)
        if (imp) imp.count++
        else {
          this.checkRoom()
          imp = { port: new Port({ link: this.link, kind: F.TARGET_EXPORT, id }), count: 1 }
          this.imports.set(id, imp)
          this.carried = true
        }
        imp.port.addSender()
        return { kind: 'sender', port: imp.port }
      }
      case F.CAP_SENDER_YOUR_EXPORT:
      case F.CAP_SENDER_YOUR_INBOUND: {
        const ours = tag === F.CAP_SENDER_YOUR_EXPORT ? this.exports.get(id) : this.inbound.get(id)
        if (!ours) throw new ProtocolError(`${this.link.name}: capability names unknown ${tag === F.CAP_SENDER_YOUR_EXPORT ? 'export' : 'inbound'} ${id}`)
        ours.port.addSender()
        return { kind: 'sender', port: ours.port }
      }
      case F.CAP_RECEIVER:
        return this.receiverArrived(id, d as number[])
      default:
        throw new ProtocolError(`${this.link.name}: unknown capability kind ${tag}`)
    }
  }

  /** A receiver moved in as inbound `id`; `d[2..]` name routes of ours that lead to it. */
  private receiverArrived(id: number, d: number[]): Cap {
    if (this.inbound.has(id)) throw new ProtocolError(`${this.link.name}: receiver moved in as inbound ${id}, which is taken`)
    this.checkRoom()
    const port = new Port()
    const ref: RemoteRef = { link: this.link, kind: F.TARGET_INBOUND, id }
    this.inbound.set(id, { port, ref })
    this.carried = true
    port.addRemote(ref)
    for (let i = 2; i < d.length; i += 2) {
      // A route of ours that leads to this very receiver, over this link: shorten it.
      const route = d[i] === F.TARGET_EXPORT ? this.imports.get(d[i + 1]!)?.port : d[i] === F.TARGET_INBOUND ? this.outbound.get(d[i + 1]!) : undefined
      if (route?.route?.link === this.link) {
        this.embargoed.add(route)
        route.shortenTo(port, this.link)
      }
    }
    return { kind: 'receiver', port }
  }

  private checkRoom(): void {
    if (this.imports.size + this.inbound.size >= this.link.limits.maxImports) {
      throw new LimitExceededError(`${this.link.name}: the peer holds more than ${this.link.limits.maxImports} channels open on this link`)
    }
  }

  // ------------------------------------------------------------ the end

  /**
   * The link closed: empty every table and tell each port. `orderly`: the channels that crossed end
   * like closed ones; otherwise they report the loss (`reason`, `cause`).
   */
  clear(cause: unknown, reason: string, orderly: boolean): void {
    const exports = [...this.exports.values()]
    const inbound = [...this.inbound.values()]
    const imports = [...this.imports.values()]
    const outbound = [...this.outbound.values()]
    this.exports.clear()
    this.exportOf.clear()
    this.inbound.clear()
    this.imports.clear()
    this.outbound.clear()
    // Disembargoes will not come back over a dead link: let what waited go (to the new home).
    for (const p of [...this.embargoed]) p.liftEmbargo()
    this.embargoed.clear()
    const lost = orderly ? undefined : cause
    const ended = orderly ? cause : undefined
    for (const p of imports) p.port.routeGone(orderly ? null : reason, cause)
    for (const p of outbound) p.routeGone(orderly ? null : reason, cause)
    for (const e of exports) e.port.removeRemote(e.ref, lost, ended)
    for (const e of inbound) e.port.removeRemote(e.ref, lost, ended)
  }

  /** Channels have crossed, and every one of them is gone again (only the bootstrap ones are left). */
  get idle(): boolean {
    if (!this.carried || this.inbound.size || this.outbound.size) return false
    for (const id of this.exports.keys()) if (id !== 0) return false
    for (const id of this.imports.keys()) if (id !== 0) return false
    return true
  }

  /** Sizes of the tables (the bootstrap channel's entries included), for tests and diagnostics. */
  get sizes(): { exports: number; imports: number; inbound: number; outbound: number; embargoed: number } {
    return {
      exports: this.exports.size,
      imports: this.imports.size,
      inbound: this.inbound.size,
      outbound: this.outbound.size,
      embargoed: this.embargoed.size,
    }
  }
}
