import { expect } from 'vitest'
import { ConnectionLostError, DisconnectedError } from 'ipfi'

/** An orderly end (the peer said goodbye, a child exited with code 0): a DisconnectedError that is not a ConnectionLostError. */
export function expectOrderly(e: unknown): void {
  expect(e).toBeInstanceOf(DisconnectedError)
  expect(e).not.toBeInstanceOf(ConnectionLostError)
}
