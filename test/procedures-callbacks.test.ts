/**
 * Functions in a call's arguments (lent for the call) and long-lived callbacks (`callback()`).
 * Each case runs in one process and over a memory link (support/procedures-world.ts).
 */
import { describe, expect, it } from 'vitest'
import { DisconnectedError, HandleError } from '../src/errors.js'
import { callback, RemoteError } from '../src/procedures/index.js'
import { deferred, rejection, sleep, turn, until, within } from './support/async.js'
import { GUARD, TURNS, MODES, world, serve } from './support/procedures-world.js'

describe.each(MODES)('procedures (%s)', (mode) => {
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

    it('a callback that throws rejects the callee with that error', async () => {
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
})
