/**
 * A link's liveness timers (PROTOCOL §4, §5.8): a PING when we have been silent for the interval the
 * peer asked for, and, with `idleTimeoutMs`, the peer declared lost when nothing arrived from it
 * for that long. Neither timer holds the event loop.
 */
export class Heartbeat {
  /** Whether anything arrived since the idle check last looked, and anything was sent since the last tick. */
  private heardFrom = true
  private spoke = false
  private pingTimer: NodeJS.Timeout | null = null
  private idleTimer: NodeJS.Timeout | null = null

  /**
   * `idleTimeoutMs`: 0 for none. `ping` sends a PING; `silent` is called once the peer has been
   * silent for idleTimeoutMs.
   */
  constructor(
    readonly idleTimeoutMs: number,
    private readonly ping: () => void,
    private readonly silent: () => void,
  ) {}

  /** The interval to ask the peer for in HELLO (a third of our idle timeout), if any. */
  get askPeerEvery(): number | undefined {
    return this.idleTimeoutMs ? Math.max(10, Math.floor(this.idleTimeoutMs / 3)) : undefined
  }

  heard(): void {
    this.heardFrom = true
  }

  said(): void {
    this.spoke = true
  }

  /** Start once the handshake is done; `every`: the interval the peer asked us to keep to. */
  start(every: number | undefined): void {
    if (every !== undefined) {
      this.pingTimer = setInterval(
        () => {
          if (!this.spoke) this.ping()
          this.spoke = false
        },
        Math.max(10, Math.min(every, 2 ** 31 - 1)),
      )
      this.pingTimer.unref?.()
    }
    if (this.idleTimeoutMs) {
      // Checked at half the timeout: silence is noticed between 1x and 1.5x the timeout.
      let silentFor = 0
      const step = Math.ceil(this.idleTimeoutMs / 2)
      this.idleTimer = setInterval(() => {
        if (this.heardFrom) {
          this.heardFrom = false
          silentFor = 0
          return
        }
        silentFor += step
        if (silentFor >= this.idleTimeoutMs) this.silent()
      }, step)
      this.idleTimer.unref?.()
    }
  }

  stop(): void {
    if (this.pingTimer) clearInterval(this.pingTimer)
    if (this.idleTimer) clearInterval(this.idleTimer)
    this.pingTimer = this.idleTimer = null
  }
}
