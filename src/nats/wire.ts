/**
 * A Wire over NATS (docs/PROTOCOL.md Appendix C). NATS core delivers each message at most once, in
 * order per publisher, and drops what a slow consumer cannot take; a link needs a reliable ordered
 * byte stream. So each side numbers what it sends, and:
 *
 * - the receiver delivers DATA only in sequence order: a number already seen is a duplicate and is
 *   dropped (nothing is delivered twice), a number ahead of the next one is a gap: it asks for a
 *   RESEND from the missing one and drops what comes ahead of it (nothing out of order);
 * - the sender keeps every packet until the peer acknowledges it, so a gap can be filled; a packet
 *   it no longer has fails the link on both sides, with ConnectionLostError naming it;
 * - credits: the receiver acknowledges what it has delivered, and the sender never has more than
 *   the receiver's window unacknowledged, so a receiver that does not keep up stops its sender
 *   (what waits is `bufferedBytes()` here, where maxUnsentBytes sees it) instead of becoming a
 *   slow consumer that the server cuts off; the same window bounds what is kept for resending;
 * - a sender that hears no acknowledgement POLLs (a tail lost, or an acknowledgement), and gives
 *   up after `giveUpMs` of silence from the peer;
 * - when the NATS client reconnects (a broker restart, another server of the cluster), the side
 *   that reconnected asks for a RESEND of what it may have missed and POLLs for what the peer may
 *   have missed: the link resumes with nothing lost, or fails.
 *
 * The byte stream is cut into packets of at most the server's max_payload (and a quarter of the
 * peer's window); the link's own framing joins them again, so no frame size depends on NATS.
 */
import { ConnectionLostError, ProtocolError } from '../errors.js'
import type { Wire } from '../wire/wire.js'
import type { ConnectionWatcher, SharedConnection, Subscription } from './client.js'
import { ACK, DATA, DATA_HEADER, FIN, POLL, RESEND, RST, SHORT_PACKET, dataPacket, readU64, rstPacket, shortPacket } from './packets.js'

export const DEFAULT_WINDOW = 1024 * 1024
const DEFAULT_POLL_MS = 500
const DEFAULT_GIVE_UP_MS = 30_000
/** After the peer acknowledged our FIN: how long we still answer (a repeated FIN, a POLL). */
const LINGER_MS = 1000

export interface NatsWireOptions {
  /** For error messages. */
  name: string
  /** Bytes of DATA the peer may have unacknowledged towards us (we announced it). */
  window: number
  /** Bytes of DATA we may have unacknowledged towards the peer (it announced it). */
  peerWindow: number
  /** No acknowledgement for this long: POLL; a gap not filled for this long: RESEND again. */
  pollMs?: number
  /** Nothing from the peer for this long while it owes us an answer: the link is lost. */
  giveUpMs?: number
  /** @internal Tests: the fate of each DATA packet sent for the first time. */
  faults?: NatsFaults
}

/** @internal What tests make NATS do to a DATA packet: drop it in transit ('lose'), or also drop it from the resend buffer ('forget'). */
export interface NatsFaults {
  data?(seq: number): 'lose' | 'forget' | undefined
}

interface Sent {
  seq: number
  packet: Buffer
  size: number
}

type Early = { seq: number; bytes: Uint8Array | null } | { seq: -1; error: unknown }

export class NatsWire implements Wire, ConnectionWatcher {
  readonly name: string
  readonly #conn: SharedConnection
  readonly #out: string
  readonly #window: number
  #peerWindow: number
  readonly #pollMs: number
  readonly #giveUpMs: number
  readonly #faults: NatsFaults | undefined
  readonly #sub: Subscription
  readonly #unwatch: () => void

  // sending
  #nextSeq = 1
  #acked = 0
  readonly #unacked: Sent[] = []
  #unackedHead = 0
  #inflight = 0
  #queue: Uint8Array[] = []
  #queueHead = 0
  #queueOffset = 0
  #queued = 0
  #pumpScheduled = false
  #closing = false
  #finSeq = 0
  #lastProgress = Date.now()
  #pollTimer: NodeJS.Timeout | null = null
  #drainWaiters: (() => void)[] = []

  // receiving
  #received = 0
  #consumed = 0
  #ackSent = 0
  #unackedIn = 0
  #forceAck = false
  #ackScheduled = false
  #lastHeard = Date.now()
  #gap: { expected: number; seen: number; since: number } | null = null
  #gapTimer: NodeJS.Timeout | null = null
  #resume: { since: number; server: string } | null = null
  #resumeTimer: NodeJS.Timeout | null = null

  // delivering
  #onData: ((chunk: Uint8Array) => void) | null = null
  #onEnd: ((error?: unknown) => void) | null = null
  #live = false
  #early: Early[] = []
  #ended = false
  #released = false
  #lingerTimer: NodeJS.Timeout | null = null
  #held = false
  /** The peer's FIN was taken: it sends nothing more. */
  #peerFin = false

  /**
   * A wire that reads `inbound` and publishes to `outbound` on `conn`, whose reference it takes over
   * (and releases once it is done). It subscribes at once: the peer may send before `start`.
   */
  constructor(conn: SharedConnection, inbound: string, outbound: string, options: NatsWireOptions) {
    this.name = options.name
    this.#conn = conn
    this.#out = outbound
    this.#window = options.window
    this.#peerWindow = options.peerWindow
    this.#pollMs = options.pollMs ?? DEFAULT_POLL_MS
    this.#giveUpMs = options.giveUpMs ?? DEFAULT_GIVE_UP_MS
    this.#faults = options.faults
    this.#sub = conn.subscribe(inbound, (data) => this.#onPacket(data))
    this.#unwatch = conn.watch(this)
  }

  // ------------------------------------------------------------------ the Wire

  write(bytes: Uint8Array): void {
    if (this.#closing || this.#ended || bytes.length === 0) return
    this.#queue.push(bytes)
    this.#queued += bytes.length
    this.#schedulePump()
  }

  writev(chunks: Uint8Array[]): void {
    for (const c of chunks) this.write(c)
  }

  start(onData: (chunk: Uint8Array, end?: number) => void, onEnd: (error?: unknown) => void): void {
    if (this.#onData) throw new Error('wire already started')
    this.#onData = onData
    this.#onEnd = onEnd
    queueMicrotask(() => {
      // What arrived before start, in order; what arrives meanwhile joins the end of the queue.
      while (this.#early.length > 0) {
        const e = this.#early.shift()!
        if (e.seq === -1) return this.#deliverEnd((e as { error: unknown }).error)
        this.#consume(e as { seq: number; bytes: Uint8Array | null })
      }
      this.#live = this.#onEnd !== null
    })
  }

  close(): void {
    if (this.#closing || this.#released) return
    this.#closing = true
    this.#schedulePump() // FIN goes after what is queued
    this.#end(undefined)
  }

  destroy(): void {
    if (this.#released) return
    this.#closing = true
    this.#publish(rstPacket('the peer closed the link at once'))
    this.#end(undefined)
    this.#release()
  }

  bufferedBytes(): number {
    return this.#queued
  }

  whenDrained(f: () => void): void {
    if (this.#queued === 0 || this.#released) f()
    else this.#drainWaiters.push(f)
  }

  /** Keep the process alive while someone waits on this link (src/link/event-loop.ts), as a socket does. */
  ref(): void {
    // Once ended, what is left (our FIN, its acknowledgement) is best effort, as a socket's FIN
    // after the process exits: it holds nothing.
    if (this.#held || this.#released || this.#ended) return
    this.#held = true
    this.#conn.hold(true)
  }

  unref(): void {
    if (!this.#held) return
    this.#held = false
    this.#conn.hold(false)
  }

  /** @internal The rendezvous: the peer's window, once its answer arrived. */
  setPeerWindow(n: number): void {
    this.#peerWindow = n
  }

  // ------------------------------------------------------------------ the connection's events

  reconnected(server: string): void {
    if (this.#released) return
    this.#resume = { since: Date.now(), server }
    this.#askResume()
  }

  lost(cause: ConnectionLostError): void {
    this.#fail(new ConnectionLostError(`${this.name}: ${cause.message}`, { cause }), false)
  }

  // ------------------------------------------------------------------ sending

  #schedulePump(): void {
    if (this.#pumpScheduled) return
    this.#pumpScheduled = true
    queueMicrotask(() => {
      this.#pumpScheduled = false
      this.#pump()
    })
  }

  /** Send what is queued as far as the peer's window allows, then FIN if closing. */
  #pump(): void {
    if (this.#released) return
    const most = Math.max(1, Math.min(this.#conn.maxPayload() - DATA_HEADER, Math.floor(this.#peerWindow / 4)))
    while (this.#queued > 0) {
      const size = Math.min(this.#queued, most)
      if (this.#inflight + size > this.#peerWindow) break // wait for credit
      const packet = dataPacket(DATA, this.#nextSeq, this.#consumed, size)
      for (let at = DATA_HEADER; at < packet.length; ) {
        const c = this.#queue[this.#queueHead]!
        const n = Math.min(c.length - this.#queueOffset, packet.length - at)
        packet.set(n === c.length ? c : c.subarray(this.#queueOffset, this.#queueOffset + n), at)
        at += n
        this.#queueOffset += n
        if (this.#queueOffset === c.length) {
          this.#queue[this.#queueHead++] = undefined as unknown as Uint8Array
          this.#queueOffset = 0
        }
      }
      this.#queued -= size
      this.#send(packet, size)
    }
    if (this.#queueHead > 64 && this.#queueHead * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#queueHead)
      this.#queueHead = 0
    }
    if (this.#queued === 0) {
      if (this.#closing && this.#finSeq === 0) {
        this.#finSeq = this.#nextSeq
        this.#send(dataPacket(FIN, this.#nextSeq, this.#consumed, 0), 0)
      }
      const ws = this.#drainWaiters
      this.#drainWaiters = []
      for (const f of ws) f()
    }
  }

  #send(packet: Buffer, size: number): void {
    const seq = this.#nextSeq++
    this.#unacked.push({ seq, packet, size })
    this.#inflight += size
    this.#ackSent = this.#consumed // the packet carries our acknowledgement
    this.#unackedIn = 0
    const fate = this.#faults?.data?.(seq)
    if (fate === 'forget') {
      this.#unacked.pop()
      this.#inflight -= size
    } else if (fate !== 'lose') this.#publish(packet)
    this.#armPoll()
  }

  #publish(packet: Uint8Array): void {
    if (this.#conn.isClosed) return
    try {
      this.#conn.publish(this.#out, packet)
    } catch {
      // Not sent (the client's reconnect buffer is full): as if NATS had dropped it, which the
      // sequence numbers recover from, or the connection closed, which `lost` reports.
    }
  }

  #onAck(n: number): void {
    if (n <= this.#acked) return
    if (n >= this.#nextSeq) return this.#violation(`the peer acknowledged message ${n}, which was never sent (last sent: ${this.#nextSeq - 1})`)
    const u = this.#unacked
    while (this.#unackedHead < u.length && u[this.#unackedHead]!.seq <= n) {
      this.#inflight -= u[this.#unackedHead]!.size
      u[this.#unackedHead++] = undefined as unknown as Sent
    }
    if (this.#unackedHead > 64 && this.#unackedHead * 2 > u.length) {
      u.splice(0, this.#unackedHead)
      this.#unackedHead = 0
    }
    this.#acked = n
    this.#lastProgress = Date.now()
    if (this.#finSeq !== 0 && n >= this.#finSeq) return this.#linger()
    if (this.#queued > 0) this.#pump()
  }

  #onResend(from: number): void {
    if (from < 1 || from > this.#nextSeq) return this.#violation(`the peer asked for message ${from} again, which was never sent (last sent: ${this.#nextSeq - 1})`)
    // Nothing missed: say what we sent, so that a receiver that saw a number beyond it (forged) knows.
    if (from === this.#nextSeq) return this.#publish(shortPacket(POLL, this.#nextSeq - 1))
    const u = this.#unacked
    let i = this.#unackedHead
    while (i < u.length && u[i]!.seq < from) i++
    if (from <= this.#acked || i === u.length || u[i]!.seq !== from) {
      const why = `message ${from} cannot be sent again: it is no longer kept for resending`
      this.#publish(rstPacket(why))
      return this.#fail(new ConnectionLostError(`${this.name}: the peer is missing message ${from}, and ${why}`), false)
    }
    for (; i < u.length; i++) this.#publish(u[i]!.packet)
  }

  #armPoll(): void {
    if (this.#pollTimer || this.#released) return
    this.#pollTimer = setTimeout(() => this.#onPollTimer(), this.#pollMs)
    this.#pollTimer.unref()
  }

  #onPollTimer(): void {
    this.#pollTimer = null
    if (this.#released || this.#unackedHead === this.#unacked.length) return
    const now = Date.now()
    if (now - this.#lastProgress >= this.#pollMs) {
      // Both FINs sent, ours not acknowledged: the peer had ended before it sent its FIN, so it takes
      // nothing more from us (what still arrives there is only acknowledged), and its process may
      // have exited at once. Answer a moment longer, then let go rather than wait out giveUpMs.
      if (this.#peerFin && this.#finSeq !== 0 && now - this.#lastProgress >= LINGER_MS) return this.#release()
      if (now - this.#lastHeard > this.#giveUpMs) {
        return this.#fail(
          new ConnectionLostError(
            `${this.name}: no answer from the peer over NATS for ${now - this.#lastHeard} ms (messages ${this.#acked + 1} to ${this.#nextSeq - 1} unacknowledged)`,
          ),
        )
      }
      this.#publish(shortPacket(POLL, this.#nextSeq - 1))
    }
    this.#armPoll()
  }

  // ------------------------------------------------------------------ receiving

  #onPacket(data: Uint8Array): void {
    if (this.#released) return
    this.#lastHeard = Date.now()
    if (this.#resume) this.#resumed()
    const kind = data[0]
    if (kind === DATA || kind === FIN) {
      if (data.length < DATA_HEADER || (kind === FIN && data.length !== DATA_HEADER)) return this.#violation(`a malformed ${kind === DATA ? 'DATA' : 'FIN'} packet (${data.length} bytes)`)
      const seq = readU64(data, 1)
      const ack = readU64(data, 9)
      if (seq < 1 || ack < 0) return this.#violation('a sequence number out of range')
      if (data.length - DATA_HEADER > this.#window) return this.#violation(`a DATA packet of ${data.length - DATA_HEADER} bytes, more than the window of ${this.#window}`)
      this.#onAck(ack)
      if (this.#released) return
      if (seq <= this.#received) {
        this.#forceAck = true // it was sent again: the acknowledgement may have been lost
        return this.#scheduleAck()
      }
      if (seq > this.#received + 1) return this.#onGap(seq)
      this.#received = seq
      if (this.#gap) this.#gapFilled()
      const entry = { seq, bytes: kind === FIN ? null : data.subarray(DATA_HEADER) }
      // Once ended, what still comes is only acknowledged (the peer may not have seen our FIN yet).
      if (this.#live || this.#ended) this.#consume(entry)
      else this.#early.push(entry)
      return
    }
    if (kind === RST) {
      const reason = Buffer.from(data.buffer, data.byteOffset + 1, data.length - 1).toString('utf8')
      const g = this.#gap
      const message = g
        ? `message ${g.expected} is missing (message ${g.seen} arrived after it), and the peer cannot send it again: ${reason}`
        : `the peer reset the link: ${reason}`
      return this.#fail(new ConnectionLostError(`${this.name}: ${message}`), false)
    }
    if (data.length !== SHORT_PACKET || (kind !== ACK && kind !== RESEND && kind !== POLL)) {
      return this.#violation(`an unknown packet (${kind === undefined ? 'no kind' : `kind ${kind}`}, ${data.length} bytes)`)
    }
    const n = readU64(data, 1)
    if (n < 0) return this.#violation('a sequence number out of range')
    if (kind === ACK) this.#onAck(n)
    else if (kind === RESEND) this.#onResend(n)
    else {
      // POLL: the peer sent up to n. It was published after every DATA it counts, so nothing we
      // took or saw can be beyond n: a number that was is forged (or a broken peer).
      const seen = Math.max(this.#received, this.#gap?.seen ?? 0)
      if (n < seen) return this.#violation(`message ${seen} arrived, but the peer says it sent only up to ${n}`)
      if (n > this.#received) this.#onGap(n)
      else this.#sendAck(true)
    }
  }

  /** A packet in order: to the reader (or, once it ended, only acknowledged). */
  #consume(e: { seq: number; bytes: Uint8Array | null }): void {
    this.#consumed = Math.max(this.#consumed, e.seq)
    if (e.bytes === null) {
      // FIN: the peer sends nothing more; we answer with our own FIN once what we sent is through.
      this.#peerFin = true
      this.#sendAck(true)
      this.#queue = []
      this.#queueHead = this.#queueOffset = this.#queued = 0
      this.#closing = true
      this.#end(undefined)
      this.#schedulePump()
      return
    }
    this.#unackedIn += e.bytes.length
    if (!this.#ended) this.#onData!(e.bytes)
    if (this.#unackedIn >= this.#window / 4) this.#sendAck(false)
    else this.#scheduleAck()
  }

  #scheduleAck(): void {
    if (this.#ackScheduled) return
    this.#ackScheduled = true
    // After this turn's messages (and the link's replies, which carry the acknowledgement).
    setImmediate(() => {
      this.#ackScheduled = false
      if (this.#consumed > this.#ackSent || this.#forceAck) this.#sendAck(true)
    })
  }

  #sendAck(force: boolean): void {
    if (this.#released || (!force && this.#consumed === this.#ackSent)) return
    this.#ackSent = this.#consumed
    this.#unackedIn = 0
    this.#forceAck = false
    this.#publish(shortPacket(ACK, this.#consumed))
  }

  #onGap(seen: number): void {
    if (this.#gap) return
    this.#gap = { expected: this.#received + 1, seen, since: Date.now() }
    this.#publish(shortPacket(RESEND, this.#received + 1))
    this.#armGap()
  }

  #armGap(): void {
    this.#gapTimer = setTimeout(() => {
      this.#gapTimer = null
      const g = this.#gap
      if (!g || this.#released) return
      if (Date.now() - g.since > this.#giveUpMs) {
        return this.#fail(
          new ConnectionLostError(
            `${this.name}: message ${g.expected} never arrived (message ${g.seen} did), and the peer did not send it again within ${this.#giveUpMs} ms`,
          ),
        )
      }
      this.#publish(shortPacket(RESEND, this.#received + 1))
      this.#armGap()
    }, this.#pollMs)
    this.#gapTimer.unref()
  }

  #gapFilled(): void {
    this.#gap = null
    if (this.#gapTimer) clearTimeout(this.#gapTimer)
    this.#gapTimer = null
  }

  /** After a reconnect: what did each side miss? Asked again until the peer answers. */
  #askResume(): void {
    if (this.#resumeTimer) clearTimeout(this.#resumeTimer)
    this.#publish(shortPacket(RESEND, this.#received + 1))
    if (this.#unackedHead < this.#unacked.length) this.#publish(shortPacket(POLL, this.#nextSeq - 1))
    this.#resumeTimer = setTimeout(() => {
      this.#resumeTimer = null
      const r = this.#resume
      if (!r || this.#released) return
      if (Date.now() - r.since > this.#giveUpMs) {
        return this.#fail(new ConnectionLostError(`${this.name}: after the NATS client reconnected (to ${r.server}), the peer did not answer within ${this.#giveUpMs} ms`))
      }
      this.#askResume()
    }, this.#pollMs)
    this.#resumeTimer.unref()
  }

  #resumed(): void {
    this.#resume = null
    if (this.#resumeTimer) clearTimeout(this.#resumeTimer)
    this.#resumeTimer = null
  }

  // ------------------------------------------------------------------ ending

  #violation(what: string): void {
    this.#publish(rstPacket(`protocol error: ${what}`))
    this.#fail(new ProtocolError(`${this.name}: the peer broke the NATS link protocol: ${what}`), false)
  }

  /** The link is lost: tell the peer (unless it told us), end, let go of everything. */
  #fail(error: unknown, tellPeer = true): void {
    if (this.#released) return
    if (tellPeer) this.#publish(rstPacket((error as Error).message))
    this.#end(error)
    this.#release()
  }

  /** onEnd, once; nothing is delivered after it. */
  #end(error: unknown): void {
    if (this.#ended) return
    this.#ended = true
    this.unref()
    if (this.#live) this.#deliverEnd(error)
    else this.#early.push({ seq: -1, error })
  }

  #deliverEnd(error: unknown): void {
    this.#live = false
    const f = this.#onEnd
    this.#onEnd = null
    f?.(error)
  }

  /** Our FIN is acknowledged: answer for a moment more, then let go. */
  #linger(): void {
    if (this.#lingerTimer || this.#released) return
    this.#lingerTimer = setTimeout(() => this.#release(), LINGER_MS)
    this.#lingerTimer.unref()
  }

  #release(): void {
    if (this.#released) return
    this.#released = true
    this.unref()
    for (const t of [this.#pollTimer, this.#gapTimer, this.#resumeTimer, this.#lingerTimer]) if (t) clearTimeout(t)
    this.#sub.unsubscribe()
    this.#unwatch()
    this.#conn.release()
    this.#queue = []
    this.#queued = 0
    const ws = this.#drainWaiters
    this.#drainWaiters = []
    for (const f of ws) f()
  }
}
