/** Feeds one streamed argument to the procedure, as many items as the callee pulls (PULL), until END, FAIL or STOP. */
import { carryTransfer, clearTransferMarks } from '../../codec/transfer-list.js'
import { ProtocolError } from '../../errors.js'
import { END, FAIL, ITEM, isIndex } from '../messages.js'
import type { CallerCall } from './call.js'

export class ArgPump {
  #it: AsyncIterator<unknown> | null = null
  #wanted = 0
  #running = false
  #stopped = false

  constructor(
    private readonly call: CallerCall,
    private readonly index: number,
    private readonly source: AsyncIterable<unknown>,
  ) {}

  /**
   * PULL n: n more items. The callee may have at most `window` items asked for and not yet
   * received; since what it has not received includes what is still on its way, what it asked for
   * and this side has not sent yet can never be more than the window either.
   */
  pull(n: unknown): void {
    if (this.#stopped) return
    if (!isIndex(n)) {
      return this.call.violated(new ProtocolError(`the procedure ${this.call.label} asked for a malformed number of items of argument ${this.index}`))
    }
    if (this.#wanted + n > this.call.settings.window) {
      const e = new ProtocolError(`the procedure ${this.call.label} asked for more items of argument ${this.index} than the window (${this.call.settings.window})`)
      return this.call.violated(e)
    }
    if (n === 0) return
    this.#wanted += n
    if (!this.#running) void this.#run()
  }

  async #run(): Promise<void> {
    this.#running = true
    const { call, index } = this
    try {
      this.#it ??= this.source[Symbol.asyncIterator]()
      while (this.#wanted > 0 && !this.#stopped) {
        let r: IteratorResult<unknown>
        try {
          r = await this.#it.next()
        } catch (e) {
          this.#stopped = true
          return call.host.send([FAIL, call.id, index, e])
        }
        if (this.#stopped) return void (await this.#close())
        if (r.done) {
          this.#stopped = true
          return call.host.send([END, call.id, index])
        }
        this.#wanted--
        try {
          call.host.send(carryTransfer([r.value], [ITEM, call.id, index, r.value]))
          clearTransferMarks([r.value])
        } catch (e) {
          // An item that cannot travel fails the argument with that error.
          this.#stopped = true
          call.host.send([FAIL, call.id, index, e])
          return void (await this.#close())
        }
      }
    } catch {
      this.#stopped = true // the session is gone
      await this.#close()
    } finally {
      this.#running = false
    }
  }

  /** The procedure stopped reading, or the call is over: end the source (its `finally` runs). */
  stop(): void {
    if (this.#stopped) return
    this.#stopped = true
    if (!this.#running) void this.#close()
  }

  async #close(): Promise<void> {
    try {
      await this.#it?.return?.()
    } catch {
      // the source's own cleanup failed; nobody is left to tell
    }
  }
}
