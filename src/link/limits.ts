/** Per-link limits. Each side announces its own in the handshake; the peer never sends past them. */
export interface LinkLimits {
  /** Largest frame accepted, in bytes (a message's encoded size plus a few bytes). Default 64 MiB. */
  maxFrameBytes: number
  /** Most handles (senders, receivers) in one message. Default 1,024. */
  maxHandlesPerMessage: number
  /** Most imported channels plus receivers moved in over one link. Default 100,000. */
  maxImports: number
  /** Time allowed for the peer's handshake, in ms. Default 10,000. */
  handshakeTimeoutMs: number
  /**
   * Most bytes of messages from the peer waiting unread in this process's queues (received, not
   * yet taken by a recv). Past it the link is closed with LimitExceededError: a peer cannot make
   * this process hold unbounded memory. A local limit, not announced. Default 256 MiB.
   */
  maxQueuedBytes: number
  /**
   * Most bytes sent to the peer and not yet taken by the transport (a socket: by the kernel), for a
   * peer that stopped reading. Past it the link is closed with LimitExceededError and what waited is
   * dropped. Wait for `sender.drained()` to stay under it. A local limit. Default 128 MiB.
   */
  maxUnsentBytes: number
}

export const DEFAULT_LIMITS: Readonly<LinkLimits> = Object.freeze({
  maxFrameBytes: 64 * 1024 * 1024,
  maxHandlesPerMessage: 1024,
  maxImports: 100_000,
  handshakeTimeoutMs: 10_000,
  maxQueuedBytes: 256 * 1024 * 1024,
  maxUnsentBytes: 128 * 1024 * 1024,
})

/** The handshake frame is read with this limit, before the peer's identity is known. */
export const HANDSHAKE_MAX_FRAME = 64 * 1024

export function resolveLimits(partial: Partial<LinkLimits> = {}): LinkLimits {
  const out = { ...DEFAULT_LIMITS }
  for (const key of Object.keys(DEFAULT_LIMITS) as (keyof LinkLimits)[]) {
    const v = partial[key]
    if (v === undefined) continue
    if (typeof v !== 'number' || !(v > 0) || !Number.isFinite(v)) throw new RangeError(`limit ${key} must be a positive number, got ${v}`)
    out[key] = Math.floor(v)
  }
  return out
}
