/**
 * Result streams and streamed arguments, paced by their credit windows (CREDIT, PULL).
 * Each case runs in one process and over a memory link (support/procedures-world.ts).
 */
import { describe, expect, it } from 'vitest'
import { channel, Receiver } from '../src/channel/index.js'
import { currentCall, RemoteError } from '../src/procedures/index.js'
import { DEFAULT_WINDOW } from '../src/procedures/messages.js'
import { collect, deferred, rejection, turn, until, within } from './support/async.js'
import { GUARD, TURNS, MODES, world, serve, endless } from './support/procedures-world.js'

describe.each(MODES)('procedures (%s)', (mode) => {
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

    it('the default window is 1024 items (README): a consumer that stopped reading holds the producer there, and one more read lets it go on', async () => {
      expect(DEFAULT_WINDOW).toBe(1024)
      const w = await world(mode)
      let produced = 0
      const api = await serve(w, {
        async *count() {
          for (let i = 0; ; i++) {
            produced++
            yield i
          }
        },
      })
      const it = api.count()
      expect(await it.next()).toEqual({ value: 0, done: false })
      // One item taken: the producer may have sent the window (it is one step into the next).
      await until(() => produced >= 1024, TURNS, 'the producer to fill the window')
      for (let i = 0; i < 20; i++) await turn()
      expect(produced).toBeLessThanOrEqual(1024 + 1)
      // Reading half a window grants credit: it goes on, by that much.
      for (let i = 1; i <= 512; i++) expect(await it.next()).toEqual({ value: i, done: false })
      await until(() => produced >= 1024 + 512, TURNS, 'the producer to use the credit')
      for (let i = 0; i < 20; i++) await turn()
      expect(produced).toBeLessThanOrEqual(1024 + 512 + 1)
      await it.return!(undefined)
    })

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
})
