import { expect } from 'vitest'
import { ConnectionLostError, DisconnectedError, type Link } from 'ipfi'

/** An orderly end (the peer said goodbye, a child exited with code 0): a DisconnectedError that is not a ConnectionLostError. */
export function expectOrderly(e: unknown): void {
  expect(e).toBeInstanceOf(DisconnectedError)
  expect(e).not.toBeInstanceOf(ConnectionLostError)
}

/**
 * Fail a link from this side as a protocol or transport error would (it is not public API: users
 * close links; failures come from the wire or the peer). The peer is told the failure when it is a
 * ProtocolError or LimitExceededError, as a real one would be.
 */
export function failLink(link: Link, cause: Error): void {
  ;(link as unknown as { fail(cause: unknown): void }).fail(cause)
}
