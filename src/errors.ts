/**
 * The errors ipfi throws. Each class is branded with a `Symbol.for` key so that
 * `instanceof` works across two copies of the package (ESM and CJS loaded side by side).
 */

import { brandClass as branded } from './brand.js'

/** The other end of a channel is gone: every sender closed, or the receiver closed. */
export class DisconnectedError extends Error {
  override name = 'DisconnectedError'
  readonly code: string = 'ERR_IPFI_DISCONNECTED'
}
branded(DisconnectedError, 'DisconnectedError')

/**
 * The link a channel crossed died: the peer process exited or was killed, the socket closed,
 * or the peer broke the protocol. `cause` says why (for a child process: `{ code, signal }`).
 * It is a `DisconnectedError`, so code that only cares about "the other end is gone" catches both.
 */
export class ConnectionLostError extends DisconnectedError {
  override name = 'ConnectionLostError'
  override readonly code = 'ERR_IPFI_CONNECTION_LOST'
}
branded(ConnectionLostError, 'ConnectionLostError')

/** The peer sent something that breaks the protocol; the link it came over is closed. */
export class ProtocolError extends Error {
  override name = 'ProtocolError'
  readonly code = 'ERR_IPFI_PROTOCOL'
}
branded(ProtocolError, 'ProtocolError')

/** A configured limit was exceeded (frame size, handles per message, table sizes, ...). */
export class LimitExceededError extends Error {
  override name = 'LimitExceededError'
  readonly code = 'ERR_IPFI_LIMIT_EXCEEDED'
}
branded(LimitExceededError, 'LimitExceededError')

/** A `recv`, `select` or call did not complete within its `timeout`. */
export class TimeoutError extends Error {
  override name = 'TimeoutError'
  readonly code = 'ERR_IPFI_TIMEOUT'
}
branded(TimeoutError, 'TimeoutError')

/**
 * A handle was used after it was moved (sent inside a message, or added to a ReceiverSet)
 * or closed; or a value cannot be sent (a function, a symbol, a cycle, a receiver that is busy).
 */
export class HandleError extends TypeError {
  override name = 'HandleError'
  readonly code = 'ERR_IPFI_HANDLE'
}
branded(HandleError, 'HandleError')

/** Thrown by `encode` for values the wire cannot carry. */
export class UnsupportedValueError extends TypeError {
  override name = 'UnsupportedValueError'
  readonly code = 'ERR_IPFI_UNSUPPORTED_VALUE'
}
branded(UnsupportedValueError, 'UnsupportedValueError')

/**
 * A server and a client did not accept each other: wrong or missing shared secret, a bad TLS
 * certificate, a peer that does not speak ipfi, or a server that is full. Nothing was linked.
 */
export class AuthenticationError extends Error {
  override name = 'AuthenticationError'
  readonly code = 'ERR_IPFI_AUTH'
}
branded(AuthenticationError, 'AuthenticationError')

/** A server cannot listen where asked: a live server is there, or a file that is not a socket. */
export class AddressInUseError extends Error {
  override name = 'AddressInUseError'
  readonly code = 'EADDRINUSE'
}
branded(AddressInUseError, 'AddressInUseError')

/**
 * Make a cause fit to be kept for later (a link's close cause, which its ports report): its stack,
 * and those of its causes, are formatted now. Until `.stack` is first read, V8 keeps each frame's
 * receiver and function, and with them whatever called `close()` (a Connection, a Peer, and so the
 * handles they hold), for as long as the error is kept.
 */
export function keepable<T>(cause: T): T {
  let e: unknown = cause
  for (let depth = 0; e instanceof Error && depth < 8; depth++, e = e.cause) {
    try {
      void e.stack
    } catch {
      // a stack getter that throws keeps nothing we could release
    }
  }
  return cause
}

/**
 * Build the error a channel reports once it learns its other end is gone: `ConnectionLostError` if
 * it went down with a lost link (`lostCause`), else `DisconnectedError`, saying why its link
 * closed if it did (`endCause`: the peer said goodbye, or a child exited with code 0).
 */
export function disconnected(message: string, lostCause?: unknown, endCause?: unknown): DisconnectedError {
  if (lostCause !== undefined) return new ConnectionLostError(`${message}: ${describeCause(lostCause)}`, { cause: lostCause })
  if (endCause !== undefined) return new DisconnectedError(`${message}: ${describeCause(endCause)}`, { cause: endCause })
  return new DisconnectedError(message)
}

export function describeCause(cause: unknown): string {
  if (cause instanceof Error) return cause.message
  if (typeof cause === 'object' && cause !== null && 'code' in cause && 'signal' in cause) {
    const c = cause as { code: number | null; signal: string | null; pid?: number; threadId?: number; reason?: unknown }
    const who = c.pid !== undefined ? `process ${c.pid}` : c.threadId !== undefined ? `worker thread ${c.threadId}` : 'the peer'
    const how = c.signal ? `${who} was killed by ${c.signal}` : `${who} exited with code ${c.code}`
    return typeof c.reason === 'string' ? `${how} (${c.reason})` : how
  }
  return String(cause)
}
