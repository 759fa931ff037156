/**
 * Calls as tools see them: the diagnostics_channel TracingChannel `ipfi:call`, and a debug line
 * per call under `NODE_DEBUG=ipfi`. Nothing is built for a call when nobody listens.
 *
 * A call publishes `start` and `end` when it is made (`end`: the call is sent, its promise returned),
 * then `asyncStart` and `asyncEnd` when nothing more will come for it (answered, its stream ended,
 * cancelled, timed out, or its link lost), with `error` before them if it failed. The context
 * object is the same through all five, as TracingChannel subscribers expect.
 */
import * as dc from 'node:diagnostics_channel'
import { DEBUG, debug } from '../link/trace.js'

/** The context of one call, published on every event of `ipfi:call`. */
export interface CallTraceContext {
  /** The procedure's name (null for a callback, a function passed as an argument). */
  procedure: string | null
  /** The call's id within its session. */
  callId: number
  /** `performance.now()` when the call was made. */
  startedAt: number
  /** Set at asyncStart: how long the call was in flight. */
  durationMs?: number
  /** Set at asyncStart for a call that succeeded: its result (for a stream, the stream object). */
  result?: unknown
  /** Set at error and asyncStart for a call that failed. */
  error?: unknown
}

const calls = dc.tracingChannel<object, CallTraceContext>('ipfi:call')
/** Whether any subscriber listens (TracingChannel.hasSubscribers is newer than Node 20.0). */
const channels = calls as dc.TracingChannel<object, CallTraceContext>
const listened: () => boolean =
  typeof (calls as { hasSubscribers?: unknown }).hasSubscribers === 'boolean'
    ? () => calls.hasSubscribers
    : () => channels.start.hasSubscribers || channels.end.hasSubscribers || channels.asyncStart.hasSubscribers || channels.asyncEnd.hasSubscribers || channels.error.hasSubscribers

const label = (procedure: string | null): string => (procedure === null ? 'a callback' : JSON.stringify(procedure))

/** A call was made and sent: its context if anybody listens, else null (and nothing else is done). */
export function callStarted(procedure: string | null, callId: number): CallTraceContext | null {
  if (!DEBUG && !listened()) return null
  const ctx: CallTraceContext = { procedure, callId, startedAt: performance.now() }
  if (DEBUG) debug(`call ${callId} to ${label(procedure)} started`)
  calls.start.publish(ctx)
  calls.end.publish(ctx)
  return ctx
}

/** Nothing more will come for the call: it succeeded with `result`, or failed with `error`. */
export function callSettled(ctx: CallTraceContext, ok: boolean, outcome: unknown): void {
  ctx.durationMs = performance.now() - ctx.startedAt
  if (ok) ctx.result = outcome
  else {
    ctx.error = outcome
    calls.error.publish(ctx)
  }
  if (DEBUG) {
    const how = ok ? 'succeeded' : `failed: ${outcome instanceof Error ? `${outcome.name}: ${outcome.message}` : String(outcome)}`
    debug(`call ${ctx.callId} to ${label(ctx.procedure)} ${how} after ${ctx.durationMs.toFixed(3)} ms`)
  }
  calls.asyncStart.publish(ctx)
  calls.asyncEnd.publish(ctx)
}
