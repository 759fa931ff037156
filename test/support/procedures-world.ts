/**
 * The harness of the procedures suites (test/procedures-*.test.ts). Two sides, A and B: A calls, B
 * exposes (and the other way round in some tests), in one of three places: one process (the
 * channels are local, nothing is encoded), an in-memory link (everything is encoded and crosses a
 * real Link), or an in-memory link that delivers one byte at a time.
 *
 * Everything is asserted on values, counts and order, never on elapsed time; waits that could hang
 * go through the hang guards of support/async.ts.
 *
 * Importing it registers an afterEach that runs `cleanups` (links, proxies, parked procedures).
 */
import { afterEach } from 'vitest'
import { channel } from '../../src/channel/index.js'
import { registerErrorClass } from '../../src/codec/index.js'
import { expose, remote, type ExposeOptions, type Remote } from '../../src/procedures/index.js'
import { connectWire, type Connection } from '../../src/process/connect.js'
import { memoryWirePair } from '../../src/wire/memory.js'
import { deferred, within } from './async.js'

/** Hang guard for a single wait (never a timing assertion). */
export const GUARD = 15_000
/** Hang guard for `until`, in turns of the event loop. */
export const TURNS = 5_000

/** Run at the end of each test: close links, proxies, release parked procedures. */
export const cleanups: (() => void)[] = []
afterEach(() => {
  for (const c of cleanups.splice(0).reverse()) {
    try {
      c()
    } catch {
      // already closed
    }
  }
})

/** A promise that stays pending until the test ends (for procedures that must not return). */
export function parked(): Promise<never> {
  const d = deferred<never>()
  cleanups.push(() => d.reject(new Error('test over')))
  d.promise.catch(() => {})
  return d.promise
}

export type Mode = 'in-process' | 'memory link' | 'memory link, 1-byte chunks'
export const MODES: Mode[] = ['in-process', 'memory link', 'memory link, 1-byte chunks']
export const LINK_MODES: Mode[] = ['memory link', 'memory link, 1-byte chunks']

/**
 * Two sides: A calls, B exposes (and the other way round in some tests). In-process both are this
 * process and values hop through a local channel (so handles move as they would over a wire).
 */
export interface World {
  mode: Mode
  /** Carry a value from B to A. */
  toA<T>(v: T): Promise<T>
  /** Carry a value from A to B. */
  toB<T>(v: T): Promise<T>
  a: Connection<unknown, unknown> | null
  b: Connection<unknown, unknown> | null
}

export async function world(mode: Mode): Promise<World> {
  if (mode === 'in-process') {
    const hop = async <T>(v: T): Promise<T> => {
      const [tx, rx] = channel<T>()
      tx.send(v)
      tx.close()
      return rx.recv()
    }
    return { mode, toA: hop, toB: hop, a: null, b: null }
  }
  const [wa, wb] = memoryWirePair(mode === 'memory link, 1-byte chunks' ? { chunk: 1 } : {})
  const a = connectWire<unknown, unknown>(wa, { name: 'A' })
  const b = connectWire<unknown, unknown>(wb, { name: 'B' })
  cleanups.push(() => {
    a.close()
    b.close()
  })
  await within(Promise.all([a.ready, b.ready]), GUARD, 'handshake')
  return {
    mode,
    a,
    b,
    toA: async <T>(v: T) => {
      b.sender.send(v)
      return (await within(a.receiver.recv(), GUARD, 'a value to reach A')) as T
    },
    toB: async <T>(v: T) => {
      a.sender.send(v)
      return (await within(b.receiver.recv(), GUARD, 'a value to reach B')) as T
    },
  }
}

/** Expose `impl` on B and return A's proxy for it (closed at the end of the test). */
export async function serve<T extends object>(w: World, impl: T, options?: ExposeOptions): Promise<Remote<T>> {
  const there = await w.toA(expose(impl, options))
  const api = remote<T>(there)
  there.close()
  cleanups.push(() => api[Symbol.dispose]())
  return api
}

/** An endless source 0, 1, 2, ...; `ended` resolves with how many items it produced, once its `finally` ran. */
export function endless(): { source: AsyncGenerator<number>; ended: Promise<number> } {
  const ended = deferred<number>()
  let produced = 0
  async function* source() {
    try {
      for (let i = 0; ; i++) {
        produced++
        yield i
      }
    } finally {
      ended.resolve(produced)
    }
  }
  return { source: source(), ended: ended.promise }
}

/** Registered where this module is imported (the registry is by name, process-wide). */
export class RegisteredError extends Error {
  override name = 'RegisteredError'
  detail = 'd'
}
registerErrorClass(RegisteredError)
