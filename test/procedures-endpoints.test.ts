/**
 * expose() options and the life of an endpoint: withdrawing, closing every copy, the callee letting go.
 * Each case runs in one process and over a memory link (support/procedures-world.ts).
 */
import { describe, expect, it } from 'vitest'
import { DisconnectedError, HandleError } from '../src/errors.js'
import { currentCall, expose, remote } from '../src/procedures/index.js'
import { deferred, rejection, turn, until } from './support/async.js'
import { GUARD, TURNS, cleanups, parked, MODES, world } from './support/procedures-world.js'

describe.each(MODES)('procedures (%s)', (mode) => {
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

    it('once every copy of the endpoint is closed, open sessions go on, remote() on a closed endpoint throws HandleError, and the callee lets go', async () => {
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
