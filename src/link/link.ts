/**
 * A Link joins this process to one peer over one Wire: its lifecycle (handshake, open, closed),
 * sending (messages and control frames into batches), the dispatch of frames that arrive, and
 * closing. What it knows of the channels that cross it is in its tables (`tables.ts`); the frames'
 * bytes are written and read by `frames.ts`.
 *
 * Export 0 on each side is the link's bootstrap inbox, so a link starts as a pair of channels.
 */
import { encode, encodePlain, decodePlain, newChunk, type Gap } from '../codec/msgpack.js'
import { moveBuffers } from '../codec/transfer-list.js'
import { ConnectionLostError, DisconnectedError, LimitExceededError, ProtocolError, describeCause, keepable } from '../errors.js'
import { FRAME_HEADER, FrameDecoder } from '../wire/framing.js'
import { handOver, takeGivenBack } from '../wire/hand-over.js'
import type { Wire } from '../wire/wire.js'
import * as F from './frames.js'
import { unwatchExit, watchExit, type ExitingLink } from './at-exit.js'
import { Batch } from './batch.js'
import { Heartbeat } from './heartbeat.js'
import { checkHandles, commitHandles, decodeEntry } from './handles.js'
import { registerWire, unregisterWire } from './event-loop.js'
import { HANDSHAKE_MAX_FRAME, resolveLimits, type LinkLimits } from './limits.js'
import { dropCaps, dropEntry, type Cap, type Entry, type LinkSide, type Port, type QueueAccount, type RemoteRef, type Route } from './port.js'
import { Tables } from './tables.js'
import { DEBUG, debug, kindName, plural, linkClose, linkOpen, messageReceived, messageSent, targetName, type LinkTraffic } from './trace.js'

export interface LinkOptions extends Partial<LinkLimits> {
  /** A name for error messages (e.g. "child 1234"). */
  name?: string
  /**
   * @internal For the process layer (not API).
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

const EMPTY = new Uint8Array(0)
const NO_CAPS: Cap[] = []
/** Parts at least this large are written by reference instead of being copied into the batch. */
const BIG_PART = 16 * 1024

/** A payload's transferred binaries (codec `Encoded.holes`), the buffers now holding them, and the payload's length with them. */
interface Gaps {
  holes: Gap[]
  moved: ReadonlyMap<ArrayBufferLike, ArrayBuffer>
  bytes: number
}

/**
 * One peer over one wire, as users see it: `connection.link`, `peer.link`, `child.link`. Every
 * channel and call that crosses the wire goes through it; closing it ends them all.
 */
export interface Link {
  /** A name for error messages (e.g. "child 1234"). */
  readonly name: string
  /** Resolves once the peer's handshake arrived (rejects if the link closes first). */
  readonly ready: Promise<void>
  /** Resolves with the cause once the link is closed, whatever closed it. */
  readonly closed: Promise<unknown>
  readonly isClosed: boolean
  /** Why the link closed (undefined while open). */
  readonly cause: unknown
  /**
   * Close in order: the peer is told (GOODBYE), and the channels that cross the link end as closed
   * channels do (`DisconnectedError`, a `for await` loop ends). Calls in flight fail.
   */
  close(reason?: string): void
  /** Bytes sent on this link that have not reached the transport yet (queued here, or in the wire). */
  readonly unsentBytes: number
  /** Resolves once everything sent so far has reached the transport (a socket: the kernel). */
  drained(): Promise<void>
  /** Sizes of the link's tables (the bootstrap channel's entries included), for tests and diagnostics. */
  readonly stats: { exports: number; imports: number; inbound: number; outbound: number; embargoed: number }
  /** What has crossed the link so far, and what waits: frames, bytes and messages each way, queued and unsent bytes, channel ends. */
  readonly traffic: LinkTraffic
}

/** The implementation of a Link (not exported from the package: users see the `Link` interface). */
export class LinkImpl implements Link, LinkSide, QueueAccount, ExitingLink {
  readonly limits: LinkLimits
  readonly name: string
  private peerMaxFrame: number
  private peerMaxHandles: number
  private state: 'handshake' | 'open' | 'closed' = 'handshake'
  /** The peer is gone and the owner is asked why (see onWireEnd): nothing more is read. */
  private ending = false
  private readonly decoder: FrameDecoder
  private handshakeTimer: NodeJS.Timeout | null
  private readonly tables: Tables
  private readonly batch = new Batch()
  private flushQueued = false
  private closeCause: unknown = undefined
  private readonly heartbeat: Heartbeat
  private readonly closeWhenIdle: boolean
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

    this.tables = new Tables(this)
    this.inbox = this.tables.inbox
    this.outbox = this.tables.outbox

    this.decoder = new FrameDecoder(HANDSHAKE_MAX_FRAME, (bytes, start, end) => this.onFrame(bytes, start, end), this.spare)
    this.handshakeTimer = setTimeout(() => {
      this.fail(new ProtocolError(`${this.name}: no handshake from the peer within ${this.limits.handshakeTimeoutMs} ms`))
    }, this.limits.handshakeTimeoutMs)
    this.handshakeTimer.unref?.()
    watchExit(this)
    this.sendHello()
    wire.start(
      (chunk, end, owned) => this.onData(chunk, end, owned),
      (err) => this.onEnd(err),
    )
    // After start: a wire may hold the event loop once started (a MessagePort with a listener is
    // ref'ed by it); event-loop.ts unrefs it once, for good.
    if (this.state !== 'closed') registerWire(wire)
  }

  get isClosed(): boolean {
    return this.state === 'closed'
  }

  // ------------------------------------------------------------------ sending

  /**
   * Send a value into the channel that `route` leads to. Throws before anything moves if it can't.
   * `transferList` (transfer-list.ts): buffers to move rather than copy; they are taken only once
   * the message is known to be sendable, and their binaries' bytes go to the wire from the moved
   * buffers themselves.
   */
  sendValue(route: Route, value: unknown, target: Port, transferList?: readonly ArrayBuffer[]): void {
    const { payload, handles, frame, holes, bytes = payload.length } = encode(value, F.MSG_PREFIXED, this.spare, transferList)
    if (handles.length > this.peerMaxHandles) {
      throw new LimitExceededError(`message holds ${handles.length} handles; the peer accepts at most ${this.peerMaxHandles}`)
    }
    checkHandles(handles, target)
    const size = F.MSG_HEADER + handles.length * 10 + bytes
    if (size > this.peerMaxFrame) {
      throw new LimitExceededError(`message of ${bytes} bytes is over the peer's frame limit of ${this.peerMaxFrame} bytes`)
    }
    if (frame && handles.length === 0 && this.state !== 'closed') return this.sendFrame(route, frame)
    const moved = transferList ? moveBuffers(transferList) : null
    this.sendMsg(route, payload, handles.length ? commitHandles(handles) : NO_CAPS, holes?.length ? { holes, moved: moved!, bytes } : null)
  }

  /**
   * The buffer of the last large frame sent (or of a transferred binary sent by reference), held
   * weakly: once the wire gave it back (every byte reached the transport: wire/hand-over.ts), the
   * next large message is encoded into it, or the next large frame that arrives is gathered in it,
   * rather than a fresh buffer while this one waits for a GC. `need`: the size wanted (the buffer
   * is given only if it holds it without being more than twice as large).
   */
  private lastFrame: WeakRef<ArrayBufferLike> | null = null
  private readonly spare = (need?: number): Buffer | undefined => {
    const b = this.lastFrame?.deref()
    if (!b || (need !== undefined && (b.byteLength < need || b.byteLength > 2 * need)) || !takeGivenBack(b)) return undefined
    this.lastFrame = null
    return Buffer.from(b as ArrayBuffer)
  }

  /** A large message without handles, encoded with room for its header: the whole frame goes as it is. */
  private sendFrame(route: Route, frame: Buffer): void {
    F.writeMsgHeader(frame, 0, frame.length - FRAME_HEADER, route, 0)
    handOver(frame) // its buffer is the frame's alone: a wire may transfer it
    this.lastFrame = new WeakRef(frame.buffer)
    this.sentMsg(route, frame.length - F.MSG_PREFIXED, 0)
    this.batch.frame(frame)
    this.wrote()
    if (this.batch.due()) this.flushEarly()
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

  private sendMsg(route: Route, payload: Uint8Array, caps: Cap[], gaps: Gaps | null = null): void {
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
      for (const c of caps) descs.push(this.tables.describe(c, after))
    }
    const capsBytes = descs ? encodePlain(descs) : EMPTY
    const payloadLen = gaps ? gaps.bytes : payload.length
    const bodyLen = F.MSG_HEADER + capsBytes.length + payloadLen
    const small = !gaps && payload.length < BIG_PART
    const b = this.batch
    const at = b.reserve(F.MSG_PREFIXED + capsBytes.length + (small ? payload.length : 0))
    const slab = b.slab
    F.writeMsgHeader(slab, at, bodyLen, route, capsBytes.length)
    if (capsBytes.length) slab.set(capsBytes, at + F.MSG_PREFIXED)
    if (small) slab.set(payload, at + F.MSG_PREFIXED + capsBytes.length)
    else if (gaps) this.writeWithGaps(payload, gaps)
    else b.part(payload)
    this.sentMsg(route, payloadLen, caps.length)
    this.wrote()
    if (after) for (const f of after) f()
    // A long batch goes out now, once this message is wholly sent, so that the peer can start on it
    // while we go on (overlap); the rest waits for the end of the tick (batch.ts says when).
    if (b.due()) this.flushEarly()
  }

  /**
   * A payload whose transferred binaries were left out (codec `Encoded.holes`): its pieces are
   * copied into the batch and each binary goes between them from its moved buffer, by reference
   * when large (handed over when it is the only binary of its buffer, so a MessagePort transfers
   * it: no copy at all).
   */
  private writeWithGaps(payload: Uint8Array, { holes, moved }: Gaps): void {
    const b = this.batch
    const uses = new Map<ArrayBufferLike, number>()
    for (const { place } of holes) uses.set(place.buffer, (uses.get(place.buffer) ?? 0) + 1)
    let from = 0
    for (const { at, place } of holes) {
      b.copy(payload.subarray(from, at))
      from = at
      const buffer = moved.get(place.buffer) ?? place.buffer
      const bytes = new Uint8Array(buffer, place.offset, place.length)
      if (bytes.length < BIG_PART) {
        b.copy(bytes)
        continue
      }
      if (uses.get(place.buffer) === 1 && buffer !== place.buffer) {
        handOver(bytes)
        this.lastFrame = new WeakRef(buffer)
      }
      b.part(bytes)
    }
    b.copy(payload.subarray(from))
  }

  /** Count a MSG going out, and tell whoever listens (trace.ts). */
  private sentMsg(route: Route, bytes: number, handles: number): void {
    this.messagesSent++
    if (DEBUG) debug(`${this.name}: sent MSG to ${targetName(route.kind, route.id)} (${bytes} bytes${handles ? `, ${plural(handles, 'handle')}` : ''})`)
    if (messageSent.hasSubscribers) messageSent.publish({ link: this, name: this.name, targetKind: route.kind, target: route.id, bytes, handles })
  }

  /** Our last user of a route is gone. `lostReason`: the users went down with another link. */
  releaseRoute(route: Route, lostReason?: string): void {
    const told = this.tables.forget(route, lostReason)
    if (!told) return
    if (this.state !== 'closed') this.control(told[0], told[1])
    this.closeIfIdle()
  }

  sendDisembargo(route: Route, token: number): void {
    if (this.state !== 'closed') this.control(F.DISEMBARGO, [route.kind, route.id, token])
  }

  embargoDone(port: Port): void {
    this.tables.embargoDone(port)
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
    if (DEBUG) debug(`${this.name}: sent ${kindName(kind)} (${body.length} bytes)`)
    this.wrote()
  }

  /** A frame was queued: make sure it is written at the end of this tick. */
  private wrote(): void {
    this.heartbeat.said()
    if (!this.flushQueued) {
      this.flushQueued = true
      process.nextTick(this.endOfTick)
    }
  }

  private readonly endOfTick = (): void => {
    this.batch.tickEnded()
    this.flush()
  }

  private flushEarly(): void {
    this.flush()
    this.batch.wroteEarly()
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

  /** Hand what is queued to the wire now (a message the peer waits for: a stream's credit). */
  flushNow(): void {
    if (this.batch.bytes && this.state !== 'closed') this.flush()
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

  private onData(chunk: Uint8Array, end?: number, owned?: boolean): void {
    if (this.state === 'closed' || this.ending) return
    this.heartbeat.heard()
    newChunk()
    try {
      this.decoder.push(chunk, end, owned)
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
    this.framesReceived++
    this.bytesReceived += FRAME_HEADER + end - start
    if (DEBUG && kind !== F.MSG) debug(`${this.name}: received ${kindName(kind!)} (${end - start - 1} bytes)`)
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
        this.tables.release(id!, count!, lost)
        return this.closeIfIdle()
      }
      case F.DROPPED: {
        const { kind, id, reason } = F.readDropped(frame)
        return this.tables.dropped(kind, id, reason)
      }
      case F.FINISH: {
        const {
          ids: [id],
          reason: lost,
        } = F.readIdsAndReason(frame, 1, 'FINISH')
        this.tables.finish(id!, lost)
        return this.closeIfIdle()
      }
      case F.DISEMBARGO: {
        const [kind, id, token] = F.readInts(frame, 3, 'DISEMBARGO')
        return this.tables.disembargo(kind!, id!, token!)
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
    const limits = { maxFrameBytes: this.peerMaxFrame, maxHandlesPerMessage: this.peerMaxHandles, heartbeatMs: peer.heartbeatMs ?? null }
    if (DEBUG) debug(`${this.name}: open; the peer accepts frames of up to ${limits.maxFrameBytes} bytes and ${limits.maxHandlesPerMessage} handles a message${limits.heartbeatMs ? `, and asks for a heartbeat every ${limits.heartbeatMs} ms` : ''}`)
    if (linkOpen.hasSubscribers) linkOpen.publish({ link: this, name: this.name, peerLimits: limits })
    this.resolveReady()
  }

  private onMsg(bytes: Buffer, start: number, end: number): void {
    if (end - start < F.MSG_HEADER) throw new ProtocolError(`${this.name}: truncated MSG frame`)
    const targetKind = bytes[start + 1]
    const target = bytes.readUInt32BE(start + 2)
    const capsLen = bytes.readUInt32BE(start + 6)
    const capsStart = start + F.MSG_HEADER
    if (capsLen > end - capsStart) throw new ProtocolError(`${this.name}: MSG caps run past the frame`)
    const port = this.tables.target(targetKind!, target)
    const caps = capsLen ? this.tables.materialize(decodePlain(bytes, capsStart, capsStart + capsLen)) : NO_CAPS
    this.messagesReceived++
    if (DEBUG) debug(`${this.name}: received MSG for ${targetName(targetKind!, target)} (${end - capsStart - capsLen} bytes${caps.length ? `, ${plural(caps.length, 'handle')}` : ''})`)
    if (messageReceived.hasSubscribers) {
      messageReceived.publish({ link: this, name: this.name, targetKind, target, bytes: end - capsStart - capsLen, handles: caps.length })
    }
    port.accept(bytes, capsStart + capsLen, end, caps, this.decodeHere)
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
    this.tables.clear(cause, describeCause(cause), orderly)
    if (DEBUG) debug(`${this.name}: closed ${orderly ? 'in order' : 'by a failure'}: ${describeCause(cause)}`)
    if (linkClose.hasSubscribers) linkClose.publish({ link: this, name: this.name, cause, orderly })
    this.resolveClosed(cause)
  }

  /** closeWhenIdle: close in order once every channel that crossed is gone again (the bootstrap ones aside). */
  private closeIfIdle(): void {
    if (!this.closeWhenIdle || !this.idle()) return
    // Checked again once the current step is done (a release may be part of a move still under way).
    process.nextTick(() => this.idle() && this.close('nothing crosses this link any more'))
  }

  private idle(): boolean {
    return this.state === 'open' && this.tables.idle
  }

  /** Sizes of the link's tables (the bootstrap channel's entries included), for tests and diagnostics. */
  get stats(): { exports: number; imports: number; inbound: number; outbound: number; embargoed: number } {
    return this.tables.sizes
  }

  private framesReceived = 0
  private bytesReceived = 0
  private messagesSent = 0
  private messagesReceived = 0

  /** What has crossed the link so far, and what waits (frames still in the batch count once written). */
  get traffic(): LinkTraffic {
    const t = this.tables.sizes
    return {
      framesSent: this.batch.framesWritten,
      framesReceived: this.framesReceived,
      bytesSent: this.batch.bytesWritten,
      bytesReceived: this.bytesReceived,
      messagesSent: this.messagesSent,
      messagesReceived: this.messagesReceived,
      queuedBytes: this.queuedBytes,
      unsentBytes: this.unsentBytes,
      channels: t.inbound + t.outbound + t.exports + t.imports - 2,
    }
  }

  /** Why the link closed (undefined while open). */
  get cause(): unknown {
    return this.closeCause
  }
}
