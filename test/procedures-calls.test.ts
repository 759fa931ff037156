/**
 * Procedure calls: results, concurrency, currentCall(), calls both ways, and which names may be called.
 * Each case runs in one process and over a memory link (support/procedures-world.ts).
 */
import { describe, expect, it } from 'vitest'
import { UnsupportedValueError } from '../src/errors.js'
import { currentCall, expose, remote, RemoteError, type Remote } from '../src/procedures/index.js'
import { collect, deferred, rejection, sleep, until, within } from './support/async.js'
import { GUARD, TURNS, cleanups, parked, MODES, world, serve } from './support/procedures-world.js'

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
      // They really ran at once (the callee did not serialize them)...
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
})
