/**
 * Cancellation: abort signals, timeouts, closing a proxy, and stopping a stream; the callee sees its signal abort.
 * Each case runs in one process and over a memory link (support/procedures-world.ts).
 */
import { describe, expect, it } from 'vitest'
import { DisconnectedError, TimeoutError } from '../src/errors.js'
import { currentCall, expose, remote } from '../src/procedures/index.js'
import { MAX_WINDOW } from '../src/procedures/messages.js'
import { deferred, rejection, sleep, turn, until, within } from './support/async.js'
import { GUARD, TURNS, cleanups, parked, MODES, world, serve, endless } from './support/procedures-world.js'

describe.each(MODES)('procedures (%s)', (mode) => {
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
})
