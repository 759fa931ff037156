/**
 * A Wire is any reliable, ordered byte stream. Implement these four members to carry ipfi over a
 * transport of your own (README "Any wire", examples/morse/morse-wire.mjs): bytes written on one end come out of the
 * other in the same order, split into chunks of any size.
 */
export interface Wire {
  /**
   * Send bytes. Never called after `close()`. The wire may keep a reference until it is done, to
   * read: the bytes stay the writer's (not written over, not transferred away).
   */
  write(bytes: Uint8Array): void
  /** Optional: send several chunks at once (a wire that can gather writes should). */
  writev?(chunks: Uint8Array[]): void
  /**
   * Start delivering: `onData` for each chunk that arrives (its bytes are `chunk[0, end)`, all of it
   * when `end` is not given), `onEnd` once when the stream ends or fails (with the error, if any),
   * and no `onData` after it. Called once. A wire may write into a chunk again once `onData`
   * returned if the chunk's buffer is under 64 KiB (ipfi copies what it keeps of those); it must not
   * touch larger ones again (ipfi may keep views of a large message it read in place). `owned`: the
   * chunk's ArrayBuffer is ipfi's alone from now on (nothing else refers to it, e.g. it arrived
   * transferred), so a value read from it may be transferred on without a copy (see `transfer`).
   */
  start(onData: (chunk: Uint8Array, end?: number, owned?: boolean) => void, onEnd: (error?: unknown) => void): void
  /** Close the stream (after what was written is flushed, where the transport allows). */
  close(): void
  /** Optional: close now, dropping what is not written yet (the link failed; the peer stopped reading). */
  destroy?(): void
  /**
   * Optional: bytes accepted by `write` that the transport has not taken yet (a socket: not yet in
   * the kernel). ipfi fails a link whose peer leaves more than `maxUnsentBytes` here.
   */
  bufferedBytes?(): number
  /** Optional, with `bufferedBytes`: call `f` once nothing is buffered (at once if nothing is). */
  whenDrained?(f: () => void): void
  /**
   * Optional: the process is exiting (its event loop will not run again): write what is buffered
   * now, synchronously, waiting for the peer to drain until `deadline` (a `Date.now()` value).
   * A wire whose `write` is synchronous (a MessagePort) needs none.
   */
  flushSync?(deadline: number): void
  /**
   * Optional: whether this wire alone should keep the Node event loop alive. ipfi refs a wire while
   * someone waits for a message and unrefs it otherwise, so an idle program can exit.
   */
  ref?(): void
  unref?(): void
}
