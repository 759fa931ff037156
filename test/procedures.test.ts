/**
 * The procedures layer (src/procedures): expose/remote, results, streams both ways with their
 * credit windows, callbacks, cancellation, remote errors, name lookup, limits, hostile session
 * messages and connection loss.
 *
 * Each semantic case runs in three places: in one process (the channels are local, nothing is
 * encoded), over an in-memory link (everything is encoded and crosses a real Link), and over an
 * in-memory link that delivers one byte at a time. Cases that need a second thread use a real worker
 * thread (the built package, see the last section).
 *
 * Everything is asserted on values, counts and order, never on elapsed time. Waits that could hang
 * go through `within` (a hang guard that fails the test, not a timing assertion).
 */
import { afterEach, describe, expect, it } from 'vitest'
import { channel, Receiver, Sender } from '../src/channel/index.js'
import { INTERNAL } from '../src/channel/brand.js'
import { registerErrorClass } from '../src/codec/index.js'
import {
  ConnectionLostError,
  DisconnectedError,
  HandleError,
  LimitExceededError,
  ProtocolError,
  TimeoutError,
  UnsupportedValueError,
} from '../src/errors.js'
import {
  callback,
  currentCall,
  DEFAULT_PROCEDURE_LIMITS,
  Endpoint,
  expose,
  remote,
  RemoteError,
  REMOTE_STACK_MARKER,
  type ExposeOptions,
  type Remote,
} from '../src/procedures/index.js'
import { CALL, CANCEL, CLOSE, CREDIT, DEFAULT_WINDOW, DONE, END, ERROR, FAIL, ITEM, MAX_WINDOW, PULL, RESULT, STOP, YIELD } from '../src/procedures/messages.js'
import { connectWire, type Connection } from '../src/process/connect.js'
import { memoryWirePair } from '../src/wire/memory.js'
import { collect, deferred, rejection, sleep, turn, until, within } from './support/async.js'

// ---------------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------------

/** Hang guard for a single wait (never a timing assertion). */
const GUARD = 15_000
/** Hang guard for `until`, in turns of the event loop. */
const TURNS = 5_000

/** Run at the end of each test: close links, proxies, release parked procedures. */
const cleanups: (() => void)[] = []
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
function parked(): Promise<never> {
  const d = deferred<never>()
  cleanups.push(() => d.reject(new Error('test over')))
  d.promise.catch(() => {})
  return d.promise
}

type Mode = 'in-process' | 'memory link' | 'memory link, 1-byte chunks'
const MODES: Mode[] = ['in-process', 'memory link', 'memory link, 1-byte chunks']
const LINK_MODES: Mode[] = ['memory link', 'memory link, 1-byte chunks']

/**
 * Two sides: A calls, B exposes (and the other way round in some tests). In-process both are this
 * process and values hop through a local channel (so handles move as they would over a wire).
 */
interface World {
  mode: Mode
  /** Carry a value from B to A. */
  toA<T>(v: T): Promise<T>
  /** Carry a value from A to B. */
  toB<T>(v: T): Promise<T>
  a: Connection<unknown, unknown> | null
  b: Connection<unknown, unknown> | null
}

async function world(mode: Mode): Promise<World> {
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
async function serve<T extends object>(w: World, impl: T, options?: ExposeOptions): Promise<Remote<T>> {
  const there = await w.toA(expose(impl, options))
  const api = remote<T>(there)
  there.close()
  cleanups.push(() => api[Symbol.dispose]())
  return api
}

/** An endless source 0, 1, 2, ...; `ended` resolves with how many items it produced, once its `finally` ran. */
function endless(): { source: AsyncGenerator<number>; ended: Promise<number> } {
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

class ValidationError extends Error {
  override name = 'ValidationError'
  constructor(
    message: string,
    readonly field: string,
  ) {
    super(message)
  }
}
/** Registered once for the file (the registry is by name, process-wide). */
class RegisteredError extends Error {
  override name = 'RegisteredError'
  detail = 'd'
}
registerErrorClass(RegisteredError)

// ---------------------------------------------------------------------------------------------
// The semantics, in each mode
// ---------------------------------------------------------------------------------------------

describe.each(MODES)('procedures (%s)', (mode) => {
  describe('results and concurrency', () => {
    it('returns sync and async results, and undefined/null/complex values', async () => {
      const w = await world(mode)
      const api = await serve(w, {
        add: (a: number, b: number) => a + b,
        async greet(name: string) {
          await sleep(1)
          return `hi ${name}`
        },
        nothing() {},
        nul: () => null,
        complex: () => ({ big: 2n ** 70n, date: new Date(0), map: new Map([[1, 'one']]), bytes: new Uint8Array([1, 2, 3]), nested: [{ a: [1, { b: 'c' }] }] }),
      })
      expect(await api.add(2, 3)).toBe(5)
      expect(await api.greet('ann')).toBe('hi ann')
      expect(await api.nothing()).toBeUndefined()
      expect(await api.nul()).toBeNull()
      expect(await api.complex()).toEqual({ big: 2n ** 70n, date: new Date(0), map: new Map([[1, 'one']]), bytes: new Uint8Array([1, 2, 3]), nested: [{ a: [1, { b: 'c' }] }] })
    })

    it('the proxy is not a thenable and has no symbol-named procedures', async () => {
      const w = await world(mode)
      const api = await serve(w, { then: () => 'no', add: (a: number, b: number) => a + b })
      expect((api as any).then).toBeUndefined()
      expect(await within(Promise.resolve(api as unknown), GUARD, 'awaiting the proxy')).toBe(api)
      expect((api as any)[Symbol.iterator]).toBeUndefined()
      expect(Object.prototype.toString.call(api)).toBe('[object Remote]')
    })

    it('10,000 concurrent calls with random delays are each matched to their own result', async () => {
      const w = await world(mode)
      let running = 0
      let maxRunning = 0
      const api = await serve(w, {
        async echo(i: number, ms: number) {
          running++
          maxRunning = Math.max(maxRunning, running)
          await sleep(ms)
          running--
          return { i, sq: i * i, tag: `#${i}` }
        },
      })
      const n = 10_000
      const delays = Array.from({ length: n }, () => Math.floor(Math.random() * 6))
      const completion: number[] = []
      const results = await within(
        Promise.all(
          delays.map((ms, i) =>
            api.echo(i, ms).then((r) => {
              completion.push(i)
              return r
            }),
          ),
        ),
        60_000,
        '10,000 calls',
      )
      let wrong = 0
      results.forEach((r, i) => {
        if (r.i !== i || r.sq !== i * i || r.tag !== `#${i}`) wrong++
      })
      expect(wrong).toBe(0)
      expect(results).toHaveLength(n)
      expect(new Set(completion).size).toBe(n)
      // They really ran at once (the procedure side did not serialize them)...
      expect(maxRunning).toBeGreaterThan(100)
      // ...and finished in delay order, not call order.
      expect(completion).not.toEqual([...completion].sort((x, y) => x - y))
    }, 90_000)

    it('a call made right after the last pending one was cancelled is still answered', async () => {
      const w = await world(mode)
      let started = 0
      const api = await serve(w, {
        async hang() {
          started++
          await parked()
        },
        add: (a: number, b: number) => a + b,
      })
      for (let round = 0; round < 3; round++) {
        const ac = new AbortController()
        const p = api.hang.with({ signal: ac.signal })()
        await until(() => started === round + 1, TURNS, 'the call to start')
        ac.abort()
        // In the same turn: the reply reader that the cancelled call left must not be lost.
        const q = api.add(round, 1)
        expect(await rejection(p, GUARD)).toBeInstanceOf(DOMException)
        expect(await within(q, GUARD, 'a call made right after a cancel')).toBe(round + 1)
      }
    })

    it('currentCall() names the call up to the procedure\'s first await (and in each step of a stream); undefined after it and outside', async () => {
      const w = await world(mode)
      const api = await serve(w, {
        async whoami() {
          const before = currentCall()
          await sleep(1)
          return { name: before?.name, aborted: before?.signal.aborted, after: currentCall() === undefined }
        },
        async *steps() {
          for (let i = 0; i < 3; i++) {
            yield currentCall()?.name
            await sleep(1)
            yield currentCall() === undefined
          }
        },
        async viaCallback(cb: () => unknown) {
          return cb()
        },
      })
      expect(await api.whoami()).toEqual({ name: 'whoami', aborted: false, after: true })
      expect(await collect(api.steps(), GUARD)).toEqual(['steps', true, 'steps', true, 'steps', true])
      expect(currentCall()).toBeUndefined()
      // A callback runs as a call too, with no name.
      expect(await api.viaCallback(() => currentCall()?.name)).toBeNull()
    })

    it('with asyncContext: true, currentCall() answers anywhere in the call\'s async flow, and never leaks into a call without it', async () => {
      const w = await world(mode)
      const plain = await serve(w, {
        async inner() {
          const before = currentCall()?.name
          await sleep(1)
          return { before, after: currentCall()?.name ?? 'none' }
        },
      })
      const api = await serve(
        w,
        {
          async whoami() {
            await sleep(1)
            await Promise.resolve()
            const c = currentCall()!
            return { name: c.name, aborted: c.signal.aborted }
          },
          async *steps() {
            await sleep(1)
            yield currentCall()?.name
            await sleep(1)
            yield currentCall()?.name
          },
          async nested() {
            await sleep(1)
            const r = await plain.inner()
            // Procedures exposed from inside this call: their loops start in its async flow.
            const local = remote(
              expose({
                async inner() {
                  await sleep(1)
                  return currentCall()?.name ?? 'none'
                },
              }),
            )
            const fromHere = await local.inner()
            local[Symbol.dispose]()
            return { ...r, fromHere, mine: currentCall()?.name }
          },
        },
        { asyncContext: true },
      )
      expect(await api.whoami()).toEqual({ name: 'whoami', aborted: false })
      expect(await collect(api.steps(), GUARD)).toEqual(['steps', 'steps'])
      expect(await api.nested()).toEqual({ before: 'inner', after: 'none', fromHere: 'none', mine: 'nested' })
      expect(currentCall()).toBeUndefined()
    })

    it('a slow call does not delay a fast one (completion order)', async () => {
      const w = await world(mode)
      const gate = deferred()
      const order: string[] = []
      const api = await serve(w, {
        async slow() {
          await gate.promise
          return 'slow'
        },
        fast: () => 'fast',
      })
      const slow = api.slow().then((v) => order.push(v))
      const fasts = await within(Promise.all([api.fast(), api.fast(), api.fast()]), GUARD, 'fast calls while a slow one is pending')
      order.push(...fasts)
      gate.resolve()
      await within(slow, GUARD, 'the slow call')
      expect(order).toEqual(['fast', 'fast', 'fast', 'slow'])
    })

    it('calls from both sides at once on one link, nested through each other', async () => {
      const w = await world(mode)
      let b: Remote<typeof implB> | null = null // A's proxy for B
      let a: Remote<typeof implA> | null = null // B's proxy for A
      const implA = {
        who: () => 'A',
        async ping(n: number): Promise<string[]> {
          return n === 0 ? ['A'] : ['A', ...(await b!.pong(n - 1))]
        },
        double: (x: number) => x * 2,
      }
      const implB = {
        who: () => 'B',
        async pong(n: number): Promise<string[]> {
          return n === 0 ? ['B'] : ['B', ...(await a!.ping(n - 1))]
        },
        square: (x: number) => x * x,
      }
      // Each side exposes its procedures to the other over the same link.
      const epB = await w.toA(expose(implB))
      const epA = await w.toB(expose(implA))
      b = remote(epB)
      a = remote(epA)
      epA.close()
      epB.close()
      cleanups.push(() => a![Symbol.dispose](), () => b![Symbol.dispose]())

      expect(await b.who()).toBe('B')
      expect(await a.who()).toBe('A')
      expect(await within(b.pong(7), GUARD, 'a ping-pong of 8 nested calls')).toEqual(['B', 'A', 'B', 'A', 'B', 'A', 'B', 'A'])

      const n = 500
      const [fromA, fromB, nested] = await within(
        Promise.all([
          Promise.all(Array.from({ length: n }, (_, i) => b!.square(i))),
          Promise.all(Array.from({ length: n }, (_, i) => a!.double(i))),
          Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a!.ping(i) : b!.pong(i)))),
        ]),
        GUARD,
        'calls both ways',
      )
      expect(fromA).toEqual(Array.from({ length: n }, (_, i) => i * i))
      expect(fromB).toEqual(Array.from({ length: n }, (_, i) => i * 2))
      nested.forEach((r, i) => {
        expect(r).toHaveLength(i + 1)
        expect(r[0]).toBe(i % 2 ? 'A' : 'B')
      })
    })
  })

  describe('handles in arguments and results', () => {
    it('Senders and Receivers as arguments and results work on the other side', async () => {
      const w = await world(mode)
      const reader = deferred<string[]>()
      const api = await serve(w, {
        fill(tx: Sender<number>, n: number) {
          for (let i = 0; i < n; i++) tx.send(i)
          tx.close()
          return n
        },
        async drain(rx: Receiver<string>) {
          const got: string[] = []
          for await (const s of rx) got.push(s)
          return got
        },
        open() {
          const [tx, rx] = channel<string>()
          void collect(rx, GUARD).then(reader.resolve, reader.reject)
          return tx
        },
        feed(n: number) {
          const [tx, rx] = channel<number>()
          for (let i = 0; i < n; i++) tx.send(i * 10)
          tx.close()
          return { rx, n } // a receiver (async-iterable, but a handle: not streamed) inside a result
        },
        kinds: (x: unknown, y: unknown) => [x instanceof Sender, y instanceof Receiver],
      })

      const [tx1, rx1] = channel<number>()
      expect(await api.fill(tx1, 5)).toBe(5)
      expect(await within(collect(rx1, GUARD), GUARD, 'the values the procedure sent')).toEqual([0, 1, 2, 3, 4])

      const [tx2, rx2] = channel<string>()
      tx2.send('x')
      const drained = api.drain(rx2)
      tx2.send('y')
      tx2.close()
      expect(await within(drained, GUARD, 'drain')).toEqual(['x', 'y'])

      const out = await api.open()
      expect(out).toBeInstanceOf(Sender)
      out.send('p')
      out.send('q')
      out.close()
      expect(await within(reader.promise, GUARD, 'the procedure side to read what we sent')).toEqual(['p', 'q'])

      const fed = await api.feed(3)
      expect(fed.rx).toBeInstanceOf(Receiver)
      expect(fed.n).toBe(3)
      expect(await within(collect(fed.rx, GUARD), GUARD, 'the returned receiver')).toEqual([0, 10, 20])

      const [tx3, rx3] = channel<number>()
      expect(await api.kinds(tx3, rx3)).toEqual([true, true])
      // Handles in arguments moved: the originals are no longer usable.
      expect(() => tx3.send(1)).toThrow(HandleError)
    })

    it('a procedure returns a new endpoint, and takes an endpoint to call back into', async () => {
      const w = await world(mode)
      const api = await serve(w, {
        sub(k: number) {
          return expose({ mul: (x: number) => x * k, who: () => `sub${k}` })
        },
        nested() {
          return { ep: expose({ hi: () => 'nested hi' }), note: 'in an object' }
        },
        async useEndpoint(ep: Endpoint<{ hello(s: string): string }>) {
          const r = remote(ep)
          ep.close()
          try {
            return await r.hello('from B')
          } finally {
            r[Symbol.dispose]()
          }
        },
        echo: (x: Endpoint<{ k(): string }>) => x,
        makeCounter(start: number) {
          let n = start
          return callback(() => ++n)
        },
      })
      const ep3 = await api.sub(3)
      expect(ep3).toBeInstanceOf(Endpoint)
      const sub3 = remote(ep3)
      expect(await sub3.mul(14)).toBe(42)
      expect(await sub3.who()).toBe('sub3')
      sub3[Symbol.dispose]()
      ep3.close()

      const { ep, note } = await api.nested()
      expect(note).toBe('in an object')
      const n = remote(ep)
      expect(await n.hi()).toBe('nested hi')
      n[Symbol.dispose]()
      ep.close()

      // An endpoint of ours, passed as an argument: the procedure calls us back through it.
      const mine = expose({ hello: (s: string) => `hello ${s}` })
      expect(await api.useEndpoint(mine)).toBe('hello from B')

      // A long-lived callback made on the procedures side and returned: the caller calls into it.
      const counter = await api.makeCounter(10)
      expect(typeof counter).toBe('function')
      expect(await counter()).toBe(11)
      expect(await counter()).toBe(12)
      ;(counter as unknown as { close(): void }).close()

      // An endpoint makes a round trip and still works.
      const back = await api.echo(expose({ k: () => 'k' }))
      const kk = remote(back)
      expect(await kk.k()).toBe('k')
      kk[Symbol.dispose]()
      back.close()
    })

    it('a result that cannot be sent rejects the call with UnsupportedValueError; the session goes on', async () => {
      const w = await world(mode)
      const api = await serve(w, {
        fn: () => ({ f: () => 1 }),
        sym: () => Symbol('x'),
        ok: () => 'ok',
      })
      const e1 = await rejection(api.fn(), GUARD)
      expect(e1.name).toBe('UnsupportedValueError')
      expect(e1).toBeInstanceOf(TypeError)
      const e2 = await rejection(api.sym(), GUARD)
      expect(e2.name).toBe('UnsupportedValueError')
      expect(await api.ok()).toBe('ok')
    })

    it('an argument that cannot be sent rejects locally and nothing runs', async () => {
      const w = await world(mode)
      let ran = 0
      const api = await serve(w, {
        take: (_x: unknown) => ++ran,
      })
      const e = await rejection(api.take({ s: Symbol('no') }), GUARD)
      expect(e).toBeInstanceOf(UnsupportedValueError)
      const cyclic: any = { a: 1 }
      cyclic.self = cyclic
      expect(await rejection(api.take(cyclic), GUARD)).toBeInstanceOf(UnsupportedValueError)
      expect(await api.take(1)).toBe(1)
      expect(ran).toBe(1)
    })
  })

  describe('callbacks', () => {
    it('a function argument is called many times while the call is pending, and returns values (a Promise on the calling side)', async () => {
      const w = await world(mode)
      const api = await serve(w, {
        async work(steps: number, onProgress: (i: number) => unknown) {
          const answers: unknown[] = []
          let promises = 0
          for (let i = 1; i <= steps; i++) {
            const p = onProgress(i)
            if (p instanceof Promise) promises++
            answers.push(await p)
          }
          return { answers, promises }
        },
        async fanout(n: number, f: (i: number) => number | Promise<number>) {
          return Promise.all(Array.from({ length: n }, (_, i) => f(i)))
        },
        async nestedFn(opts: { label: string; hooks: { transform: (s: string) => string; count: number } }) {
          return `${await opts.hooks.transform(opts.label)}/${opts.hooks.count}`
        },
        async inArray(fs: ((x: number) => number)[]) {
          return Promise.all(fs.map((f, i) => f(i)))
        },
        kind: (f: unknown) => typeof f,
      })
      const seen: number[] = []
      const r = await api.work(50, (i) => {
        seen.push(i)
        return i * 10
      })
      expect(r).toEqual({ answers: Array.from({ length: 50 }, (_, i) => (i + 1) * 10), promises: 50 })
      expect(seen).toEqual(Array.from({ length: 50 }, (_, i) => i + 1))

      // An async callback, called 300 times at once.
      expect(await api.fanout(300, async (i) => {
        await sleep(i % 3)
        return i + 1
      })).toEqual(Array.from({ length: 300 }, (_, i) => i + 1))

      expect(await api.nestedFn({ label: 'abc', hooks: { transform: (s) => s.toUpperCase(), count: 2 } })).toBe('ABC/2')
      expect(await api.inArray([(x) => x + 100, (x) => x + 200])).toEqual([100, 201])
      expect(await api.kind(() => 1)).toBe('function')
    })

    it('a callback that throws rejects the procedure side with that error', async () => {
      const w = await world(mode)
      const api = await serve(w, {
        async tryIt(f: () => void) {
          try {
            await f()
            return 'no error'
          } catch (e: any) {
            return { name: e.name, message: e.message, code: e.code, remote: e instanceof RemoteError }
          }
        },
      })
      expect(await api.tryIt(() => {
        throw Object.assign(new RangeError('from the callback'), { code: 'E_CB' })
      })).toEqual({ name: 'RangeError', message: 'from the callback', code: 'E_CB', remote: true })
    })

    it('nested both ways: a callback calls a procedure that calls a callback', async () => {
      const w = await world(mode)
      const api = await serve(w, {
        async outer(x: number, cb: (y: number) => Promise<string>) {
          return `outer(${await cb(x + 1)})`
        },
        async inner(x: number, cb: (z: number) => string) {
          return `inner(${await cb(x * 10)})`
        },
      })
      const r = await within(
        api.outer(1, async (y) => `cb1(${await api.inner(y, (z) => `cb2(${z})`)})`),
        GUARD,
        'a callback that calls a procedure that calls a callback',
      )
      expect(r).toBe('outer(cb1(inner(cb2(20))))')
      // Many of them at once.
      const many = await within(
        Promise.all(Array.from({ length: 50 }, (_, i) => api.outer(i, async (y) => `cb1(${await api.inner(y, (z) => `cb2(${z})`)})`))),
        GUARD,
        'nested callbacks at once',
      )
      many.forEach((s, i) => expect(s).toBe(`outer(cb1(inner(cb2(${(i + 1) * 10}))))`))
    })

    it('a per-call callback stops being callable once the call settled (DisconnectedError, no unhandled rejection)', async () => {
      const w = await world(mode)
      let kept: ((x: number) => Promise<number>) | null = null
      let keptUncalled: ((x: number) => Promise<number>) | null = null
      const calls: number[] = []
      const api = await serve(w, {
        async keep(cb: (x: number) => number) {
          kept = cb as unknown as (x: number) => Promise<number>
          return cb(1)
        },
        keepUncalled(cb: (x: number) => number) {
          keptUncalled = cb as unknown as (x: number) => Promise<number>
          return 'kept'
        },
        async callKept(x: number) {
          return kept!(x)
        },
        fireAndForget(cb: (x: number) => void) {
          // Called without awaiting just before returning: it still runs.
          cb(7)
          return 'returned'
        },
      })
      const fn = (x: number) => {
        calls.push(x)
        return x * 2
      }
      expect(await api.keep(fn)).toBe(2)
      expect(await api.keepUncalled(fn)).toBe('kept')

      const e1 = await rejection(kept!(2), GUARD, 'a revoked callback')
      expect(e1).toBeInstanceOf(DisconnectedError)
      const e2 = await rejection(keptUncalled!(3), GUARD, 'a revoked callback never called during its call')
      expect(e2).toBeInstanceOf(DisconnectedError)
      const e3 = await rejection(api.callKept(4), GUARD, 'a procedure calling a revoked callback')
      expect(e3.name).toBe('DisconnectedError')
      // Not awaited: must not become an unhandled rejection (vitest fails the run if it does).
      void kept!(5)
      void keptUncalled!(6)
      for (let i = 0; i < 20; i++) await turn()
      expect(calls).toEqual([1])

      expect(await api.fireAndForget(fn)).toBe('returned')
      await until(() => calls.length === 2, TURNS, 'the fire-and-forget callback to run')
      expect(calls).toEqual([1, 7])
    })

    it('a received function closed on its side rejects when called (never throws)', async () => {
      const w = await world(mode)
      let kept: any = null
      const api = await serve(w, {
        keep(f: () => number) {
          kept = f
          return 'kept'
        },
      })
      const cb = callback(() => 1)
      const callAfterClose = () => {
        try {
          return kept() as Promise<unknown>
        } catch (e) {
          throw new Error(`calling a closed function threw synchronously: ${e}`)
        }
      }
      // Called before it was closed (its session is open): DisconnectedError, like a closed proxy.
      await api.keep(cb)
      expect(await kept()).toBe(1)
      kept.close()
      expect(await rejection(callAfterClose(), GUARD)).toBeInstanceOf(DisconnectedError)
      void kept() // not awaited: no unhandled rejection
      // Never called before it was closed: the handle itself is closed (HandleError).
      await api.keep(cb)
      kept.close()
      expect(await rejection(callAfterClose(), GUARD)).toBeInstanceOf(HandleError)
      void kept()
      cb.close()
    })

    it('closing a callback lets calls already made finish, streams included; later calls reject', async () => {
      const w = await world(mode)
      const consumedBefore = deferred()
      let keptF: ((n: number) => Promise<unknown>) | null = null
      const api = await serve(w, {
        async drain(f: (n: number) => AsyncIterable<number>, n: number) {
          keptF = f as unknown as (n: number) => Promise<unknown>
          const got: number[] = []
          for await (const x of await f(n)) {
            got.push(x)
            if (got.length === 3) consumedBefore.resolve()
            await turn()
          }
          return got
        },
        async sumVia(f: (xs: AsyncIterable<number>) => Promise<number>, n: number) {
          async function* items() {
            for (let i = 1; i <= n; i++) {
              yield i
              await turn()
            }
          }
          return f(items())
        },
        async callLater(f: () => number) {
          await consumedBefore.promise
          return f()
        },
      })
      // A callback returning a stream (window 32 by default, so 100 items need credit back).
      const cb = callback(async function* (n: number) {
        for (let i = 0; i < n; i++) yield i
      })
      const p = api.drain(cb as any, 100)
      await within(consumedBefore.promise, GUARD, 'the stream to start')
      cb.close()
      // A new call on the same (draining) session is refused while the stream goes on.
      const late = await rejection(keptF!(1), GUARD, 'a call after close()')
      expect(late).toBeInstanceOf(DisconnectedError)
      expect(await within(p, GUARD, 'the stream already running to finish')).toEqual(Array.from({ length: 100 }, (_, i) => i))
      expect(await rejection(api.drain(cb as any, 1), GUARD)).toBeInstanceOf(HandleError) // closed here: cannot be sent
      // A callback taking a streamed argument, closed while its items still flow.
      const inCallback = deferred()
      const cb2 = callback(async (xs: AsyncIterable<number>) => {
        let s = 0
        for await (const x of xs) {
          s += x
          inCallback.resolve()
        }
        return s
      })
      const q = api.sumVia(cb2 as any, 60)
      await within(inCallback.promise, GUARD, 'the callback to start reading')
      cb2.close()
      expect(await within(q, GUARD, 'the streamed argument to be read to its end')).toBe(1830)
    })

    it('a call that reached a callback before close() is answered; one that reached it after is refused', async () => {
      const w = await world(mode)
      let kept: any = null
      const api = await serve(w, {
        keep(f: (x: number) => number) {
          kept = f
          return 'kept'
        },
      })
      // In one process a call is delivered when it is made; over a link it arrives later, so after
      // a close() made in the same turn.
      const arrivesFirst = mode === 'in-process'
      for (const warm of [false, true]) {
        let ran = 0
        const cb = callback((x: number) => {
          ran++
          return x * 3
        })
        await api.keep(cb)
        if (warm) expect(await kept(1)).toBe(3) // its session is open and waiting
        const p = kept(2) as Promise<number> // the first call on a new session, or the next on an open one
        cb.close()
        if (arrivesFirst) expect(await within(p, GUARD, 'a call made before close()')).toBe(6)
        else expect(await rejection(p, GUARD)).toBeInstanceOf(DisconnectedError)
        expect(ran).toBe((warm ? 1 : 0) + (arrivesFirst ? 1 : 0))
        expect(await rejection(kept(3), GUARD)).toBeInstanceOf(DisconnectedError)
      }
    })

    it('callback(fn) stays callable across calls until close()', async () => {
      const w = await world(mode)
      let kept: ((x: number) => Promise<number>) | null = null
      const api = await serve(w, {
        keep(f: (x: number) => number) {
          kept = f as unknown as (x: number) => Promise<number>
          return 'kept'
        },
        async use(f: (x: number) => number, x: number) {
          return f(x)
        },
      })
      let ran = 0
      const cb = callback((x: number) => {
        ran++
        return x + 100
      })
      expect(await api.keep(cb)).toBe('kept')
      expect(await kept!(1)).toBe(101) // after the call that passed it settled
      expect(await api.use(cb, 2)).toBe(102) // passed again
      expect(await api.use(cb, 3)).toBe(103)
      expect(cb(4)).toBe(104) // and still a plain function here
      expect(await kept!(5)).toBe(105)
      expect(ran).toBe(5)
      cb.close()
      const e = await rejection(kept!(6), GUARD, 'a closed callback')
      expect(e).toBeInstanceOf(DisconnectedError)
      void kept!(7) // not awaited: no unhandled rejection
      for (let i = 0; i < 20; i++) await turn()
      expect(ran).toBe(5)
      // Sending it after close fails locally.
      expect(await rejection(api.use(cb, 8), GUARD)).toBeInstanceOf(HandleError)
    })
  })

  describe('result streams', () => {
    it('values arrive in order; `await api.stream()` resolves to an async iterable; empty streams end', async () => {
      const w = await world(mode)
      const api = await serve(w, {
        async *ticks(n: number) {
          for (let i = 0; i < n; i++) yield i
        },
        async *objects(n: number) {
          for (let i = 0; i < n; i++) yield { i, s: 'x'.repeat(i % 7) }
        },
      })
      expect(await collect(api.ticks(100), GUARD)).toEqual(Array.from({ length: 100 }, (_, i) => i))
      const it = await api.ticks(5)
      expect(typeof (it as any)[Symbol.asyncIterator]).toBe('function')
      expect(await collect(it, GUARD)).toEqual([0, 1, 2, 3, 4])
      expect(await collect(api.ticks(0), GUARD)).toEqual([])
      expect(await collect(await api.ticks(0), GUARD)).toEqual([])
      expect(await collect(api.objects(20), GUARD)).toEqual(Array.from({ length: 20 }, (_, i) => ({ i, s: 'x'.repeat(i % 7) })))
      // next() on the call itself works too.
      const direct = api.ticks(2)
      expect(await direct.next()).toEqual({ value: 0, done: false })
      expect(await direct.next()).toEqual({ value: 1, done: false })
      expect(await direct.next()).toEqual({ value: undefined, done: true })
      // Several streams interleaved on one session.
      const [x, y, z] = await Promise.all([collect(api.ticks(300), GUARD), collect(api.ticks(200), GUARD), collect(api.ticks(100), GUARD)])
      expect([x.length, y.length, z.length]).toEqual([300, 200, 100])
      expect(x).toEqual(Array.from({ length: 300 }, (_, i) => i))
    })

    it('return() on a call before reading it ends the call: the producer stops and the iterator reports done', async () => {
      const w = await world(mode)
      const finals: number[] = []
      let produced = 0
      const api = await serve(w, {
        async *endless() {
          try {
            for (;;) {
              produced++
              yield produced
            }
          } finally {
            finals.push(produced)
          }
        },
      })
      // Before anything arrived.
      const a = api.endless()
      expect(await a.return!(undefined)).toEqual({ value: undefined, done: true })
      expect(await within(a.next(), GUARD, 'next() after return()')).toEqual({ value: undefined, done: true })
      expect(await collect(await within(a as unknown as Promise<AsyncIterable<number>>, GUARD, 'the call itself'), GUARD)).toEqual([])
      // After the stream began (the call resolved to it) but before next().
      const b = api.endless.with({ window: 4 })()
      const stream = await b
      expect(await b.return!(undefined)).toEqual({ value: undefined, done: true })
      await until(() => finals.length >= 1, TURNS, "the remote generator's finally")
      expect(await within(b.next(), GUARD, 'next() after return()')).toEqual({ value: undefined, done: true })
      expect(await within(stream[Symbol.asyncIterator]().next(), GUARD, 'the stream after return()')).toEqual({ value: undefined, done: true })
      // The first one never started its generator, or ended it too.
      await until(() => finals.length === (produced > 4 + 1 ? 2 : finals.length), TURNS, 'both producers to end')
      expect(produced).toBeLessThanOrEqual(2 * (4 + DEFAULT_WINDOW + 2))
    })

    it('a procedure can return its streamed argument, or a generator over it (streams both ways at once)', async () => {
      const w = await world(mode)
      const api = await serve(w, {
        pipe: (xs: AsyncIterable<number>) => xs,
        async *double(xs: AsyncIterable<number>) {
          for await (const x of xs) yield x * 2
        },
      })
      async function* source(n: number) {
        for (let i = 0; i < n; i++) yield i
      }
      const n = mode === 'memory link, 1-byte chunks' ? 500 : 5_000
      expect(await within(collect(api.pipe(source(n)) as unknown as AsyncIterable<number>, GUARD), GUARD, 'pipe')).toEqual(Array.from({ length: n }, (_, i) => i))
      expect(await within(collect(api.double.with({ window: 3 })(source(n)), GUARD), GUARD, 'double')).toEqual(Array.from({ length: n }, (_, i) => i * 2))
      // Stopping the result stream early also ends the argument's source.
      const stopped = endless()
      const got: number[] = []
      for await (const x of api.double(stopped.source)) {
        got.push(x)
        if (got.length === 10) break
      }
      expect(got).toEqual(Array.from({ length: 10 }, (_, i) => i * 2))
      await within(stopped.ended, GUARD, "the argument source's finally")
    })

    it('a result stream is read one item at a time: a second next() while one waits rejects with TypeError', async () => {
      const w = await world(mode)
      const more = deferred()
      const api = await serve(w, {
        async *slow() {
          yield 0
          await more.promise
          yield 1
        },
      })
      const s = api.slow()
      expect(await within(s.next(), GUARD, 'the first item')).toEqual({ value: 0, done: false })
      const waiting = s.next()
      const e = await rejection(s.next(), GUARD, 'a second read while one waits')
      expect(e).toBeInstanceOf(TypeError)
      expect(e.message).toMatch(/one item at a time/)
      more.resolve()
      expect(await within(waiting, GUARD, 'the waiting read')).toEqual({ value: 1, done: false })
      expect(await within(s.next(), GUARD, 'the end')).toEqual({ value: undefined, done: true })
    })

    it('iterating a call that returned a plain value fails with a clear TypeError', async () => {
      const w = await world(mode)
      const api = await serve(w, { one: () => 1 })
      const e = await rejection(collect(api.one() as unknown as AsyncIterable<unknown>, GUARD), GUARD)
      expect(e).toBeInstanceOf(TypeError)
      expect(e.message).toMatch(/not a stream/)
    })

    const windows: [string, number | undefined][] = [['default window', undefined], ['window 4', 4], ['window 1', 1]]
    it.each(windows)('a long stream consumed slowly: the producer is never more than the window ahead (%s)', async (_, window) => {
      const w = await world(mode)
      let produced = 0
      let consumed = 0
      let maxAhead = 0
      const api = await serve(w, {
        async *count(n: number) {
          for (let i = 0; i < n; i++) {
            produced++
            maxAhead = Math.max(maxAhead, produced - consumed)
            yield i
          }
        },
      })
      const limit = window ?? DEFAULT_WINDOW
      // 1,000,000 items in-process; over a link each item is encoded and framed, so fewer.
      const n = window === undefined ? (mode === 'in-process' ? 1_000_000 : mode === 'memory link' ? 200_000 : 20_000) : (mode === 'memory link, 1-byte chunks' ? 2_000 : 20_000)
      // Slow consumer: it lets the event loop run (a whole I/O turn) every few items.
      const every = window === undefined ? 64 : 2
      const stream = window === undefined ? api.count(n) : api.count.with({ window })(n)
      let wrong = 0
      for await (const x of stream) {
        if (x !== consumed) wrong++
        consumed++
        if (consumed % every === 0) await turn()
      }
      expect(wrong).toBe(0)
      expect(consumed).toBe(n)
      expect(maxAhead).toBeLessThanOrEqual(limit + 1)
      // The producer did run ahead (the bound above is not met by accident).
      expect(maxAhead).toBeGreaterThanOrEqual(limit)
    }, 60_000)

    it('breaking out of for-await runs the remote generator\'s finally, and its signal aborts', async () => {
      const w = await world(mode)
      let produced = 0
      const finallyRan = deferred<number>()
      const aborted = deferred<unknown>()
      const api = await serve(w, {
        async *endless() {
          const signal = currentCall()!.signal
          signal.addEventListener('abort', () => aborted.resolve(signal.reason))
          try {
            for (let i = 0; ; i++) {
              produced++
              yield i
            }
          } finally {
            finallyRan.resolve(produced)
          }
        },
        add: (a: number, b: number) => a + b,
      })
      const got: number[] = []
      for await (const x of api.endless()) {
        got.push(x)
        if (got.length === 5) break
      }
      expect(got).toEqual([0, 1, 2, 3, 4])
      const n = await within(finallyRan.promise, GUARD, "the remote generator's finally")
      expect(n).toBeLessThanOrEqual(5 + DEFAULT_WINDOW + 1)
      expect(await within(aborted.promise, GUARD, 'the remote signal')).toBeDefined()
      // The session goes on.
      expect(await api.add(1, 1)).toBe(2)

      // The same with a custom window, and with return() called directly on the call.
      const finally2 = deferred<number>()
      const api2 = await serve(w, {
        async *endless() {
          let k = 0
          try {
            for (;;) yield k++
          } finally {
            finally2.resolve(k)
          }
        },
      })
      const s = api2.endless.with({ window: 2 })()
      expect(await s.next()).toEqual({ value: 0, done: false })
      expect(await s.return!(undefined)).toEqual({ value: undefined, done: true })
      expect(await within(finally2.promise, GUARD, "the remote generator's finally (return())")).toBeLessThanOrEqual(1 + 2 + 1)
      expect(await s.next()).toEqual({ value: undefined, done: true })
    })

    it('an error thrown mid-stream arrives after the values before it', async () => {
      const w = await world(mode)
      const api = await serve(w, {
        async *failing(n: number) {
          for (let i = 0; i < n; i++) yield i
          throw Object.assign(new RangeError('mid-stream'), { code: 'E_MID' })
        },
        async *failsFirst() {
          throw new TypeError('before anything')
        },
      })
      const got: number[] = []
      let err: any
      try {
        for await (const x of api.failing(100)) got.push(x)
      } catch (e) {
        err = e
      }
      expect(got).toEqual(Array.from({ length: 100 }, (_, i) => i))
      expect(err).toBeInstanceOf(RangeError)
      expect(err).toBeInstanceOf(RemoteError)
      expect(err.message).toBe('mid-stream')
      expect(err.code).toBe('E_MID')
      // With a small window too.
      const got2: number[] = []
      const err2 = await rejection((async () => {
        for await (const x of api.failing.with({ window: 3 })(10)) got2.push(x)
      })(), GUARD)
      expect(got2).toEqual(Array.from({ length: 10 }, (_, i) => i))
      expect(err2.message).toBe('mid-stream')
      // A generator that throws before its first item: awaiting the call rejects.
      const e3 = await rejection(api.failsFirst() as unknown as Promise<unknown>, GUARD)
      expect(e3).toBeInstanceOf(TypeError)
      expect(e3.message).toBe('before anything')
    })

    it('a stream item that cannot be sent ends the stream with that error', async () => {
      const w = await world(mode)
      const finallyRan = deferred()
      const api = await serve(w, {
        async *bad() {
          try {
            yield 1
            yield { f: () => 1 }
            yield 3
          } finally {
            finallyRan.resolve()
          }
        },
      })
      const got: unknown[] = []
      const e = await rejection((async () => {
        for await (const x of api.bad()) got.push(x)
      })(), GUARD)
      expect(got).toEqual([1])
      expect(e.name).toBe('UnsupportedValueError')
      await within(finallyRan.promise, GUARD, 'the generator to be closed')
    })
  })

  describe('argument streams', () => {
    it.each([['default window', undefined], ['window 4', 4]] as const)('an async iterable argument is pulled with the window (%s)', async (_, window) => {
      const w = await world(mode)
      let consumed = 0
      const api = await serve(w, {
        async sum(xs: AsyncIterable<number>, every: number) {
          let s = 0
          for await (const x of xs) {
            s += x
            consumed++
            if (consumed % every === 0) await turn()
          }
          return s
        },
      })
      let produced = 0
      let maxAhead = 0
      const finallyRan = deferred()
      async function* source(n: number) {
        try {
          for (let i = 0; i < n; i++) {
            produced++
            maxAhead = Math.max(maxAhead, produced - consumed)
            yield i
          }
        } finally {
          finallyRan.resolve()
        }
      }
      const n = mode === 'memory link, 1-byte chunks' ? 3_000 : 30_000
      const limit = window ?? DEFAULT_WINDOW
      const every = window === undefined ? 64 : 2
      const call = window === undefined ? api.sum(source(n), every) : api.sum.with({ window })(source(n), every)
      expect(await within(call, 60_000, 'the sum of a streamed argument')).toBe((n * (n - 1)) / 2)
      expect(consumed).toBe(n)
      await within(finallyRan.promise, GUARD, "the source's finally")
      expect(maxAhead).toBeLessThanOrEqual(limit + 1)
      expect(maxAhead).toBeGreaterThanOrEqual(limit)
    }, 60_000)

    it('two streamed arguments and plain ones in one call; an array or a handle is not streamed', async () => {
      const w = await world(mode)
      const api = await serve(w, {
        async zip(a: AsyncIterable<number>, label: string, b: AsyncIterable<string>) {
          const ia = a[Symbol.asyncIterator]()
          const ib = b[Symbol.asyncIterator]()
          const out: string[] = []
          for (;;) {
            const [x, y] = await Promise.all([ia.next(), ib.next()])
            if (x.done || y.done) break
            out.push(`${label}${x.value}${y.value}`)
          }
          return out
        },
        kind: (x: unknown) => (Array.isArray(x) ? 'array' : x instanceof Receiver ? 'receiver' : typeof x),
      })
      async function* nums() {
        for (let i = 0; i < 50; i++) yield i
      }
      async function* letters() {
        for (let i = 0; i < 40; i++) yield String.fromCharCode(97 + (i % 26))
      }
      const r = await within(api.zip(nums(), '#', letters()), GUARD, 'zip')
      expect(r).toHaveLength(40)
      expect(r[0]).toBe('#0a')
      expect(r[39]).toBe('#39n')
      expect(await api.kind([1, 2])).toBe('array')
      const [, rx] = channel<number>()
      expect(await api.kind(rx)).toBe('receiver')
    })

    it('the procedure stopping early ends the caller\'s generator (its finally runs)', async () => {
      const w = await world(mode)
      const releaseStopsThenWaits = deferred()
      const api = await serve(w, {
        async firstN(xs: AsyncIterable<number>, n: number) {
          const out: number[] = []
          for await (const x of xs) {
            out.push(x)
            if (out.length === n) break
          }
          return out
        },
        async ignores(_xs: AsyncIterable<number>) {
          return 'did not read'
        },
        async stopsThenWaits(xs: AsyncIterable<number>) {
          for await (const _ of xs) break
          await releaseStopsThenWaits.promise
          return 'done'
        },
        async readsOneThenReturns(xs: AsyncIterable<number>) {
          const it = xs[Symbol.asyncIterator]()
          return (await it.next()).value
        },
      })
      const forFirstN = endless()
      expect(await within(api.firstN(forFirstN.source, 3), GUARD, 'firstN')).toEqual([0, 1, 2])
      expect(await within(forFirstN.ended, GUARD, "the caller's generator finally")).toBeLessThanOrEqual(3 + DEFAULT_WINDOW + 1)

      // The procedure stops reading and goes on running: the source ends now, not when the call does.
      const forStops = endless()
      const running = api.stopsThenWaits(forStops.source)
      await within(forStops.ended, GUARD, "the caller's generator finally while the call still runs")
      releaseStopsThenWaits.resolve()
      expect(await within(running, GUARD, 'stopsThenWaits')).toBe('done')

      // The procedure returns without reading: nothing is pulled, the call settles.
      let started = false
      async function* notStarted() {
        started = true
        yield 1
      }
      expect(await api.ignores(notStarted())).toBe('did not read')
      for (let i = 0; i < 10; i++) await turn()
      expect(started).toBe(false)

      // The procedure reads one item and returns without break: its end still stops the source.
      const forReadsOne = endless()
      expect(await api.readsOneThenReturns(forReadsOne.source)).toBe(0)
      expect(await within(forReadsOne.ended, GUARD, "the caller's generator finally (procedure returned)")).toBeLessThanOrEqual(1 + DEFAULT_WINDOW + 1)
    })

    it('a streamed argument is read one item at a time: a second next() while one waits rejects with TypeError', async () => {
      const w = await world(mode)
      const api = await serve(w, {
        async twoReads(xs: AsyncIterable<number>) {
          const it = xs[Symbol.asyncIterator]()
          const waiting = it.next()
          const second = await it.next().then(
            () => 'resolved',
            (e: Error) => `${e.name}: ${e.message}`,
          )
          return { second, first: (await waiting).value }
        },
      })
      // Both reads are made before anything could arrive (the first one sends the PULL).
      async function* one() {
        yield 7
      }
      const r = await within(api.twoReads(one()), GUARD, 'twoReads')
      expect(r.first).toBe(7)
      expect(r.second).toMatch(/^TypeError: .*one item at a time/)
    })

    it("the caller's iterable throwing reaches the procedure as an error", async () => {
      const w = await world(mode)
      const api = await serve(w, {
        async reads(xs: AsyncIterable<number>) {
          const got: number[] = []
          try {
            for await (const x of xs) got.push(x)
            return { got, error: null }
          } catch (e: any) {
            return { got, error: { name: e.name, message: e.message, code: e.code, remote: e instanceof RemoteError } }
          }
        },
        async passesOn(xs: AsyncIterable<number>) {
          for await (const _ of xs) {
            // the error is not caught: it becomes the call's error
          }
          return 'unreachable'
        },
      })
      async function* bad() {
        yield 1
        yield 2
        throw Object.assign(new TypeError('source broke'), { code: 'E_SRC' })
      }
      expect(await within(api.reads(bad()), GUARD, 'reads')).toEqual({ got: [1, 2], error: { name: 'TypeError', message: 'source broke', code: 'E_SRC', remote: true } })
      const e = await rejection(api.passesOn(bad()), GUARD)
      expect(e).toBeInstanceOf(TypeError)
      expect(e.message).toBe('source broke')
      // An item that cannot be sent fails the argument with that error.
      async function* unsendable() {
        yield 1
        yield Symbol('no') as unknown as number
      }
      const r = await within(api.reads(unsendable()), GUARD, 'reads (unsendable item)')
      expect(r.got).toEqual([1])
      expect(r.error!.name).toBe('UnsupportedValueError')
    })
  })

  describe('cancellation', () => {
    /** A procedure that never returns by itself and reports its start and the abort it sees. */
    function hanging() {
      const started: number[] = []
      const aborts: unknown[] = []
      let next = 0
      const impl = {
        async hang() {
          const call = currentCall()!
          const me = next++
          call.signal.addEventListener('abort', () => aborts.push(call.signal.reason))
          started.push(me)
          await parked()
        },
        add: (a: number, b: number) => a + b,
      }
      return { impl, started, aborts }
    }

    it("a per-call signal and the proxy's default signal both cancel (either one aborting)", async () => {
      const w = await world(mode)
      const { impl, started, aborts } = hanging()
      const proxyWide = new AbortController()
      const there = await w.toA(expose(impl))
      const api = remote(there, { signal: proxyWide.signal })
      there.close()
      cleanups.push(() => api[Symbol.dispose]())
      const perCall = new AbortController()
      const p1 = api.hang.with({ signal: perCall.signal })()
      const p2 = api.hang.with({ signal: new AbortController().signal })()
      await until(() => started.length === 2, TURNS, 'both calls to start')
      proxyWide.abort(new Error('the whole proxy'))
      expect((await rejection(p1, GUARD)).message).toBe('the whole proxy')
      expect((await rejection(p2, GUARD)).message).toBe('the whole proxy')
      await until(() => aborts.length === 2, TURNS, 'both procedures to see the abort')
    })

    it('.with({ signal }): abort rejects at once with signal.reason, and the procedure sees its signal abort', async () => {
      const w = await world(mode)
      const { impl, started, aborts } = hanging()
      const api = await serve(w, impl)
      const ac = new AbortController()
      const reason = new Error('user gave up')
      const p = api.hang.with({ signal: ac.signal })()
      const other = api.hang()
      await until(() => started.length === 2, TURNS, 'both calls to start')
      ac.abort(reason)
      // At once: before the event loop even turns once more.
      const first = await Promise.race([p.then(() => 'resolved', (e) => e), turn().then(() => 'later')])
      expect(first).toBe(reason)
      await until(() => aborts.length === 1, TURNS, 'the procedure to see the abort')
      expect(aborts[0]).toBeInstanceOf(Error)
      expect((aborts[0] as Error).name).toBe('AbortError')
      // The other call on the session is untouched, and the session goes on.
      expect(await api.add(2, 2)).toBe(4)
      expect(aborts).toHaveLength(1)
      const otherOutcome = rejection(other, GUARD)

      // Already aborted: rejects with the reason and nothing is called.
      const pre = new AbortController()
      pre.abort('already')
      expect(await rejection(api.hang.with({ signal: pre.signal })(), GUARD)).toBe('already')
      for (let i = 0; i < 10; i++) await turn()
      expect(started).toHaveLength(2)
      api[Symbol.dispose]()
      expect(await otherOutcome).toBeInstanceOf(DisconnectedError)
    })

    it('.with({ timeout }) rejects with TimeoutError and the remote signal aborts; defaults from remote(ep, options)', async () => {
      const w = await world(mode)
      const { impl, started, aborts } = hanging()
      const api = await serve(w, impl)
      const e = await rejection(api.hang.with({ timeout: 30 })(), GUARD)
      expect(e).toBeInstanceOf(TimeoutError)
      expect(e.name).toBe('TimeoutError')
      expect(started).toHaveLength(1)
      await until(() => aborts.length === 1, TURNS, 'the procedure to see the timeout')

      // A call that answers in time is not affected by its timeout.
      expect(await api.add.with({ timeout: 10_000 })(1, 2)).toBe(3)

      const ep = await w.toA(expose(impl))
      const withDefaults = remote<typeof impl>(ep, { timeout: 30 })
      ep.close()
      cleanups.push(() => withDefaults[Symbol.dispose]())
      expect(await rejection(withDefaults.hang(), GUARD)).toBeInstanceOf(TimeoutError)
      await until(() => aborts.length === 2, TURNS, 'the procedure to see the default timeout')
    })

    it('aborting mid-stream rejects the consumer with the reason and ends the remote generator', async () => {
      const w = await world(mode)
      const finallyRan = deferred()
      const sawAbort = deferred<unknown>()
      const api = await serve(w, {
        async *endless() {
          const s = currentCall()!.signal
          s.addEventListener('abort', () => sawAbort.resolve(s.reason))
          try {
            for (let i = 0; ; i++) yield i
          } finally {
            finallyRan.resolve()
          }
        },
      })
      const ac = new AbortController()
      const reason = new Error('enough')
      const got: number[] = []
      const err = await rejection((async () => {
        for await (const x of api.endless.with({ signal: ac.signal })()) {
          got.push(x)
          if (got.length === 3) ac.abort(reason)
        }
      })(), GUARD)
      expect(err).toBe(reason)
      expect(got).toEqual([0, 1, 2])
      await within(sawAbort.promise, GUARD, 'the remote signal')
      await within(finallyRan.promise, GUARD, "the remote generator's finally")
    })

    it("aborting while an argument is streamed ends the caller's source (its finally runs)", async () => {
      const w = await world(mode)
      let consumed = 0
      const api = await serve(w, {
        async slowSum(xs: AsyncIterable<number>) {
          let s = 0
          for await (const x of xs) {
            s += x
            consumed++
            await turn()
          }
          return s
        },
      })
      const source = endless()
      const ac = new AbortController()
      const p = api.slowSum.with({ signal: ac.signal, window: 4 })(source.source)
      await until(() => consumed >= 5, TURNS, 'the procedure to read some items')
      ac.abort('stop')
      expect(await rejection(p, GUARD)).toBe('stop')
      const n = await within(source.ended, GUARD, "the caller's source finally")
      expect(n - consumed).toBeLessThanOrEqual(4 + 2)
    })

    it('bad call options are refused where they are written; timeout Infinity means none', async () => {
      const w = await world(mode)
      const api = await serve(w, {
        async later() {
          await sleep(5)
          return 'later'
        },
      })
      for (const window of [0, -1, 1.5, MAX_WINDOW + 1, NaN, Infinity]) {
        expect(() => api.later.with({ window }), `window ${window}`).toThrow(RangeError)
      }
      for (const timeout of [-1, NaN]) {
        expect(() => api.later.with({ timeout }), `timeout ${timeout}`).toThrow(RangeError)
      }
      expect(() => api.later.with({ signal: {} as AbortSignal })).toThrow(TypeError)
      const ep = await w.toA(expose({}))
      expect(() => remote(ep, { window: 0 })).toThrow(RangeError)
      ep.close()
      expect(await api.later.with({ timeout: Infinity })()).toBe('later')
      expect(await api.later.with({ timeout: 2 ** 40 })()).toBe('later')
      expect(await api.later.with({ window: MAX_WINDOW })()).toBe('later')
    })

    it('closing the proxy aborts its pending calls remotely and rejects them with DisconnectedError', async () => {
      const w = await world(mode)
      const { impl, started, aborts } = hanging()
      const ep = await w.toA(expose(impl))
      const api = remote<typeof impl>(ep)
      const p1 = api.hang()
      const p2 = api.hang()
      await until(() => started.length === 2, TURNS, 'both calls to start')
      api[Symbol.dispose]()
      const [e1, e2] = await Promise.all([rejection(p1, GUARD), rejection(p2, GUARD)])
      expect(e1).toBeInstanceOf(DisconnectedError)
      expect(e2).toBeInstanceOf(DisconnectedError)
      await until(() => aborts.length === 2, TURNS, 'the procedures to see the aborts')
      // Later calls on the closed proxy reject too.
      expect(await rejection(api.add(1, 2), GUARD)).toBeInstanceOf(DisconnectedError)
      // The endpoint is still good for a new proxy.
      const again = remote<typeof impl>(ep)
      expect(await again.add(1, 2)).toBe(3)
      again[Symbol.dispose]()
      ep.close()
    })
  })

  describe('remote errors', () => {
    it('name, message, code, cause chain and own fields arrive; built-ins as themselves and as RemoteError; the remote stack is kept', async () => {
      const w = await world(mode)
      const api = await serve(w, {
        boom() {
          throw Object.assign(new Error('boom', { cause: new RangeError('inner', { cause: { plain: true } }) }), { code: 'E_BOOM', extra: { a: [1, 2] }, n: 7 })
        },
        type() {
          throw new TypeError('bad type')
        },
        range() {
          throw new RangeError('out of range')
        },
        async asyncThrow() {
          await sleep(1)
          return throwsFromANamedFunction()
        },
        validation() {
          throw new ValidationError('bad field', 'email')
        },
        registered() {
          throw new RegisteredError('registered one')
        },
        aggregate() {
          throw new AggregateError([new Error('a'), new TypeError('b')], 'many')
        },
      })
      function throwsFromANamedFunction(): never {
        throw new Error('deep')
      }

      const e = await rejection(api.boom(), GUARD)
      expect(e).toBeInstanceOf(Error)
      expect(e).toBeInstanceOf(RemoteError)
      expect(e.name).toBe('Error')
      expect(e.message).toBe('boom')
      expect(e.code).toBe('E_BOOM')
      expect(e.extra).toEqual({ a: [1, 2] })
      expect(e.n).toBe(7)
      expect(e.cause).toBeInstanceOf(RangeError)
      expect(e.cause).toBeInstanceOf(RemoteError)
      expect(e.cause.message).toBe('inner')
      expect(e.cause.cause).toEqual({ plain: true })

      const t = await rejection(api.type(), GUARD)
      expect(t).toBeInstanceOf(TypeError)
      expect(t).toBeInstanceOf(RemoteError)
      expect(t.message).toBe('bad type')
      const r = await rejection(api.range(), GUARD)
      expect(r).toBeInstanceOf(RangeError)
      expect(r).toBeInstanceOf(RemoteError)

      const d = await rejection(api.asyncThrow(), GUARD)
      expect(d.stack).toContain(REMOTE_STACK_MARKER)
      const [local, remotePart] = d.stack.split(REMOTE_STACK_MARKER)
      expect(local).toContain('Error: deep')
      expect(local).toContain('"asyncThrow"')
      expect(remotePart).toContain('throwsFromANamedFunction')

      const v = await rejection(api.validation(), GUARD)
      expect(v.name).toBe('ValidationError')
      expect(v.message).toBe('bad field')
      expect(v.field).toBe('email')
      expect(v).toBeInstanceOf(RemoteError)

      const g = await rejection(api.registered(), GUARD)
      expect(g).toBeInstanceOf(RegisteredError)
      expect(g).toBeInstanceOf(RemoteError)
      expect(g.name).toBe('RegisteredError')
      expect(g.message).toBe('registered one')
      expect(g.detail).toBe('d')

      const a = await rejection(api.aggregate(), GUARD)
      expect(a).toBeInstanceOf(AggregateError)
      expect(a.errors.map((x: Error) => x.message)).toEqual(['a', 'b'])
      expect(a.errors[1]).toBeInstanceOf(TypeError)
      for (const inner of a.errors) expect(inner).toBeInstanceOf(RemoteError)
    })

    it('a thrown non-Error arrives as that value', async () => {
      const w = await world(mode)
      const api = await serve(w, {
        str() {
          throw 'just a string'
        },
        obj() {
          throw { code: 42, why: ['x'] }
        },
        num() {
          throw 0
        },
        undef() {
          throw undefined
        },
        nul() {
          throw null
        },
        async rejects() {
          return Promise.reject(false)
        },
      })
      expect(await rejection(api.str(), GUARD)).toBe('just a string')
      expect(await rejection(api.obj(), GUARD)).toEqual({ code: 42, why: ['x'] })
      expect(await rejection(api.num(), GUARD)).toBe(0)
      expect(await rejection(api.undef(), GUARD)).toBeUndefined()
      expect(await rejection(api.nul(), GUARD)).toBeNull()
      expect(await rejection(api.rejects(), GUARD)).toBe(false)
    })

    it('an error with a field that cannot be sent still arrives (as an error)', async () => {
      const w = await world(mode)
      const api = await serve(w, {
        weird() {
          throw Object.assign(new Error('has a symbol field'), { s: Symbol('x'), ok: 1 })
        },
        weirdCause() {
          throw new Error('bad cause', { cause: Symbol('y') })
        },
      })
      const e = await rejection(api.weird(), GUARD)
      expect(e).toBeInstanceOf(Error)
      expect(e.message).toBe('has a symbol field')
      const c = await rejection(api.weirdCause(), GUARD)
      expect(c).toBeInstanceOf(Error)
    })
  })

  describe('names', () => {
    it('then, toString, valueOf and toJSON are not procedures on the proxy: printing or awaiting it calls nothing', async () => {
      const w = await world(mode)
      let calls = 0
      const impl = { add: (a: number, b: number) => (calls++, a + b) }
      const api = await serve(w, impl)
      for (const name of ['then', 'toString', 'valueOf', 'toJSON']) {
        expect((api as any)[name], name).toBeUndefined()
        expect(name in api, name).toBe(false)
      }
      expect(JSON.stringify(api)).toBe('{}')
      expect(() => String(api)).toThrow(TypeError) // no way to make it a string, and no remote call
      expect(await Promise.resolve(api)).toBe(api)
      expect(await api.add(1, 1)).toBe(2)
      expect(calls).toBe(1)
    })

    it('an async iterable nested inside an argument is refused with UnsupportedValueError (only top-level ones stream)', async () => {
      const w = await world(mode)
      const api = await serve(w, { take: (o: unknown) => typeof o })
      async function* gen() {
        yield 1
      }
      const e = await rejection(api.take({ items: gen() }), GUARD)
      expect(e).toBeInstanceOf(UnsupportedValueError)
      expect(e.message).toMatch(/top-level argument/)
      expect(await api.take({ items: [1] })).toBe('object')
    })

    it('non-exposed names, non-functions, prototype names and getters are refused with a TypeError (ERR_IPFI_NO_SUCH_PROCEDURE)', async () => {
      const w = await world(mode)
      let getterRan = 0
      const impl = {
        add: (a: number, b: number) => a + b,
        version: '1.0',
        count: 3,
        nested: { f: () => 1 },
        get secret() {
          getterRan++
          return () => 'secret'
        },
      }
      const api = await serve(w, impl)
      const names = ['missing', 'version', 'count', 'nested', 'secret', '__proto__', 'constructor', 'prototype', 'hasOwnProperty', 'isPrototypeOf', '__defineGetter__', 'toLocaleString', '', 'x'.repeat(300)]
      for (const name of names) {
        const e = await rejection((api as any)[name](), GUARD, `calling ${JSON.stringify(name.slice(0, 20))}`)
        expect(e, name).toBeInstanceOf(TypeError)
        expect(e, name).toBeInstanceOf(RemoteError)
        expect(e.code, name).toBe('ERR_IPFI_NO_SUCH_PROCEDURE')
        expect(e.message, name).toMatch(/no procedure named/)
      }
      expect(getterRan).toBe(0)
      expect(await api.add(1, 2)).toBe(3)
    })

    it('class instances: prototype methods (inherited too) run with `this` bound; statics, getters and private parts are not callable', async () => {
      const w = await world(mode)
      let getterRan = 0
      class Counter {
        #n = 0
        step = 2
        inc() {
          this.#n += this.step
          return this.#n
        }
        get value() {
          getterRan++
          return this.#n
        }
        static create() {
          return new Counter()
        }
      }
      class Doubling extends Counter {
        twice() {
          this.inc()
          return this.inc()
        }
      }
      const api = await serve(w, new Doubling())
      expect(await api.inc()).toBe(2)
      expect(await api.twice()).toBe(6)
      for (const name of ['value', 'create', 'constructor', 'step', '#n']) {
        const e = await rejection((api as any)[name](), GUARD, name)
        expect(e.code, name).toBe('ERR_IPFI_NO_SUCH_PROCEDURE')
      }
      expect(getterRan).toBe(0)
    })

    it('a function exposed by itself: its own methods and Function.prototype are not reachable', async () => {
      const w = await world(mode)
      const f = Object.assign((x: number) => x + 1, { extra: (x: number) => x * 3 })
      const api = await serve(w, f as any)
      expect(await api.extra(5)).toBe(15)
      for (const name of ['call', 'apply', 'bind', 'length', 'name', 'prototype']) {
        const e = await rejection(api[name](), GUARD, name)
        expect(e.code, name).toBe('ERR_IPFI_NO_SUCH_PROCEDURE')
      }
    })
  })

  describe('expose options and endpoint life', () => {
    it('expose({ signal }): aborting withdraws the procedures; pending and later calls reject DisconnectedError', async () => {
      const w = await world(mode)
      const ac = new AbortController()
      const aborts: unknown[] = []
      let started = 0
      const impl = {
        async hang() {
          const s = currentCall()!.signal
          s.addEventListener('abort', () => aborts.push(s.reason))
          started++
          await parked()
        },
        add: (a: number, b: number) => a + b,
      }
      const ep = await w.toA(expose(impl, { signal: ac.signal }))
      const api = remote<typeof impl>(ep)
      cleanups.push(() => api[Symbol.dispose](), () => ep.close())
      expect(await api.add(1, 2)).toBe(3)
      const p = api.hang()
      await until(() => started === 1, TURNS, 'the call to start')
      ac.abort()
      expect(await rejection(p, GUARD)).toBeInstanceOf(DisconnectedError)
      await until(() => aborts.length === 1, TURNS, 'the running call to be aborted')
      expect(await rejection(api.add(1, 2), GUARD)).toBeInstanceOf(DisconnectedError)
      // A new session on the same endpoint fails too.
      const again = remote<typeof impl>(ep)
      expect(await rejection(again.add(1, 2), GUARD)).toBeInstanceOf(DisconnectedError)
      again[Symbol.dispose]()

      // Already aborted when exposing.
      const ep2 = await w.toA(expose(impl, { signal: AbortSignal.abort() }))
      const api2 = remote<typeof impl>(ep2)
      expect(await rejection(api2.add(1, 2), GUARD)).toBeInstanceOf(DisconnectedError)
      api2[Symbol.dispose]()
      ep2.close()
    })

    it('a forgotten proxy is collected: its session and its copy of the endpoint close, and the procedures are let go', async () => {
      const gc = (globalThis as { gc?: () => void }).gc
      if (!gc) return // vitest.config.ts runs tests with --expose-gc
      const w = await world(mode)
      let weakImpl: WeakRef<object>
      let weakProxy: WeakRef<object>
      const closedSessions = deferred()
      await (async () => {
        const impl = {
          add: (a: number, b: number) => a + b,
        }
        weakImpl = new WeakRef(impl)
        const ep = await w.toA(expose(impl))
        const api = remote<typeof impl>(ep)
        ep.close() // the proxy's own copy is the last one
        expect(await api.add(1, 2)).toBe(3)
        weakProxy = new WeakRef(api)
      })()
      closedSessions.resolve()
      for (let i = 0; i < 300 && (weakImpl!.deref() !== undefined || weakProxy!.deref() !== undefined); i++) {
        await turn()
        gc()
      }
      expect(weakProxy!.deref()).toBeUndefined()
      expect(weakImpl!.deref()).toBeUndefined()
    })

    it('expose({ signal }) with a long-lived signal does not keep procedures alive once they ended', async () => {
      const gc = (globalThis as { gc?: () => void }).gc
      if (!gc) return
      const w = await world(mode)
      const shutdown = new AbortController() // lives as long as the test: like a process-wide signal
      const weak: WeakRef<object>[] = []
      for (let i = 0; i < 3; i++) {
        await (async () => {
          const impl = { add: (a: number, b: number) => a + b }
          weak.push(new WeakRef(impl))
          const ep = await w.toA(expose(impl, { signal: shutdown.signal }))
          const api = remote<typeof impl>(ep)
          ep.close()
          expect(await api.add(i, 1)).toBe(i + 1)
          api[Symbol.dispose]()
        })()
      }
      for (let i = 0; i < 300 && weak.some((r) => r.deref() !== undefined); i++) {
        await turn()
        gc()
      }
      expect(weak.map((r) => r.deref())).toEqual([undefined, undefined, undefined])
      void shutdown
    })

    it('once every copy of the endpoint is closed, open sessions go on, remote() on a closed endpoint throws HandleError, and the server lets go', async () => {
      const w = await world(mode)
      let weak: WeakRef<object>
      const make = () => {
        const impl = { add: (a: number, b: number) => a + b }
        weak = new WeakRef(impl)
        return expose(impl)
      }
      const ep = await w.toA(make())
      const copy = ep.clone()
      const api = remote(ep)
      ep.close()
      copy.close()
      expect(() => remote(ep)).toThrow(HandleError)
      expect(() => remote(copy)).toThrow(HandleError)
      expect(() => remote({} as any)).toThrow(HandleError)
      // The proxy has its own copy: its session goes on.
      expect(await (api as any).add(20, 22)).toBe(42)
      api[Symbol.dispose]()
      // Nothing holds the procedures any more.
      const gc = (globalThis as { gc?: () => void }).gc
      if (gc) {
        for (let i = 0; i < 200 && weak!.deref() !== undefined; i++) {
          await turn()
          gc()
        }
        expect(weak!.deref()).toBeUndefined()
      }
    })
  })
})

// ---------------------------------------------------------------------------------------------
// Limits (over a link; maxArgBytes only counts what crossed a wire)
// ---------------------------------------------------------------------------------------------

describe.each(LINK_MODES)('procedure limits (%s)', (mode) => {
  it('maxCallsInFlight: a call over the limit rejects LimitExceededError; the others and the link keep working', async () => {
    const w = await world(mode)
    const gate = deferred()
    let started = 0
    const impl = {
      async hang() {
        started++
        await gate.promise
        return 'done'
      },
      add: (a: number, b: number) => a + b,
    }
    const api = await serve(w, impl, { limits: { maxCallsInFlight: 2 } })
    const p1 = api.hang()
    const p2 = api.hang()
    await until(() => started === 2, TURNS, 'two calls to start')
    const e = await rejection(api.add(1, 2), GUARD)
    expect(e).toBeInstanceOf(LimitExceededError)
    expect(e.code).toBe('ERR_IPFI_LIMIT_EXCEEDED')
    expect(e.message).toMatch(/maxCallsInFlight/)
    // Counted per link: a second session over the same link is refused too.
    const ep = await w.toA(expose(impl, { limits: { maxCallsInFlight: 2 } }))
    const other = remote<typeof impl>(ep)
    ep.close()
    cleanups.push(() => other[Symbol.dispose]())
    expect(await other.add(1, 1)).toBe(2) // a different expose() has its own count
    gate.resolve()
    expect(await within(Promise.all([p1, p2]), GUARD, 'the two calls')).toEqual(['done', 'done'])
    expect(await api.add(1, 2)).toBe(3)
    // Streams count while they run.
    expect(started).toBe(2)
  })

  it('maxCallbacksPerCall: a call with too many functions rejects LimitExceededError; one within the limit works', async () => {
    const w = await world(mode)
    const api = await serve(w, {
      async callAll(fs: (() => number)[]) {
        return (await Promise.all(fs.map((f) => f()))).reduce((a, b) => a + b, 0)
      },
      add: (a: number, b: number) => a + b,
    }, { limits: { maxCallbacksPerCall: 2 } })
    expect(await api.callAll([() => 1, () => 2])).toBe(3)
    let ran = 0
    const e = await rejection(api.callAll([() => ++ran, () => ++ran, () => ++ran]), GUARD)
    expect(e).toBeInstanceOf(LimitExceededError)
    expect(e.message).toMatch(/maxCallbacksPerCall/)
    expect(ran).toBe(0)
    // Long-lived callbacks count too.
    const cb = callback(() => 5)
    expect(await rejection(api.callAll([cb, cb, cb]), GUARD)).toBeInstanceOf(LimitExceededError)
    expect(await api.callAll([cb, cb])).toBe(10)
    cb.close()
    expect(await api.add(2, 2)).toBe(4)
  })

  it('maxArgBytes: an oversized call rejects LimitExceededError; small calls work; in-process calls are not counted', async () => {
    const w = await world(mode)
    const impl = { len: (s: string) => s.length }
    const api = await serve(w, impl, { limits: { maxArgBytes: 1_000 } })
    expect(await api.len('x'.repeat(500))).toBe(500)
    const e = await rejection(api.len('x'.repeat(5_000)), GUARD)
    expect(e).toBeInstanceOf(LimitExceededError)
    expect(e.message).toMatch(/maxArgBytes/)
    expect(await api.len('y'.repeat(10))).toBe(10)
    // The same limit, in one process: nothing was encoded, nothing is counted.
    const local = remote(expose(impl, { limits: { maxArgBytes: 1_000 } }))
    expect(await local.len('x'.repeat(5_000))).toBe(5_000)
    local[Symbol.dispose]()
    // The link is still fine.
    w.a!.sender.send('still up')
    expect(await within(w.b!.receiver.recv(), GUARD, 'a message on the link')).toBe('still up')
  })

  it('limits are validated', () => {
    expect(() => expose({}, { limits: { maxArgBytes: -1 } })).toThrow(RangeError)
    expect(() => expose({}, { limits: { maxCallsInFlight: Number.NaN } })).toThrow(RangeError)
    expect(() => expose({}, { limits: { maxCallbacksPerCall: '3' as any } })).toThrow(RangeError)
    expect(() => expose({}, { asyncContext: 'yes' as any })).toThrow(TypeError)
    expect(DEFAULT_PROCEDURE_LIMITS).toEqual({ maxCallsInFlight: 16_384, maxCallbacksPerCall: 64, maxArgBytes: 16 * 1024 * 1024 })
  })
})

// ---------------------------------------------------------------------------------------------
// Hostile session messages, crafted by hand on a session opened by hand
// ---------------------------------------------------------------------------------------------

describe.each(MODES)('hostile call messages (%s)', (mode) => {
  const started: string[] = []
  const aborted: string[] = []
  const impl = {
    add: (a: number, b: number) => a + b,
    async hang(tag: string) {
      const s = currentCall()!.signal
      s.addEventListener('abort', () => aborted.push(tag))
      started.push(tag)
      await parked()
    },
    async sum(xs: AsyncIterable<number>) {
      let s = 0
      for await (const x of xs) s += x
      return s
    },
    async waitThenSum(xs: AsyncIterable<number>) {
      await parked()
      return xs
    },
    async *ticks(n: number) {
      for (let i = 0; i < n; i++) yield i
    },
  }

  /** A session opened by hand on an endpoint that reached A. */
  async function rawSession(w: World, ep: Endpoint<unknown>) {
    const [callTx, callRx] = channel<unknown>()
    const [replyTx, replyRx] = channel<unknown[]>()
    ;(ep as any)[INTERNAL]({ calls: callRx, reply: replyTx })
    return {
      send: (m: unknown) => callTx.send(m),
      next: () => within(replyRx.recv(), GUARD, 'a reply'),
      callTx,
      replyRx,
    }
  }

  async function setup() {
    started.length = 0
    aborted.length = 0
    const w = await world(mode)
    const ep = await w.toA(expose(impl))
    cleanups.push(() => ep.close())
    return { w, ep }
  }

  /** The session was closed with a ProtocolError (CLOSE), then the reply channel ended. */
  async function expectClosed(s: Awaited<ReturnType<typeof rawSession>>, what: string) {
    const m = await s.next()
    expect(m[0], what).toBe(CLOSE)
    // Read off a raw reply channel: only the codec saw it (a proxy would also revive the class).
    expect((m[1] as Error).name, what).toBe('ProtocolError')
    expect((m[1] as ProtocolError).code, what).toBe('ERR_IPFI_PROTOCOL')
    expect(await rejection(s.replyRx.recv(), GUARD, 'the reply channel to end')).toBeInstanceOf(DisconnectedError)
  }

  /** The endpoint (and the link) still serve a normal proxy. */
  async function stillWorks(ep: Endpoint<unknown>) {
    const api = remote<typeof impl>(ep)
    try {
      expect(await api.add(40, 2)).toBe(42)
    } finally {
      api[Symbol.dispose]()
    }
  }

  it('a well-formed session by hand works: CALL -> RESULT, stream with CREDIT, unknown names -> ERROR', async () => {
    const { w, ep } = await setup()
    const s = await rawSession(w, ep)
    s.send([CALL, 0, 'add', [1, 2], 1, []])
    expect(await s.next()).toEqual([RESULT, 0, 3])
    s.send([CALL, 1, 'ticks', [3], 1, []])
    expect(await s.next()).toEqual([YIELD, 1, 0])
    s.send([CREDIT, 1, 1])
    expect(await s.next()).toEqual([YIELD, 1, 1])
    s.send([CREDIT, 1, 5])
    expect(await s.next()).toEqual([YIELD, 1, 2])
    expect(await s.next()).toEqual([DONE, 1])
    for (const name of ['__proto__', 'constructor', 'toString', 'nope']) {
      s.send([CALL, 2, name, [], 1, []])
      const m = await s.next()
      expect(m[0]).toBe(ERROR)
      expect((m[2] as any).code).toBe('ERR_IPFI_NO_SUCH_PROCEDURE')
    }
    s.send([CALL, 3, null, [], 1, []]) // nil names a callback; this endpoint serves an object
    expect(((await s.next())[2] as any).code).toBe('ERR_IPFI_NO_SUCH_PROCEDURE')
    // Ids may be reused once a call is over.
    s.send([CALL, 0, 'add', [2, 2], 1, []])
    expect(await s.next()).toEqual([RESULT, 0, 4])
    s.callTx.close()
  })

  it('an id is free again once its call was cancelled, even while the procedure still runs', async () => {
    const { w, ep } = await setup()
    const s = await rawSession(w, ep)
    s.send([CALL, 1, 'hang', ['cancelled'], 4, []])
    await until(() => started.length === 1, TURNS, 'the call to start')
    s.send([CANCEL, 1])
    s.send([CALL, 1, 'add', [2, 3], 1, []])
    expect(await s.next()).toEqual([RESULT, 1, 5])
    await until(() => aborted.length === 1, TURNS, 'the cancelled call to see its signal')
    s.callTx.close()
  })

  it('messages for unknown ids (CANCEL, CREDIT, ITEM, END, FAIL) are ignored', async () => {
    const { w, ep } = await setup()
    const s = await rawSession(w, ep)
    s.send([CANCEL, 999])
    s.send([CREDIT, 999, 5])
    s.send([ITEM, 999, 0, 'x'])
    s.send([END, 999, 0])
    s.send([FAIL, 999, 0, new Error('x')])
    const [tx, rx] = channel<number>()
    s.send([ITEM, 998, 0, { tx }]) // a handle inside an ignored message is closed
    expect(await rejection(rx.recv(), GUARD, 'the dropped handle to close')).toBeInstanceOf(DisconnectedError)
    s.send([CALL, 5, 'add', [1, 1], 1, []])
    expect(await s.next()).toEqual([RESULT, 5, 2])
    s.callTx.close()
  })

  it('a duplicate call id while the first runs closes the session with ProtocolError; the link and other sessions go on', async () => {
    const { w, ep } = await setup()
    const s = await rawSession(w, ep)
    s.send([CALL, 1, 'hang', ['first'], 4, []])
    await until(() => started.length === 1, TURNS, 'the first call to start')
    s.send([CALL, 1, 'hang', ['second'], 4, []])
    await expectClosed(s, 'duplicate id')
    await until(() => aborted.length === 1, TURNS, 'the running call to be aborted')
    expect(aborted).toEqual(['first'])
    expect(started).toEqual(['first'])
    await stillWorks(ep)
    if (w.a) {
      w.a.sender.send('link up')
      expect(await within(w.b!.receiver.recv(), GUARD, 'a message on the link')).toBe('link up')
    }
  })

  const malformed: [string, unknown][] = [
    ['a string', 'hello'],
    ['a number', 42],
    ['null', null],
    ['an object', { 0: CALL, 1: 1 }],
    ['an empty array', []],
    ['no id', [CALL]],
    ['a negative id', [CALL, -1, 'add', [1, 2], 1, []]],
    ['a fractional id', [CALL, 1.5, 'add', [1, 2], 1, []]],
    ['a string id', [CALL, '1', 'add', [1, 2], 1, []]],
    ['an unknown kind', [99, 1]],
    ['a short CALL', [CALL, 1, 'add', [1, 2]]],
    ['a name that is a number', [CALL, 1, 7, [1, 2], 1, []]],
    ['a name that is an array', [CALL, 1, ['add'], [1, 2], 1, []]],
    ['args not an array', [CALL, 1, 'add', { 0: 1 }, 1, []]],
    ['window 0', [CALL, 1, 'add', [1, 2], 0, []]],
    ['a negative window', [CALL, 1, 'add', [1, 2], -5, []]],
    ['a fractional window', [CALL, 1, 'add', [1, 2], 2.5, []]],
    ['a huge window', [CALL, 1, 'add', [1, 2], MAX_WINDOW + 1, []]],
    ['an infinite window', [CALL, 1, 'add', [1, 2], Infinity, []]],
    ['a NaN window', [CALL, 1, 'add', [1, 2], NaN, []]],
    ['a string window', [CALL, 1, 'add', [1, 2], '8', []]],
    ['streams not an array', [CALL, 1, 'sum', [null], 1, 0]],
    ['a stream position out of range', [CALL, 1, 'sum', [null], 1, [3]]],
    ['a stream position twice', [CALL, 1, 'sum', [null], 1, [0, 0]]],
    ['a stream position whose arg is not nil', [CALL, 1, 'sum', [5], 1, [0]]],
    ['a negative credit', [CREDIT, 1, -1]],
    ['a fractional credit', [CREDIT, 1, 0.5]],
    ['an ITEM with no argument index', [ITEM, 1]],
  ]
  it.each(malformed)('garbage on the call channel (%s) closes only that session, with ProtocolError', async (what, m) => {
    const { w, ep } = await setup()
    const s = await rawSession(w, ep)
    s.send([CALL, 100, 'hang', ['victim'], 4, []])
    await until(() => started.length === 1, TURNS, 'a call to start')
    s.send(m)
    await expectClosed(s, what)
    await until(() => aborted.length === 1, TURNS, 'the running call to be aborted')
    await stillWorks(ep)
  })

  it('a garbage message that carries handles has them closed', async () => {
    const { w, ep } = await setup()
    const s = await rawSession(w, ep)
    const [tx, rx] = channel<number>()
    s.send({ not: 'an array', tx })
    await expectClosed(s, 'garbage with a handle')
    expect(await rejection(rx.recv(), GUARD, 'the handle to be closed')).toBeInstanceOf(DisconnectedError)
    await stillWorks(ep)
  })

  it('an ITEM that was not pulled, or for an argument that is not streamed, closes the session', async () => {
    const { w, ep } = await setup()
    // Not pulled: the procedure has not read its argument yet.
    const s1 = await rawSession(w, ep)
    s1.send([CALL, 1, 'waitThenSum', [null], 4, [0]])
    s1.send([ITEM, 1, 0, 10])
    await expectClosed(s1, 'ITEM not pulled')
    // More than pulled.
    const s2 = await rawSession(w, ep)
    s2.send([CALL, 1, 'sum', [null], 2, [0]])
    expect(await s2.next()).toEqual([PULL, 1, 0, 2])
    s2.send([ITEM, 1, 0, 1])
    s2.send([ITEM, 1, 0, 2])
    s2.send([ITEM, 1, 0, 3])
    s2.send([ITEM, 1, 0, 4])
    s2.send([ITEM, 1, 0, 5])
    let m = await s2.next()
    while (m[0] === PULL) m = await s2.next() // top-ups may come first
    expect(m[0]).toBe(CLOSE)
    // Not a streamed argument.
    const s3 = await rawSession(w, ep)
    s3.send([CALL, 1, 'sum', [null], 2, [0]])
    expect(await s3.next()).toEqual([PULL, 1, 0, 2])
    s3.send([ITEM, 1, 1, 'x'])
    await expectClosed(s3, 'ITEM for a non-streamed argument')
    // A well-behaved streamed argument by hand, for contrast: send only what was pulled.
    const s4 = await rawSession(w, ep)
    s4.send([CALL, 1, 'sum', [null], 2, [0]])
    let credit = 0
    let sent = 0
    for (let guard = 0; guard < 100 && sent < 10; guard++) {
      const p = await s4.next()
      expect(p[0]).toBe(PULL)
      expect(p.slice(1, 3)).toEqual([1, 0])
      credit += p[3] as number
      expect(credit).toBeLessThanOrEqual(2)
      for (; credit > 0 && sent < 10; credit--) s4.send([ITEM, 1, 0, ++sent])
    }
    s4.send([END, 1, 0])
    m = await s4.next()
    while (m[0] === PULL) m = await s4.next()
    expect(m).toEqual([RESULT, 1, 55])
    // Items after END are dropped (not an error): the session goes on.
    s4.send([ITEM, 1, 0, 9])
    s4.send([CALL, 2, 'add', [1, 1], 1, []])
    expect(await s4.next()).toEqual([RESULT, 2, 2])
    s4.callTx.close()
    await stillWorks(ep)
  })

  it('huge credit is capped, a window of MAX_WINDOW is accepted, and CANCEL stops a stream', async () => {
    const { w, ep } = await setup()
    const s = await rawSession(w, ep)
    s.send([CALL, 1, 'ticks', [5], MAX_WINDOW, []])
    const got: unknown[][] = []
    for (let i = 0; i < 6; i++) got.push(await s.next())
    expect(got).toEqual([[YIELD, 1, 0], [YIELD, 1, 1], [YIELD, 1, 2], [YIELD, 1, 3], [YIELD, 1, 4], [DONE, 1]])
    s.send([CALL, 2, 'ticks', [3], 1, []])
    expect(await s.next()).toEqual([YIELD, 2, 0])
    s.send([CREDIT, 2, Number.MAX_SAFE_INTEGER])
    expect(await s.next()).toEqual([YIELD, 2, 1])
    expect(await s.next()).toEqual([YIELD, 2, 2])
    expect(await s.next()).toEqual([DONE, 2])
    s.send([CALL, 3, 'ticks', [1_000_000], 1, []])
    expect(await s.next()).toEqual([YIELD, 3, 0])
    s.send([CANCEL, 3])
    s.send([CALL, 4, 'add', [1, 2], 1, []])
    // Nothing more for the cancelled call: the next answer is the add.
    expect(await s.next()).toEqual([RESULT, 4, 3])
    s.callTx.close()
  })

  it('malformed session openings are dropped (their handles closed) and the endpoint goes on', async () => {
    const { w, ep } = await setup()
    const open = (v: unknown) => (ep as any)[INTERNAL](v)
    const [tx1, rx1] = channel<unknown>()
    const [tx2, rx2] = channel<unknown>()
    const [tx3, rx3] = channel<unknown>()
    open({ calls: 1, reply: tx1 }) // calls not a receiver
    open({ calls: rx2, reply: 'no' }) // reply not a sender
    open({ calls: rx3, reply: tx3, extra: 1 }) // a receiver sent into its own channel? no: its own reply; still a valid shape
    open('garbage')
    open(null)
    expect(await rejection(rx1.recv(), GUARD, 'the dropped reply sender to close')).toBeInstanceOf(DisconnectedError)
    await until(() => tx2.isDisconnected, TURNS, 'the dropped call receiver to close')
    void rx3
    await stillWorks(ep)
  })
})

// ---------------------------------------------------------------------------------------------
// A hostile procedures side: replies crafted by hand, read by a real proxy
// ---------------------------------------------------------------------------------------------

describe.each(MODES)('hostile replies (%s)', (mode) => {
  /** An endpoint served by hand on B; A gets a real proxy for it. */
  async function handServer() {
    const w = await world(mode)
    const [tx, rx] = channel<{ calls: Receiver<unknown[]>; reply: Sender<unknown> }>()
    const ep = await w.toA(new Endpoint(INTERNAL, tx as any))
    const api: any = remote(ep)
    ep.close()
    cleanups.push(() => api[Symbol.dispose](), () => rx.close())
    let session: { calls: Receiver<unknown[]>; reply: Sender<unknown> } | null = null
    /** The next call message (opening the session on first use). */
    const nextCall = async () => {
      session ??= await within(rx.recv(), GUARD, 'the session to open')
      return within(session.calls.recv(), GUARD, 'a call message')
    }
    const reply = (m: unknown) => session!.reply.send(m)
    return { w, api, nextCall, reply, session: () => session! }
  }

  it('garbage replies and replies for unknown ids are ignored; the right reply settles the call', async () => {
    const { api, nextCall, reply } = await handServer()
    const p = api.add(1, 2)
    const call = await nextCall()
    expect(call).toEqual([CALL, 0, 'add', [1, 2], DEFAULT_WINDOW, []])
    for (const g of ['x', 42, null, {}, [], [RESULT], [RESULT, 99, 'other'], [77, 0], [YIELD, 5, 1], [PULL, 0, 0, 5], [STOP, 0, 3]]) reply(g)
    reply([RESULT, 0, 3])
    expect(await within(p, GUARD, 'the call')).toBe(3)
  })

  it('a RESULT in the middle of a stream fails the stream with ProtocolError (it does not hang)', async () => {
    const { api, nextCall, reply } = await handServer()
    const s = api.ticks()
    await nextCall()
    reply([YIELD, 0, 'a'])
    reply([RESULT, 0, 'x'])
    const got: unknown[] = []
    const e = await rejection((async () => {
      for await (const x of s) got.push(x)
    })(), GUARD)
    expect(got).toEqual(['a'])
    expect(e).toBeInstanceOf(ProtocolError)
  })

  it('PULL within the window is served item by item; PULL beyond the window fails the call with ProtocolError and stops the source', async () => {
    const { api, nextCall, reply } = await handServer()
    let produced = 0
    const finallyRan = deferred()
    async function* source() {
      try {
        for (;;) {
          produced++
          yield produced
        }
      } finally {
        finallyRan.resolve()
      }
    }
    const p = api.sum.with({ window: 4 })(source())
    const call = await nextCall()
    expect(call[5]).toEqual([0])
    reply([PULL, 0, 0, 3])
    for (let i = 1; i <= 3; i++) expect(await nextCall()).toEqual([ITEM, 0, 0, i])
    reply([PULL, 0, 0, 4])
    for (let i = 4; i <= 7; i++) expect(await nextCall()).toEqual([ITEM, 0, 0, i])
    for (let i = 0; i < 20; i++) await turn()
    expect(produced).toBeLessThanOrEqual(8)
    reply([PULL, 0, 0, 1_000_000])
    const e = await rejection(p, GUARD)
    expect(e).toBeInstanceOf(ProtocolError)
    expect(e.message).toMatch(/window/)
    await within(finallyRan.promise, GUARD, "the source's finally")
    expect(produced).toBeLessThanOrEqual(8)
    expect(await nextCall()).toEqual([CANCEL, 0])
  })

  it('YIELDs past the credit granted fail the stream with ProtocolError (a hostile producer cannot grow the queue)', async () => {
    const { api, nextCall, reply } = await handServer()
    const s = api.ticks.with({ window: 4 })()
    await nextCall()
    for (let i = 0; i < 4; i++) reply([YIELD, 0, i]) // exactly the window: fine
    reply([YIELD, 0, 4]) // one past it
    const got: unknown[] = []
    const e = await rejection((async () => {
      for await (const x of s) got.push(x)
    })(), GUARD)
    expect(e).toBeInstanceOf(ProtocolError)
    expect(e.message).toMatch(/more stream items than the credit/)
    expect(await nextCall()).toEqual([CANCEL, 0])
  })

  it('CLOSE fails every pending call with its ProtocolError (as a RemoteError), and later calls too', async () => {
    const { api, nextCall, reply } = await handServer()
    const p1 = api.a()
    const p2 = api.b()
    await nextCall()
    await nextCall()
    reply([CLOSE, new ProtocolError('you broke it')])
    const [e1, e2] = await Promise.all([rejection(p1, GUARD), rejection(p2, GUARD)])
    for (const e of [e1, e2]) {
      expect(e).toBeInstanceOf(ProtocolError)
      expect(e).toBeInstanceOf(RemoteError)
      expect(e.message).toBe('you broke it')
    }
    expect(await rejection(api.c(), GUARD)).toBeInstanceOf(ProtocolError)
  })

  it("ipfi's own errors in ERROR arrive as their classes", async () => {
    const { api, nextCall, reply } = await handServer()
    const cases: [Error, abstract new (...a: never[]) => Error][] = [
      [new LimitExceededError('limit'), LimitExceededError],
      [new DisconnectedError('gone'), DisconnectedError],
      [new ConnectionLostError('lost'), ConnectionLostError],
      [new TimeoutError('slow'), TimeoutError],
      [new HandleError('moved'), HandleError],
      [new UnsupportedValueError('no'), UnsupportedValueError],
    ]
    for (const [error, Class] of cases) {
      const p = api.f()
      const [, id] = await nextCall()
      reply([ERROR, id, error])
      const e = await rejection(p, GUARD)
      expect(e, error.name).toBeInstanceOf(Class)
      expect(e, error.name).toBeInstanceOf(RemoteError)
      expect(e.name).toBe(error.name)
      expect(e.code).toBe((error as any).code)
      expect(e.message).toBe(error.message)
    }
    // A look-alike name on a user class is left alone when that class came through registered.
    const p = api.f()
    const [, id] = await nextCall()
    reply([ERROR, id, new RegisteredError('mine')])
    expect(await rejection(p, GUARD)).toBeInstanceOf(RegisteredError)
  })

  it('the procedures side closing its reply channel rejects pending calls with DisconnectedError', async () => {
    const { api, nextCall, session } = await handServer()
    const p = api.f()
    await nextCall()
    session().reply.close()
    expect(await rejection(p, GUARD)).toBeInstanceOf(DisconnectedError)
    expect(await rejection(api.g(), GUARD)).toBeInstanceOf(DisconnectedError)
  })
})

// ---------------------------------------------------------------------------------------------
// Connection loss
// ---------------------------------------------------------------------------------------------

describe.each(LINK_MODES)('connection loss (%s)', (mode) => {
  const ends = [
    // An orderly close: everything settles as on a closed channel, with DisconnectedError.
    { how: 'closing the link', expected: 'DisconnectedError', end: (c: Connection<unknown, unknown>) => c.close('test: close the link') },
    // A loss (the wire cut, no goodbye): ConnectionLostError.
    { how: 'losing the link', expected: 'ConnectionLostError', end: (c: Connection<unknown, unknown>) => c.link.fail(new ConnectionLostError('test: cut the wire')) },
  ] as const
  for (const side of ['caller', 'procedures'] as const) for (const { how, expected, end } of ends)
    it(`${how} (${side} side) mid-call, mid-stream and mid-callback settles everything with ${expected}`, async () => {
      const w = await world(mode)
      const aborts: unknown[] = []
      const inCallback = deferred()
      const callbackOutcome = deferred<unknown>()
      let started = 0
      const api = await serve(w, {
        async hang() {
          const s = currentCall()!.signal
          s.addEventListener('abort', () => aborts.push(s.reason))
          started++
          await parked()
        },
        async *endless() {
          const s = currentCall()!.signal
          s.addEventListener('abort', () => aborts.push(s.reason))
          for (let i = 0; ; i++) yield i
        },
        async withCallback(cb: () => Promise<void>) {
          const s = currentCall()!.signal
          s.addEventListener('abort', () => aborts.push(s.reason))
          try {
            await cb()
            callbackOutcome.resolve('returned')
          } catch (e) {
            callbackOutcome.resolve(e)
          }
        },
        async sum(xs: AsyncIterable<number>) {
          const s = currentCall()!.signal
          s.addEventListener('abort', () => aborts.push(s.reason))
          let t = 0
          for await (const x of xs) t += x
          return t
        },
      })
      const p1 = api.hang()
      const stream = api.endless()
      const first = await within(stream.next(), GUARD, 'the first item')
      expect(first).toEqual({ value: 0, done: false })
      const p3 = api.withCallback(async () => {
        inCallback.resolve()
        await parked()
      })
      async function* slowSource() {
        yield 1
        await parked()
      }
      const p4 = api.sum(slowSource())
      await until(() => started === 1, TURNS, 'the hanging call to start')
      await within(inCallback.promise, GUARD, 'the callback to be called')
      await until(() => aborts.length === 0 && started === 1, 1, 'nothing aborted yet')

      // Drain what is queued so the next read waits on the link.
      const pending = (async () => {
        for (;;) await stream.next()
      })()

      end(side === 'caller' ? w.a! : w.b!)

      const errors = await within(
        Promise.all([rejection(p1, GUARD), rejection(pending, GUARD), rejection(p3, GUARD), rejection(p4, GUARD)]),
        GUARD,
        'every pending call to settle',
      )
      const expectEnd = (e: unknown) => {
        expect(e).toBeInstanceOf(DisconnectedError)
        expect(e instanceof ConnectionLostError).toBe(expected === 'ConnectionLostError')
      }
      for (const e of errors) expectEnd(e)
      // The procedure side: every running call was aborted, and the callback call failed.
      await until(() => aborts.length === 4, TURNS, 'the procedures to be aborted')
      for (const r of aborts) expect(r).toBeInstanceOf(DisconnectedError)
      expectEnd(await within(callbackOutcome.promise, GUARD, 'the callback call to fail'))
      // Later calls fail too, at once.
      expect(await rejection(api.hang(), GUARD)).toBeInstanceOf(DisconnectedError)
    })
})

// ---------------------------------------------------------------------------------------------
// A real second thread (the built package: a worker imports it by name)
// ---------------------------------------------------------------------------------------------

describe('procedures across a worker thread', () => {
  it('calls both ways, streams with backpressure across threads, callbacks, errors', async () => {
    const ipfi = await import('ipfi')
    // Counters shared with the worker: [produced by the worker, consumed here, max ahead].
    const shared = new Int32Array(new SharedArrayBuffer(16))
    const w = ipfi.spawnWorker<any, any>(
      async ({ receiver, sender, ipfi }: any) => {
        const { workerData } = process.getBuiltinModule('node:worker_threads') as typeof import('node:worker_threads')
        const counters = new Int32Array(workerData.counters)
        let parentApi: any = null
        const api = {
          add: (a: number, b: number) => a + b,
          async *count(n: number) {
            for (let i = 0; i < n; i++) {
              const produced = Atomics.add(counters, 0, 1) + 1
              const ahead = produced - Atomics.load(counters, 1)
              if (ahead > Atomics.load(counters, 2)) Atomics.store(counters, 2, ahead)
              yield i
            }
          },
          async work(steps: number, onProgress: (i: number) => Promise<number>) {
            const out: number[] = []
            for (let i = 1; i <= steps; i++) out.push(await onProgress(i))
            return out
          },
          async viaParent(x: number) {
            return parentApi.triple(x)
          },
          fail() {
            throw Object.assign(new RangeError('from the worker'), { code: 'E_WORKER' })
          },
          async sum(xs: AsyncIterable<number>) {
            let s = 0
            for await (const x of xs) s += x
            return s
          },
        }
        sender.send({ api: ipfi.expose(api) })
        const { parentEp } = await receiver.recv()
        parentApi = ipfi.remote(parentEp)
        parentEp.close()
        sender.send({ ready: true })
        // Stay until the parent closes its sender.
        try {
          await receiver.recv()
        } catch {
          // closed
        }
        parentApi[Symbol.dispose]()
        sender.close()
      },
      { workerData: { counters: shared.buffer } },
    )
    cleanups.push(() => w.kill())
    const { api: ep } = await within(w.receiver.recv(), GUARD, 'the worker endpoint')
    expect(ep).toBeInstanceOf(ipfi.Endpoint)
    const api: any = ipfi.remote<any>(ep)
    ep.close()
    w.sender.send({ parentEp: ipfi.expose({ triple: (x: number) => x * 3 }) })
    expect(await within(w.receiver.recv(), GUARD, 'the worker to be ready')).toEqual({ ready: true })

    expect(await api.add(2, 3)).toBe(5)
    const many = await within(Promise.all(Array.from({ length: 2_000 }, (_, i) => api.add(i, 1))), GUARD, '2,000 calls to the worker')
    expect(many).toEqual(Array.from({ length: 2_000 }, (_, i) => i + 1))
    expect(await api.viaParent(14)).toBe(42)
    expect(await api.work(5, async (i: number) => i * i)).toEqual([1, 4, 9, 16, 25])
    const e = await rejection(api.fail(), GUARD)
    expect(e).toBeInstanceOf(RangeError)
    expect(e).toBeInstanceOf(ipfi.RemoteError)
    expect(e.code).toBe('E_WORKER')
    async function* src(n: number) {
      for (let i = 0; i < n; i++) yield i
    }
    expect(await api.sum(src(1_000))).toBe(499_500)

    for (const window of [DEFAULT_WINDOW, 4]) {
      Atomics.store(shared, 0, 0)
      Atomics.store(shared, 1, 0)
      Atomics.store(shared, 2, 0)
      const n = 20_000
      let consumed = 0
      await within((async () => {
        for await (const x of api.count.with({ window })(n)) {
          if (x !== consumed) throw new Error(`out of order: ${x} at ${consumed}`)
          consumed++
          Atomics.store(shared, 1, consumed)
          if (consumed % 8 === 0) await turn()
        }
      })(), 40_000, `a ${n}-item stream from the worker`)
      expect(consumed).toBe(n)
      expect(Atomics.load(shared, 0)).toBe(n)
      const maxAhead = Atomics.load(shared, 2)
      expect(maxAhead).toBeLessThanOrEqual(window + 1)
      expect(maxAhead).toBeGreaterThanOrEqual(window / 2)
    }

    api[Symbol.dispose]()
    w.sender.close()
    expect(await within(w.exited, GUARD, 'the worker to exit')).toEqual({ code: 0, signal: null })
  }, 60_000)
})

// Keep imports used even where a section is skipped.
void STOP
void PULL
