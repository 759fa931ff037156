/**
 * Connection loss: a link closed or lost under pending calls, streams and callbacks, on either side,
 * settles everything with DisconnectedError or ConnectionLostError.
 */
import { describe, expect, it } from 'vitest'
import { ConnectionLostError, DisconnectedError } from '../src/errors.js'
import { currentCall } from '../src/procedures/index.js'
import { type Connection } from '../src/process/connect.js'
import { deferred, rejection, until, within } from './support/async.js'
import { failLink } from './support/ends.js'
import { GUARD, TURNS, parked, LINK_MODES, world, serve } from './support/procedures-world.js'

describe.each(LINK_MODES)('connection loss (%s)', (mode) => {
  const ends = [
    // An orderly close: everything settles as on a closed channel, with DisconnectedError.
    { how: 'closing the link', expected: 'DisconnectedError', end: (c: Connection<unknown, unknown>) => c.close('test: close the link') },
    // A loss (the wire cut, no goodbye): ConnectionLostError.
    { how: 'losing the link', expected: 'ConnectionLostError', end: (c: Connection<unknown, unknown>) => failLink(c.link, new ConnectionLostError('test: cut the wire')) },
  ] as const
  for (const side of ['caller', 'callee'] as const) for (const { how, expected, end } of ends)
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
      // The callee: every running call was aborted, and the callback call failed.
      await until(() => aborts.length === 4, TURNS, 'the procedures to be aborted')
      for (const r of aborts) expect(r).toBeInstanceOf(DisconnectedError)
      expectEnd(await within(callbackOutcome.promise, GUARD, 'the callback call to fail'))
      // Later calls fail too, at once.
      expect(await rejection(api.hang(), GUARD)).toBeInstanceOf(DisconnectedError)
    })
})
