/**
 * Handles in a call's arguments and results: channels and endpoints travel, values that cannot are refused.
 * Each case runs in one process and over a memory link (support/procedures-world.ts).
 */
import { describe, expect, it } from 'vitest'
import { channel, Receiver, Sender } from '../src/channel/index.js'
import { HandleError, UnsupportedValueError } from '../src/errors.js'
import { callback, Endpoint, expose, remote } from '../src/procedures/index.js'
import { collect, deferred, rejection, within } from './support/async.js'
import { GUARD, MODES, world, serve } from './support/procedures-world.js'

describe.each(MODES)('procedures (%s)', (mode) => {
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
      expect(await within(reader.promise, GUARD, 'the callee to read what we sent')).toEqual(['p', 'q'])

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

      // A long-lived callback made on the callee and returned: the caller calls into it.
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
})
