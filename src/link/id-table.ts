/**
 * A table of a link keyed by id (exports, inbound), as a Map would be, with the small ids in
 * arrays: ids are handed out in order from 1 and never reused (docs/PROTOCOL.md, "Id allocation"),
 * so a MSG's target is found by an index, and its port without going through the entry. With many
 * channels each lookup is one the caches no longer hold; an array slot next to its neighbours is
 * one cache line, where a Map lookup is a bucket, its entry and then the entry object.
 *
 * Ids from DENSE up (a peer's, or a link that has made that many channels) go to a Map: the arrays
 * never grow past DENSE slots (a few hundred KiB at most).
 */
import type { Port } from './port.js'

const DENSE = 1 << 15

export class IdTable<E extends { port: Port }> {
  private readonly entries: (E | undefined)[] = []
  private readonly ports: (Port | undefined)[] = []
  private readonly rest = new Map<number, E>()
  private count = 0

  get size(): number {
    return this.count
  }

  get(id: number): E | undefined {
    return id < DENSE ? this.entries[id] : this.rest.get(id)
  }

  /** The port of entry `id` (what a MSG to it reaches), straight from the array for a small id. */
  port(id: number): Port | undefined {
    return id < DENSE ? this.ports[id] : this.rest.get(id)?.port
  }

  has(id: number): boolean {
    return this.get(id) !== undefined
  }

  set(id: number, e: E): void {
    if (!this.has(id)) this.count++
    if (id < DENSE) {
      // Filled in id order: keep the arrays without holes up to here (a peer may skip ids).
      while (this.entries.length < id) {
        this.entries.push(undefined)
        this.ports.push(undefined)
      }
      this.entries[id] = e
      this.ports[id] = e.port
    } else this.rest.set(id, e)
  }

  delete(id: number): boolean {
    if (!this.has(id)) return false
    this.count--
    if (id < DENSE) {
      this.entries[id] = undefined
      this.ports[id] = undefined
    } else this.rest.delete(id)
    return true
  }

  *keys(): IterableIterator<number> {
    for (let id = 0; id < this.entries.length; id++) if (this.entries[id] !== undefined) yield id
    yield* this.rest.keys()
  }

  *values(): IterableIterator<E> {
    for (const e of this.entries) if (e !== undefined) yield e
    yield* this.rest.values()
  }

  clear(): void {
    this.entries.length = 0
    this.ports.length = 0
    this.rest.clear()
    this.count = 0
  }
}
