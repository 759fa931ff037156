/**
 * What a link tells tools about itself, and costs nothing when nobody listens:
 * - `NODE_DEBUG=ipfi` (util.debuglog): links opened and closed with why, the peer's limits, every
 *   frame in and out summarised (kind, target, bytes, handles: never payload contents), handles
 *   moved, calls started and settled;
 * - diagnostics_channel `ipfi:link:open`, `ipfi:link:close`, `ipfi:message:sent` and
 *   `ipfi:message:received` (with sizes), for APMs and tracers; calls are the TracingChannel
 *   `ipfi:call` (procedures/trace.ts).
 */
import * as dc from 'node:diagnostics_channel'
import { debuglog } from 'node:util'
import * as F from './frames.js'

const log = debuglog('ipfi')
/** Whether `NODE_DEBUG` names ipfi (read once: Node reads NODE_DEBUG at start-up). */
export const DEBUG: boolean = log.enabled
/** A debug line (only when DEBUG: callers test it first, so the line is not even formatted otherwise). */
export const debug = (line: string): void => log('%s', line)

export const linkOpen = dc.channel('ipfi:link:open')
export const linkClose = dc.channel('ipfi:link:close')
export const messageSent = dc.channel('ipfi:message:sent')
export const messageReceived = dc.channel('ipfi:message:received')

/** What a link has carried (`link.traffic`). Frames and bytes count whole frames, headers included. */
export interface LinkTraffic {
  framesSent: number
  framesReceived: number
  bytesSent: number
  bytesReceived: number
  /** MSG frames: messages into channels, forwarded ones included. */
  messagesSent: number
  messagesReceived: number
  /** Bytes from the peer waiting unread in this process (bounded by maxQueuedBytes). */
  queuedBytes: number
  /** Bytes sent that have not reached the transport yet (bounded by maxUnsentBytes). */
  unsentBytes: number
  /** Channel ends that cross the link, the bootstrap pair aside. */
  channels: number
}

/**
 * Published on `ipfi:link:open` (`{ link, name, peerLimits }`, once the handshake is done) and
 * `ipfi:link:close` (`{ link, name, cause, orderly }`).
 */
export interface LinkTraceEvent {
  link: unknown
  name: string
  /** open only: what the peer announced. */
  peerLimits?: { maxFrameBytes: number; maxHandlesPerMessage: number; heartbeatMs: number | null }
  /** close only: why, and whether the end was orderly. */
  cause?: unknown
  orderly?: boolean
}

/** Published on `ipfi:message:sent` and `ipfi:message:received`: one MSG frame. */
export interface MessageTraceEvent {
  link: unknown
  name: string
  /** 0: the peer's (or our) export; 1: inbound. */
  targetKind: number
  target: number
  /** Payload bytes, and handles carried. */
  bytes: number
  handles: number
}

const KINDS: Record<number, string> = {
  [F.HELLO]: 'HELLO',
  [F.MSG]: 'MSG',
  [F.RELEASE]: 'RELEASE',
  [F.DROPPED]: 'DROPPED',
  [F.FINISH]: 'FINISH',
  [F.GOODBYE]: 'GOODBYE',
  [F.DISEMBARGO]: 'DISEMBARGO',
  [F.PING]: 'PING',
}
export const kindName = (kind: number): string => KINDS[kind] ?? `kind ${kind}`
export const targetName = (kind: number, id: number): string => `${kind === F.TARGET_INBOUND ? 'inbound' : 'export'} ${id}`
export const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`
