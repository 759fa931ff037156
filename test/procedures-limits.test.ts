/**
 * ProcedureLimits, over a link (maxArgBytes only counts what crossed a wire): a breach fails that one call.
 */
import { describe, expect, it } from 'vitest'
import { LimitExceededError } from '../src/errors.js'
import { callback, DEFAULT_PROCEDURE_LIMITS, expose, remote } from '../src/procedures/index.js'
import { deferred, rejection, until, within } from './support/async.js'
import { GUARD, TURNS, cleanups, LINK_MODES, world, serve } from './support/procedures-world.js'

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
