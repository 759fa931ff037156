/**
 * Waiting in tests, one way everywhere. Every wait that could hang is bounded by a hang guard that
 * fails the test with what it was waiting for: never a timing assertion. Each helper takes what it
 * waits on, then its bound (milliseconds, or event-loop turns for `until`), then what it waits for.
 */
import { inspect } from 'node:util'

/** What a hang guard rejects with (so that `rejection` does not take it for the awaited rejection). */
export class HangGuardError extends Error {
  override name = 'HangGuardError'
}

/** `p`, or a HangGuardError naming `what` if it takes longer than `ms`. */
export function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const error = new HangGuardError(`hang guard: ${what} did not happen within ${ms} ms`) // made here: its stack shows the wait
  const guard = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(error), ms)
  })
  return Promise.race([p, guard]).finally(() => clearTimeout(timer))
}

/** What `p` rejects with; fails the test if it resolves, or hangs for `ms`. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function rejection(p: Promise<unknown>, ms: number, what = 'the promise'): Promise<any> {
  let value: unknown
  try {
    value = await within(p, ms, `${what} to reject`)
  } catch (e) {
    if (e instanceof HangGuardError) throw e
    return e
  }
  throw new Error(`expected ${what} to reject, but it resolved with ${inspect(value, { depth: 2 })}`)
}

export interface Deferred<T> {
  promise: Promise<T>
  resolve(v: T): void
  reject(e: unknown): void
}

/** A promise and the functions that settle it. */
export function deferred<T = void>(): Deferred<T> {
  let resolve!: (v: T) => void
  let reject!: (e: unknown) => void
  const promise = new Promise<T>((res, rej) => {
    resolve = res
    reject = rej
  })
  return { promise, resolve, reject }
}

/** Every item of a stream, each `next()` bounded by `ms`; more than `max` items fail the test. */
export async function collect<T>(stream: AsyncIterable<T>, ms: number, max = 1_000_000): Promise<T[]> {
  const it = stream[Symbol.asyncIterator]()
  const out: T[] = []
  for (;;) {
    const r = await within(it.next(), ms, 'a stream item')
    if (r.done) return out
    out.push(r.value)
    if (out.length > max) {
      await it.return?.()
      throw new Error(`a stream went on past ${max} items`)
    }
  }
}

/** One turn of the event loop (lets I/O, immediates and the memory wire run). */
export const turn = () => new Promise<void>((r) => setImmediate(r))

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

/** Wait, at most `turns` turns of the event loop, until `cond()` holds. */
export async function until(cond: () => boolean, turns: number, what: string): Promise<void> {
  for (let i = 0; i < turns; i++) {
    if (cond()) return
    await turn()
  }
  throw new HangGuardError(`hang guard: ${what} did not happen within ${turns} turns`)
}

