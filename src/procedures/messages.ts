/**
 * The shapes procedures put on channels (docs/PROTOCOL.md, "Procedures", is the normative text).
 * The two sides of a call are the caller and the callee: the side that exposed the procedures
 * (with `expose()`, or by lending a function).
 *
 * An endpoint is a Sender<SessionOpen>. A caller opens a session by sending it a call channel's
 * receiver and a reply channel's sender; then each call is one message on the call channel and its
 * answer comes back on the reply channel. Every message is a short array whose first element says
 * what it is.
 */
import type { Receiver, Sender } from '../channel/index.js'
import { HANDLE } from '../codec/walk.js'

export interface SessionOpen {
  calls: Receiver<CallerMessage>
  reply: Sender<CalleeMessage>
}

// Caller -> callee, on the call channel.
/** `[CALL, id, name, args, window, streams]`: name is null for a callback; streams lists the argument positions that are streams. */
export const CALL = 0
/** `[CANCEL, id]`: the caller gave up (abort, timeout, or it stopped reading a stream). */
export const CANCEL = 1
/** `[CREDIT, id, n]`: the caller consumed n more items of the result stream. */
export const CREDIT = 2
/** `[ITEM, id, arg, value]`: one item of a streamed argument, answering a PULL. */
export const ITEM = 3
/** `[END, id, arg]`: the streamed argument is finished. */
export const END = 4
/** `[FAIL, id, arg, error]`: the streamed argument threw. */
export const FAIL = 5

// Callee -> caller, on the reply channel.
/** `[RESULT, id, value]` */
export const RESULT = 0
/** `[ERROR, id, thrown]`: what the procedure threw (an Error, or any value). */
export const ERROR = 1
/** `[YIELD, id, value]`: one item of a result stream. */
export const YIELD = 2
/** `[DONE, id]`: the result stream is finished. */
export const DONE = 3
/** `[PULL, id, arg, n]`: send n more items of a streamed argument. */
export const PULL = 4
/** `[STOP, id, arg]`: the procedure stopped reading a streamed argument. */
export const STOP = 5
/** `[CLOSE, error]`: the callee ends this session (the caller broke the protocol). */
export const CLOSE = 6

export type CallerMessage =
  | [typeof CALL, number, string | null, unknown[], number, number[]]
  | [typeof CANCEL, number]
  | [typeof CREDIT, number, number]
  | [typeof ITEM, number, number, unknown]
  | [typeof END, number, number]
  | [typeof FAIL, number, number, unknown]

export type CalleeMessage =
  | [typeof RESULT, number, unknown]
  | [typeof ERROR, number, unknown]
  | [typeof YIELD, number, unknown]
  | [typeof DONE, number]
  | [typeof PULL, number, number, number]
  | [typeof STOP, number, number]
  | [typeof CLOSE, unknown]

/** Most items a caller may let a producer run ahead by. */
export const MAX_WINDOW = 1 << 20
/**
 * Default window for result and argument streams. Credit goes back once half of it was taken, so
 * the other half is what the producer has to go on while that credit travels: it must cover a
 * turnaround (a write, the peer waking, its write back: hundreds of µs between processes on a busy
 * machine), or the producer stalls. 128 did not: a forked child's stream ran at 0.3× of a channel.
 */
export const DEFAULT_WINDOW = 1024

export const isIndex = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0

/** Whether a value is streamed (a top-level argument, or a result): an async iterable that is not itself a handle. */
export function isStream(x: unknown): x is AsyncIterable<unknown> {
  return (
    typeof x === 'object' && x !== null &&
    typeof (x as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function' &&
    (x as { [HANDLE]?: unknown })[HANDLE] === undefined
  )
}

/** Close the handles of a message that is dropped or refused (a caller's or a callee's). */
export function closeAll(handles: readonly unknown[] | null): void {
  if (handles) for (const h of handles) (h as { close?: () => void }).close?.()
}
