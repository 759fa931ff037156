import { describe, expectTypeOf, it } from 'vitest'
import { callback, channel, expose, remote, type Endpoint, type Remote, type RemoteCall, type RemoteStream, type Sender } from 'ipfi'

interface Job {
  id: string
  size: number
}

const api = {
  add(a: number, b: number) {
    return a + b
  },
  async greet(name: string): Promise<string> {
    return `hi ${name}`
  },
  async *ticks(n: number) {
    for (let i = 0; i < n; i++) yield i
  },
  async sum(xs: AsyncIterable<number>) {
    let s = 0
    for await (const x of xs) s += x
    return s
  },
  async work(job: Job, onProgress: (pct: number) => void) {
    onProgress(100)
    return { id: job.id, ok: true as const }
  },
  open() {
    return channel<string>()[0]
  },
  version: '1.0',
  count: 3,
}

describe('Remote<T>', () => {
  it('maps functions to Promise-returning calls with the same parameters', () => {
    const calc = remote(expose(api))
    expectTypeOf(calc).toEqualTypeOf<Remote<typeof api>>()
    expectTypeOf(calc.add).toEqualTypeOf<RemoteCall<[a: number, b: number], number>>()
    expectTypeOf(calc.add(1, 2)).toEqualTypeOf<Promise<number>>()
    expectTypeOf(calc.greet).parameters.toEqualTypeOf<[name: string]>()
    expectTypeOf(calc.greet('x')).toEqualTypeOf<Promise<string>>()
    expectTypeOf(calc.work).parameters.toEqualTypeOf<[job: Job, onProgress: (pct: number) => void]>()
    expectTypeOf(calc.work({ id: 'a', size: 1 }, () => {})).resolves.toEqualTypeOf<{ id: string; ok: true }>()
    expectTypeOf(calc.open()).resolves.toEqualTypeOf<Sender<string>>()
    // @ts-expect-error wrong argument type
    void calc.add('1', 2)
    // @ts-expect-error too few arguments
    void calc.add(1)
  })

  it('maps async generators to AsyncIterables of their items', () => {
    const calc = remote(expose(api))
    expectTypeOf(calc.ticks).toEqualTypeOf<RemoteStream<[n: number], number>>()
    expectTypeOf(calc.ticks(3)).toEqualTypeOf<AsyncIterableIterator<number>>()
    expectTypeOf(calc.sum).parameters.toEqualTypeOf<[xs: AsyncIterable<number>]>()
  })

  it('leaves out what is not a function', () => {
    type R = Remote<typeof api>
    expectTypeOf<Extract<keyof R, string>>().toEqualTypeOf<'add' | 'greet' | 'ticks' | 'sum' | 'work' | 'open'>()
    expectTypeOf<R>().toMatchTypeOf<Disposable & AsyncDisposable>()
    const calc = remote(expose(api))
    // @ts-expect-error data properties are not procedures
    void calc.version
  })

  it('per-call options keep the signature', () => {
    const calc = remote(expose(api))
    const add = calc.add.with({ timeout: 500, signal: AbortSignal.timeout(1000) })
    expectTypeOf(add).toEqualTypeOf<(a: number, b: number) => Promise<number>>()
    expectTypeOf(calc.ticks.with({ window: 4 })).returns.toEqualTypeOf<AsyncIterableIterator<number>>()
    // @ts-expect-error unknown option
    calc.add.with({ retries: 3 })
  })

  it('an endpoint carries its type through channels; an explicit type works on an untyped one', () => {
    const [tx, rx] = channel<Endpoint<typeof api>>()
    tx.send(expose(api))
    void rx.recv().then((ep) => expectTypeOf(remote(ep)).toEqualTypeOf<Remote<typeof api>>())
    const untyped = expose(api) as Endpoint<unknown>
    expectTypeOf(remote<typeof api>(untyped).add).returns.toEqualTypeOf<Promise<number>>()
  })

  it('class instances: methods are procedures', () => {
    class Counter {
      n = 0
      inc(by: number) {
        return (this.n += by)
      }
    }
    const c = remote(expose(new Counter()))
    expectTypeOf(c.inc(1)).toEqualTypeOf<Promise<number>>()
  })

  it('callback() keeps the function type and adds close()', () => {
    const cb = callback((x: number) => x * 2)
    expectTypeOf(cb).parameters.toEqualTypeOf<[x: number]>()
    expectTypeOf(cb.close).toEqualTypeOf<() => void>()
  })
})
