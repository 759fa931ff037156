import { waitBegin, waitEnd } from '../link/event-loop.js'
import type { Port } from '../link/port.js'
import { PORT_OF, brandClass } from '../brand.js'
import { DisconnectedError, HandleError } from '../errors.js'
import { giveUpWith, type RecvOptions } from './give-up.js'
import type { Receiver } from './receiver.js'

export type SelectEvent<T> = { id: number; kind: 'message'; value: T } | { id: number; kind: 'closed' }

/**
 * Wait on many receivers at once. `add` takes the receiver over (the Receiver object becomes
 * unusable) and returns its id; it may be called while a `select` waits. `select` resolves with one
 * or more events: at most one message per receiver per call, and a `closed` event after a channel's
 * last message, when it leaves the set. `close()` closes every receiver in it and ends a waiting
 * `select` with `DisconnectedError`; the set is empty then, and may take receivers again.
 */
export class ReceiverSet<T = unknown> {
  #ports = new Map<number, Port>()
  #nextId = 1
  #wake: (() => void) | null = null
  /** Ends the waiting select, if any, when the set is closed. */
  #fail: ((e: unknown) => void) | null = null

  add(receiver: Receiver<T>): number {
    const port = receiver[PORT_OF]()
    const id = this.#nextId++
    this.#ports.set(id, port)
    port.watcher = () => this.#wake?.()
    this.#wake?.() // a select waiting now sees what this receiver already holds
    return id
  }

  get size(): number {
    return this.#ports.size
  }

  /** Events available now (possibly none); never waits. */
  trySelect(): SelectEvent<T>[] {
    const events: SelectEvent<T>[] = []
    for (const [id, port] of this.#ports) {
      const e = port.take()
      if (e) events.push({ id, kind: 'message', value: e.value as T })
      else if (port.disconnected) {
        events.push({ id, kind: 'closed' })
        this.#ports.delete(id)
        port.watcher = null
        port.closeReceiver()
      }
    }
    return events
  }

  /**
   * Wait for at least one event, or `timeout` (`TimeoutError`), or `signal`. An empty set waits
   * too: for a receiver to be added and have something.
   */
  select(options?: RecvOptions): Promise<SelectEvent<T>[]> {
    const now = this.trySelect()
    if (now.length) return Promise.resolve(now)
    if (this.#wake) return Promise.reject(new HandleError('another select() is already waiting on this ReceiverSet: one wait at a time'))
    return giveUpWith<SelectEvent<T>[]>(options, 'select', (resolve, reject) => {
      const done = () => {
        this.#wake = null
        this.#fail = null
        waitEnd()
      }
      this.#fail = (e) => {
        done()
        reject(e)
      }
      this.#wake = () => {
        const events = this.trySelect()
        if (!events.length) return
        done()
        resolve(events)
      }
      waitBegin()
      return done
    })
  }

  /** Close every receiver in the set; a waiting select ends with `DisconnectedError`. The set is empty after. */
  close(): void {
    this.#fail?.(new DisconnectedError('the ReceiverSet was closed'))
    for (const port of this.#ports.values()) {
      port.watcher = null
      port.closeReceiver()
    }
    this.#ports.clear()
  }

  [Symbol.dispose](): void {
    this.close()
  }
}
brandClass(ReceiverSet, 'ReceiverSet')
