/**
 * A Wire is any reliable, ordered byte stream. Implement these four members to carry ipfi over a
 * transport of your own (README "Any wire", examples/morse/morse-wire.mjs): bytes written on one end come out of the
 * other in the same order, split into chunks of any size.
 */
export interface Wire {
  /** Send bytes. Never called after `close()`. The wire may keep a reference until it is done. */
  write(bytes: Uint8Array): void
  /** Optional: send several chunks at once (a wire that can gather writes should). */
  writev?(chunks: Uint8Array[]): void
  /**
   * Start delivering: `onData` for each chunk that arrives, `onEnd` once when the stream ends or
   * fails (with the error, if any). Called once.
   */
  start(onData: (chunk: Uint8Array) => void, onEnd: (error?: unknown) => void): void
  /** Close the stream (after what was written is flushed, where the transport allows). */
  close(): void
  /**
   * Optional: whether this wire alone should keep the Node event loop alive. ipfi refs a wire while
   * someone waits for a message and unrefs it otherwise, so an idle program can exit.
   */
  ref?(): void
  unref?(): void
}
