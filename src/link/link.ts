/**
 * A Link joins this process to one peer over one Wire. It runs the handshake, multiplexes every
 * channel that crosses the wire, and keeps the per-link tables (after Cap'n Proto's RPC protocol):
 *
 *   exports   id -> port  channels we let the peer send into, with how often we sent each (refcount)
 *   imports   id -> port  the peer's exports we hold, with how often we received each
 *   inbound   id -> port  receivers the peer moved to us; it forwards what arrives for them
 *   outbound  id -> port  receivers we moved to the peer; we forward to them
 *
 * Export 0 on each side is the link's bootstrap inbox, so a link starts as a pair of channels.
 */
import { HEADROOM, encode, encodePlain, decode, decodePlain, newChunk } from '../codec/msgpack.js'
import { ConnectionLostError, DisconnectedError, LimitExceededError, ProtocolError, describeCause, keepable } from '../errors.js'
import { FRAME_HEADER, FrameDecoder } from '../wire/framing.js'
import type { Wire } from '../wire/wire.js'
import * as F from './frames.js'
import { unwatchExit, watchExit, type ExitingLink } from './at-exit.js'
import { Batch } from './batch.js'
import { Heartbeat } from './heartbeat.js'
import { checkHandles, commitHandles, wrapCap } from './handles.js'
import { registerWire, unregisterWire } from './event-loop.js'
import { HANDSHAKE_MAX_FRAME, resolveLimits, type LinkLimits } from './limits.js'
import { Port, dropCap, dropCaps, dropEntry, type Cap, type Closable, type Entry, type LinkSide, type QueueAccount, type RemoteRef, type Route } from './port.js'

export interface LinkOptions extends Partial<LinkLimits> {
  /** A name for error messages (e.g. "child 1234"). */
  name?: string
  /**
   * Called when the peer is gone without an orderly goodbye: its wire ended (`error` says how, if it
   * failed), or it sent a GOODBYE naming a failure (`peerFailure`). Returns (or resolves to) the
   * cause reported to every handle on the link, and whether the end was orderly after all. The
   * process layer uses it to report a child's exit status: code 0 is orderly, anything else lost.
   */
  onWireEnd?: (error: unknown, peerFailure: string | null) => PeerEnd | undefined | Promise<PeerEnd | undefined>
  /**
   * Declare the peer lost when nothing has arrived from it for this many ms (a dead TCP peer sends
   * no FIN). The handshake asks the peer to send a heartbeat at a third of this when it is idle.
   * Off by default.
   */
  idleTimeoutMs?: number
  /**
   * Close the link in order once nothing crosses it any more: channels have crossed it, and every
   * one of them is gone again (only the bootstrap channels, export and import 0, are left). For a
   * link made for one channel (OneShotServer). Off by default.
   */
  closeWhenIdle?: boolean
}

/** How the owner of a link saw its peer end (see LinkOptions.onWireEnd). */
export interface PeerEnd {
  cause: unknown
  orderly: boolean
}

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

const EMPTY = new Uint8Array(0)
const NO_CAPS: Cap[] = []
if (HEADROOM !== F.MSG_PREFIXED) throw new Error('ipfi internal error: HEADROOM does not fit a MSG header')
/** A batch is written as soon as it holds this many frames (and otherwise at the end of the tick). */
const FLUSH_AT = 32
/** Parts at least this large are written by reference instead of being copied into the batch. */
const BIG_PART = 16 * 1024

export class Link implements LinkSide, QueueAccount, ExitingLink {
  readonly limits: LinkLimits
  readonly name: string
  private peerMaxFrame: number
  private peerMaxHandles: number
  private state: 'handshake' | 'open' | 'closed' = 'handshake'
  /** The peer is gone and the owner is asked why (see onWireEnd): nothing more is read. */
  private ending = false
  private readonly decoder: FrameDecoder
  private handshakeTimer: NodeJS.Timeout | null
  private readonly exports = new Map<number, ExportEntry>()
  private readonly exportOf = new Map<Port, ExportEntry>()
  private nextExport = 1
  private readonly imports = new Map<number, ImportEntry>()
  private readonly inbound = new Map<number, InboundEntry>()
  private readonly outbound = new Map<number, Port>()
  private nextOutbound = 1
  /** Ports shortened through this link whose disembargo has not come back yet. */
  private readonly embargoed = new Set<Port>()
  private readonly batch = new Batch()
  private flushQueued = false
  private closeCause: unknown = undefined
  private readonly heartbeat: Heartbeat
  /** closeWhenIdle: whether a channel other than the bootstrap ones ever crossed. */
  private readonly closeWhenIdle: boolean
  private carried = false
  private resolveClosed!: (cause: unknown) => void
  private readonly onWireEnd?: LinkOptions['onWireEnd']
  /** Resolves with the cause once the link is closed, whatever closed it. */
  readonly closed: Promise<unknown>
  /** Resolves once the peer's handshake arrived (rejects if the link closes first). */
  readonly ready: Promise<void>
  private resolveReady!: () => void
  private rejectReady!: (e: unknown) => void
  /** The bootstrap inbox (our export 0) and the route to the peer's (its export 0). */
  readonly inbox: Port
  readonly outbox: Port

  constructor(private readonly wire: Wire, options: LinkOptions = {}) {
    this.limits = resolveLimits(options)
    this.name = options.name ?? 'link'
    this.onWireEnd = options.onWireEnd
    this.closeWhenIdle = options.closeWhenIdle === true
    const idle = options.idleTimeoutMs
    if (idle !== undefined && (typeof idle !== 'number' || !(idle >= 30) || !Number.isFinite(idle))) {
      throw new RangeError(`idleTimeoutMs must be a number of ms, at least 30, got ${String(idle)}`)
    }
    this.heartbeat = new Heartbeat(
      idle === undefined ? 0 : Math.floor(idle),
      () => this.state === 'open' && this.writeFrame(F.PING, EMPTY),
      () => this.fail(new ConnectionLostError(`${this.name}: nothing arrived from the peer for ${this.heartbeat.idleTimeoutMs} ms`)),
    )
    this.peerMaxFrame = this.limits.maxFrameBytes
    this.peerMaxHandles = this.limits.maxHandlesPerMessage
    this.closed = new Promise((r) => (this.resolveClosed = r))
    this.ready = new Promise<void>((res, rej) => {
      this.resolveReady = res
      this.rejectReady = rej
    })
    this.ready.catch(() => {})

    this.inbox = new Port()
    const inboxRef: RemoteRef = { link: this, kind: F.TARGET_EXPORT, id: 0 }
    const inboxEntry = { port: this.inbox, count: 1, ref: inboxRef }
    this.exports.set(0, inboxEntry)
    this.exportOf.set(this.inbox, inboxEntry)
    this.inbox.addRemote(inboxRef)
    this.outbox = new Port({ link: this, kind: F.TARGET_EXPORT, id: 0 })
    this.imports.set(0, { port: this.outbox, count: 1 })

    this.decoder = new FrameDecoder(HANDSHAKE_MAX_FRAME, (bytes, start, end) => this.onFrame(bytes, start, end))
    this.handshakeTimer = setTimeout(() => {
      this.fail(new ProtocolError(`${this.name}: no handshake from the peer within ${this.limits.handshakeTimeoutMs} ms`))
    }, this.limits.handshakeTimeoutMs)
    this.handshakeTimer.unref?.()
    registerWire(wire)
    watchExit(this)
    this.sendHello()
    wire.start(
      (chunk, end) => this.onData(chunk, end),
      (err) => this.onEnd(err),
    )
  }

  get isClosed(): boolean {
    return this.state === 'closed'
  }

  // ------------------------------------------------------------------ sending

  /** Send a value into the channel that `route` leads to. Throws before anything moves if it can't. */
  sendValue(route: Route, value: unknown, target: Port): void {
    const { payload, handles, frame } = encode(value)
    if (handles.length > this.peerMaxHandles) {
      throw new LimitExceededError(`message holds ${handles.length} handles; the peer accepts at most ${this.peerMaxHandles}`)
    }
    checkHandles(handles, target)
    const size = F.MSG_HEADER + handles.length * 10 + payload.length
    if (size > this.peerMaxFrame) {
      throw new LimitExceededError(`message of ${payload.length} bytes is over the peer's frame limit of ${this.peerMaxFrame} bytes`)
    }
    if (frame && handles.length === 0 && this.state !== 'closed') return this.sendFrame(route, frame)
    this.sendMsg(route, payload, handles.length ? commitHandles(handles) : NO_CAPS)
  }

  /** A large message without handles, encoded with room for its header: the whole frame goes as it is. */
  private sendFrame(route: Route, frame: Buffer): void {
    F.writeMsgHeader(frame, 0, frame.length - FRAME_HEADER, route, 0)
    this.batch.frame(frame)
    this.wrote()
    if (this.batch.frames >= FLUSH_AT) this.flush()
  }

  /** Pass on a message that arrived for a receiver that moved on (its bytes may be in a reused chunk: a small payload is copied into the batch; a large one is copied here). */
  forward(route: Route, payload: Uint8Array, caps: Cap[]): void {
    this.sendMsg(route, payload.length < BIG_PART ? payload : Uint8Array.prototype.slice.call(payload), caps)
  }

  /** Send a queued entry on (its receiver moved over this link). */
  forwardEntry(route: Route, entry: Entry): void {
    let enc
    try {
      enc = encode(entry.value)
    } catch (e) {
      process.emitWarning(`ipfi: a queued message could not follow its moved receiver and was dropped: ${(e as Error).message}`)
      return dropEntry(entry)
    }
    this.sendMsg(route, enc.payload, enc.handles.length ? commitHandles(enc.handles) : [])
  }

  private sendMsg(route: Route, payload: Uint8Array, caps: Cap[]): void {
    if (this.state === 'closed') return dropCaps(caps)
    if (caps.length > this.peerMaxHandles || F.MSG_HEADER + payload.length > this.peerMaxFrame) {
      // Only forwarded messages can get here (direct sends are checked before anything moves):
      // a message the previous link accepted is over this peer's limits. Drop it, not the link.
      process.emitWarning(`ipfi: ${this.name}: a forwarded message is over the peer's limits and was dropped`)
      return dropCaps(caps)
    }
    let descs: unknown[] | null = null
    let after: (() => void)[] | null = null
    if (caps.length) {
      descs = []
      after = []
      for (const c of caps) descs.push(this.encodeCap(c, after))
    }
    const capsBytes = descs ? encodePlain(descs) : EMPTY
    const bodyLen = F.MSG_HEADER + capsBytes.length + payload.length
    const small = payload.length < BIG_PART
    const b = this.batch
    const at = b.reserve(F.MSG_PREFIXED + capsBytes.length + (small ? payload.length : 0))
    const slab = b.slab
    F.writeMsgHeader(slab, at, bodyLen, route, capsBytes.length)
    if (capsBytes.length) slab.set(capsBytes, at + F.MSG_PREFIXED)
    if (small) slab.set(payload, at + F.MSG_PREFIXED + capsBytes.length)
    else b.part(payload)
    this.wrote()
    if (after) for (const f of after) f()
    // A long batch goes out now, once this message is wholly sent, so that the peer can start on it
    // while we go on (overlap); the rest waits for the end of the tick.
    if (b.frames >= FLUSH_AT) this.flush()
  }

  /** Describe one capability for the peer; `after` collects what must happen once the frame is queued. */
  private encodeCap(c: Cap, after: (() => void)[]): unknown[] {
    let port = c.port
    if (c.kind === 'sender' && port.alias && !port.embargo) {
      // A shortened route: describe where it leads now.
      const alias = port
      port = alias.resolve()
      port.addSender()
      after.push(() => alias.releaseSender())
      c = { kind: 'sender', port }
    }
    if (c.kind === 'receiver') {
      const id = this.nextOutbound++
      if (id > 0xffffffff) throw new LimitExceededError(`${this.name}: out of receiver ids on this link`)
      const route: Route = { link: this, kind: F.TARGET_INBOUND, id }
      port.moveTo(route)
      this.outbound.set(id, port)
      this.carried = true
      after.push(() => port.forwardQueued())
      // Tell the peer which of its routes lead here, so it can shorten them (see Port.shortenTo).
      const desc: number[] = [F.CAP_RECEIVER, id]
      const exported = this.exportOf.get(port)
      if (exported) desc.push(F.TARGET_EXPORT, exported.ref.id)
      for (const ref of port.remotes) if (ref.link === this && ref.kind === F.TARGET_INBOUND) desc.push(F.TARGET_INBOUND, ref.id)
      return desc
    }
    const r = port.route
    if (r && r.link === this) {
      after.push(() => port.releaseSender())
      return [r.kind === F.TARGET_EXPORT ? F.CAP_SENDER_YOUR_EXPORT : F.CAP_SENDER_YOUR_INBOUND, r.id]
    }
    let e = this.exportOf.get(port)
    if (e) {
      e.count++
    } else {
      const id = this.nextExport++
      if (id > 0xffffffff) throw new LimitExceededError(`${this.name}: out of export ids on this link`)
      e = { port, count: 1, ref: { link: this, kind: F.TARGET_EXPORT, id } }
      this.exports.set(id, e)
      this.carried = true
      this.exportOf.set(port, e)
      port.addRemote(e.ref)
      if (port.receiverGone) {
        const ref = e.ref
        after.push(() => this.sendDropped(ref, port.goneReason))
      }
    }
    after.push(() => port.releaseSender())
    return [F.CAP_SENDER_HOSTED, e.ref.id]
  }

  /** Our last user of a route is gone. `lostReason`: the users went down with another link. */
  releaseRoute(route: Route, lostReason?: string): void {
    if (route.kind === F.TARGET_EXPORT) {
      const imp = this.imports.get(route.id)
      if (!imp) return
      this.imports.delete(route.id)
      if (this.state !== 'closed') this.control(F.RELEASE, lostReason ? [route.id, imp.count, lostReason] : [route.id, imp.count])
    } else {
      if (!this.outbound.delete(route.id)) return
      if (this.state !== 'closed') this.control(F.FINISH, lostReason ? [route.id, lostReason] : [route.id])
    }
    this.closeIfIdle()
  }

  sendDisembargo(route: Route, token: number): void {
    if (this.state !== 'closed') this.control(F.DISEMBARGO, [route.kind, route.id, token])
  }

  embargoDone(port: Port): void {
    this.embargoed.delete(port)
  }

  sendDropped(ref: RemoteRef, lostReason: string | null): void {
    if (this.state !== 'closed') this.control(F.DROPPED, [ref.kind, ref.id, lostReason])
  }

  private control(kind: number, body: unknown): void {
    this.writeFrame(kind, encodePlain(body))
  }

  private sendHello(): void {
    const o: F.HelloOptions = { maxFrameBytes: this.limits.maxFrameBytes, maxHandlesPerMessage: this.limits.maxHandlesPerMessage }
    const every = this.heartbeat.askPeerEvery
    if (every !== undefined) o.heartbeatMs = every
    this.writeFrame(F.HELLO, F.helloBody(o))
  }

  /** Queue a frame of `kind` with `body` after it. */
  private writeFrame(kind: number, body: Uint8Array): void {
    const at = this.batch.reserve(F.CONTROL_PREFIXED + body.length) // may start a new slab: first
    F.writeControl(this.batch.slab, at, kind, body)
    this.wrote()
  }

  /** A frame was queued: make sure it is written at the end of this tick. */
  private wrote(): void {
    this.heartbeat.said()
    if (!this.flushQueued) {
      this.flushQueued = true
      process.nextTick(this.flush)
    }
  }

  /** Write everything queued: small frames as one run of bytes, big payloads by reference. */
  private readonly flush = (): void => {
    this.flushQueued = false
    this.batch.writeTo(this.wire)
    const unsent = this.wire.bufferedBytes?.() ?? 0
    if (unsent > this.limits.maxUnsentBytes && this.state !== 'closed') {
      this.fail(
        new LimitExceededError(`${this.name}: ${unsent} bytes wait for the peer to read them, over maxUnsentBytes (${this.limits.maxUnsentBytes}); is it stopped?`),
        true,
      )
    }
  }

  /** Bytes sent on this link that have not reached the transport (queued here, or in the wire). */
  get unsentBytes(): number {
    return this.batch.bytes + (this.wire.bufferedBytes?.() ?? 0)
  }

  /** Resolves once everything sent so far has reached the transport (a socket: the kernel). */
  drained(): Promise<void> {
    if (this.batch.bytes) this.flush()
    const wire = this.wire
    if (!wire.whenDrained || this.state === 'closed') return Promise.resolve()
    return new Promise((resolve) => wire.whenDrained!(resolve))
  }

  /** The process is exiting: write what is queued and a GOODBYE, synchronously (see at-exit.ts). */
  atExit(reason: string, failed: boolean, deadline: number): void {
    if (this.state === 'closed') return
    this.state = 'closed'
    this.control(F.GOODBYE, failed ? [reason, F.EXITED] : [reason])
    this.batch.writeTo(this.wire)
    this.wire.flushSync?.(deadline)
  }

  // ---------------------------------------------------------------- receiving

  private onData(chunk: Uint8Array, end?: number): void {
    if (this.state === 'closed' || this.ending) return
    this.heartbeat.heard()
    newChunk()
    try {
      this.decoder.push(chunk, end)
    } catch (e) {
      this.fail(this.named(e))
    }
  }

  /** The framing layer's errors do not know which link they are about: say it. */
  private named(e: unknown): unknown {
    if ((e instanceof ProtocolError || e instanceof LimitExceededError) && !e.message.startsWith(`${this.name}:`)) {
      const Named = e instanceof ProtocolError ? ProtocolError : LimitExceededError
      return new Named(`${this.name}: ${e.message}`, { cause: e.cause })
    }
    return e
  }

  /** One frame: `bytes[start, end)`. Messages are read in place; control frames (rare) as views. */
  private onFrame(bytes: Buffer, start: number, end: number): void {
    if (this.state === 'closed' || this.ending) return
    const kind = bytes[start]
    if (kind === F.MSG && this.state === 'open') return this.onMsg(bytes, start, end)
    const frame = bytes.subarray(start, end)
    if (this.state === 'handshake') {
      if (kind !== F.HELLO) throw new ProtocolError(`${this.name}: expected a handshake, got frame kind ${kind} (is the peer speaking ipfi?)`)
      return this.onHello(frame)
    }
    switch (kind) {
      case F.RELEASE: {
        const {
          ids: [id, count],
          reason: lost,
        } = F.readIdsAndReason(frame, 2, 'RELEASE')
        const e = this.exports.get(id!)
        if (!e || count! < 1 || count! > e.count) throw new ProtocolError(`${this.name}: RELEASE of ${count} for export ${id}, which is not held that often`)
        e.count -= count!
        if (e.count === 0) {
          this.exports.delete(id!)
          this.exportOf.delete(e.port)
          e.port.removeRemote(e.ref, lost)
          this.closeIfIdle()
        }
        return
      }
      case F.DROPPED: {
        const { kind, id, reason } = F.readDropped(frame)
        const port = kind === F.TARGET_EXPORT ? this.imports.get(id)?.port : this.outbound.get(id)
        port?.routeGone(reason) // unknown ids are fine: we may have released them meanwhile
        return
      }
      case F.FINISH: {
        const {
          ids: [id],
          reason: lost,
        } = F.readIdsAndReason(frame, 1, 'FINISH')
        const e = this.inbound.get(id!)
        if (!e) throw new ProtocolError(`${this.name}: FINISH for unknown inbound ${id}`)
        this.inbound.delete(id!)
        e.port.removeRemote(e.ref, lost)
        this.closeIfIdle()
        return
      }
      case F.DISEMBARGO: {
        const [kind, id, token] = F.readInts(frame, 3, 'DISEMBARGO')
        const port = kind === F.TARGET_EXPORT ? this.exports.get(id!)?.port : kind === F.TARGET_INBOUND ? this.inbound.get(id!)?.port : undefined
        if (!port) throw new ProtocolError(`${this.name}: DISEMBARGO to unknown target ${kind}/${id}`)
        port.acceptDisembargo(token!)
        return
      }
      case F.GOODBYE: {
        const { reason, failure } = F.readGoodbye(frame)
        if (failure === null) return this.teardown(new DisconnectedError(`${this.name}: the peer closed the link${reason ? `: ${reason}` : ''}`), true)
        return this.peerGone(new ConnectionLostError(`${this.name}: the peer closed the link because it failed: ${failure}`), failure)
      }
      case F.PING:
        return // its arrival was the point
      case F.HELLO:
        throw new ProtocolError(`${this.name}: a second handshake`)
      default:
        throw new ProtocolError(`${this.name}: unknown frame kind ${kind}`)
    }
  }

  private onHello(frame: Uint8Array): void {
    const peer = F.readHello(frame)
    if (peer.maxFrameBytes !== undefined) this.peerMaxFrame = peer.maxFrameBytes
    if (peer.maxHandlesPerMessage !== undefined) this.peerMaxHandles = peer.maxHandlesPerMessage
    this.state = 'open'
    this.heartbeat.start(peer.heartbeatMs)
    this.decoder.maxFrame = this.limits.maxFrameBytes
    if (this.handshakeTimer) clearTimeout(this.handshakeTimer)
    this.handshakeTimer = null
    this.resolveReady()
  }

  private onMsg(bytes: Buffer, start: number, end: number): void {
    if (end - start < F.MSG_HEADER) throw new ProtocolError(`${this.name}: truncated MSG frame`)
    const targetKind = bytes[start + 1]
    const target = bytes.readUInt32BE(start + 2)
    const capsLen = bytes.readUInt32BE(start + 6)
    const capsStart = start + F.MSG_HEADER
    if (capsLen > end - capsStart) throw new ProtocolError(`${this.name}: MSG caps run past the frame`)
    const port =
      targetKind === F.TARGET_EXPORT ? this.exports.get(target)?.port : targetKind === F.TARGET_INBOUND ? this.inbound.get(target)?.port : undefined
    if (!port) throw new ProtocolError(`${this.name}: MSG to unknown ${targetKind === F.TARGET_INBOUND ? 'inbound' : 'export'} ${target}`)
    const caps = capsLen ? this.materialize(decodePlain(bytes, capsStart, capsStart + capsLen)) : NO_CAPS
    port.accept(bytes, capsStart + capsLen, end, caps, this.decodeHere)
  }

  /** Turn the peer's capability descriptors into caps that own their references. */
  private materialize(descs: unknown): Cap[] {
    if (!Array.isArray(descs)) throw new ProtocolError(`${this.name}: malformed caps`)
    if (descs.length > this.limits.maxHandlesPerMessage) {
      throw new LimitExceededError(`${this.name}: message holds ${descs.length} handles, over the limit of ${this.limits.maxHandlesPerMessage}`)
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
      throw new ProtocolError(`${this.name}: malformed capability`)
    }
    const [tag, id] = d as [number, number]
    switch (tag) {
      case F.CAP_SENDER_HOSTED: {
        let imp = this.imports.get(id)
        if (imp) imp.count++
        else {
          this.checkTable()
          imp = { port: new Port({ link: this, kind: F.TARGET_EXPORT, id }), count: 1 }
          this.imports.set(id, imp)
          this.carried = true
        }
        imp.port.addSender()
        return { kind: 'sender', port: imp.port }
      }
      case F.CAP_SENDER_YOUR_EXPORT: {
        const e = this.exports.get(id)
        if (!e) throw new ProtocolError(`${this.name}: capability names unknown export ${id}`)
        e.port.addSender()
        return { kind: 'sender', port: e.port }
      }
      case F.CAP_SENDER_YOUR_INBOUND: {
        const e = this.inbound.get(id)
        if (!e) throw new ProtocolError(`${this.name}: capability names unknown inbound ${id}`)
        e.port.addSender()
        return { kind: 'sender', port: e.port }
      }
      case F.CAP_RECEIVER: {
        if (this.inbound.has(id)) throw new ProtocolError(`${this.name}: receiver moved in as inbound ${id}, which is taken`)
        this.checkTable()
        const port = new Port()
        const ref: RemoteRef = { link: this, kind: F.TARGET_INBOUND, id }
        this.inbound.set(id, { port, ref })
        this.carried = true
        port.addRemote(ref)
        for (let i = 2; i < d.length; i += 2) {
          // A route of ours that leads to this very receiver, over this link: shorten it.
          const route = d[i] === F.TARGET_EXPORT ? this.imports.get(d[i + 1])?.port : d[i] === F.TARGET_INBOUND ? this.outbound.get(d[i + 1]) : undefined
          if (route?.route?.link === this) {
            this.embargoed.add(route)
            route.shortenTo(port, this)
          }
        }
        return { kind: 'receiver', port }
      }
      default:
        throw new ProtocolError(`${this.name}: unknown capability kind ${tag}`)
    }
  }

  /** Decode a message that came over this link; its queued bytes count against maxQueuedBytes. */
  private readonly decodeHere = (bytes: Buffer, start: number, end: number, caps: Cap[]): Entry => decodeEntry(bytes, start, end, caps, this)

  /** Bytes from the peer waiting unread in this process (QueueAccount). */
  private queuedBytes = 0
  queued(bytes: number): void {
    this.queuedBytes += bytes
    if (this.queuedBytes > this.limits.maxQueuedBytes && this.state !== 'closed') {
      this.fail(new LimitExceededError(`${this.name}: the peer has ${this.queuedBytes} bytes waiting unread in this process, over maxQueuedBytes (${this.limits.maxQueuedBytes})`))
    }
  }
  unqueued(bytes: number): void {
    this.queuedBytes -= bytes
  }

  private checkTable(): void {
    if (this.imports.size + this.inbound.size >= this.limits.maxImports) {
      throw new LimitExceededError(`${this.name}: the peer holds more than ${this.limits.maxImports} channels open on this link`)
    }
  }

  // ------------------------------------------------------------------ closing

  private onEnd(err: unknown): void {
    if (this.state === 'closed' || this.ending) return
    if (this.decoder.partial && err === undefined) err = new ProtocolError(`${this.name}: the stream ended in the middle of a frame`)
    this.peerGone(err, null)
  }

  /** The peer is gone without an orderly goodbye: the owner, if any, says why and whether in order. */
  private peerGone(err: unknown, peerFailure: string | null): void {
    const fallback = err ?? new ConnectionLostError(`${this.name}: the connection closed`)
    if (!this.onWireEnd) return this.fail(fallback)
    this.ending = true
    // Let the owner say why (a child's exit status), without holding the link open for long.
    Promise.resolve()
      .then(() => this.onWireEnd!(err, peerFailure))
      .then(
        (end) => (end?.orderly ? this.teardown(end.cause, true) : this.fail(end?.cause ?? fallback)),
        () => this.fail(fallback),
      )
  }

  /**
   * Close because of an error (protocol violation, lost peer): everything crossing the link reports
   * `ConnectionLostError`. Tells the peer why, best effort; `dropUnsent` also drops what the wire
   * still holds (the peer stopped reading).
   */
  fail(cause: unknown, dropUnsent = false): void {
    if (this.state === 'closed') return
    if (cause instanceof ProtocolError || cause instanceof LimitExceededError) {
      this.batch.discard()
      this.control(F.GOODBYE, [cause.message, cause.code])
      this.batch.writeTo(this.wire)
    }
    this.teardown(cause, false, dropUnsent)
  }

  /** Close in order: the peer is told, and channels that cross the link end as closed channels do. */
  close(reason?: string): void {
    if (this.state === 'closed') return
    this.control(F.GOODBYE, [reason ?? null])
    this.teardown(new DisconnectedError(`${this.name}: the link was closed${reason ? `: ${reason}` : ''}`), true)
  }

  /** `orderly`: the channels that crossed the link end like closed ones; otherwise they report the loss. */
  private teardown(cause: unknown, orderly: boolean, dropUnsent = false): void {
    if (this.state === 'closed') return
    const wasReady = this.state === 'open'
    this.state = 'closed'
    this.closeCause = keepable(cause) // kept by the link and its ports
    if (this.handshakeTimer) clearTimeout(this.handshakeTimer)
    this.heartbeat.stop()
    if (!wasReady) this.rejectReady(cause)
    this.batch.writeTo(this.wire)
    if (dropUnsent && this.wire.destroy) this.wire.destroy()
    else this.wire.close()
    unregisterWire(this.wire)
    unwatchExit(this)
    const reason = describeCause(cause)
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
    this.resolveClosed(cause)
  }

  /** closeWhenIdle: close in order once every channel that crossed is gone again (the bootstrap ones aside). */
  private closeIfIdle(): void {
    if (!this.closeWhenIdle || !this.idle()) return
    // Checked again once the current step is done (a release may be part of a move still under way).
    process.nextTick(() => this.idle() && this.close('nothing crosses this link any more'))
  }

  private idle(): boolean {
    if (!this.carried || this.state !== 'open' || this.inbound.size || this.outbound.size) return false
    for (const id of this.exports.keys()) if (id !== 0) return false
    for (const id of this.imports.keys()) if (id !== 0) return false
    return true
  }

  /** Sizes of the link's tables (the bootstrap channel's entries included), for tests and diagnostics. */
  get stats(): { exports: number; imports: number; inbound: number; outbound: number; embargoed: number } {
    return {
      exports: this.exports.size,
      imports: this.imports.size,
      inbound: this.inbound.size,
      outbound: this.outbound.size,
      embargoed: this.embargoed.size,
    }
  }

  /** Why the link closed (undefined while open). */
  get cause(): unknown {
    return this.closeCause
  }
}

/** Decode a message that reached its receiver's home, turning its caps into user-level handles. */
export function decodeEntry(bytes: Buffer, start: number, end: number, caps: Cap[], from: QueueAccount | null = null): Entry {
  if (caps.length === 0) return { value: decode(bytes, noHandles, start, end), handles: null, bytes: end - start, from }
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
  return { value, handles: handles.length ? handles : null, bytes: end - start, from }
}

/** The handle reader of a message without caps: any reference in it is out of range. */
function noHandles(i: number): never {
  throw new ProtocolError(`handle reference ${i} is out of range or used twice`)
}
