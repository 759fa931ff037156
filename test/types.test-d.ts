import { describe, expectTypeOf, it } from 'vitest'
import { channel, fork, parent, ReceiverSet, spawnWorker, transfer, type ChildContext, type Receiver, type Sender, type SelectEvent, type TryRecvResult } from 'ipfi'

describe('channel types', () => {
  it('channel<T>() gives typed ends', () => {
    const [tx, rx] = channel<{ n: number }>()
    expectTypeOf(tx).toEqualTypeOf<Sender<{ n: number }>>()
    expectTypeOf(rx).toEqualTypeOf<Receiver<{ n: number }>>()
    expectTypeOf(tx.send).parameter(0).toEqualTypeOf<{ n: number }>()
    expectTypeOf(tx.send).returns.toEqualTypeOf<void>()
    expectTypeOf(rx.recv()).resolves.toEqualTypeOf<{ n: number }>()
    expectTypeOf(rx.tryRecv()).toEqualTypeOf<TryRecvResult<{ n: number }>>()
    expectTypeOf(tx.clone()).toEqualTypeOf<Sender<{ n: number }>>()
    // @ts-expect-error wrong message type
    tx.send('no')
  })

  it('transfer() gives back the value it marks, of its own type, so a typed send takes it', () => {
    const [tx] = channel<{ data: Buffer }>()
    const data = Buffer.alloc(1)
    expectTypeOf(transfer({ data }, [data])).toEqualTypeOf<{ data: typeof data }>()
    tx.send(transfer({ data }, [data.buffer, new Float64Array(1), new ArrayBuffer(1)]))
    // @ts-expect-error only buffers and views of them can be transferred
    transfer({ data }, ['not a buffer'])
  })

  it('iterates typed values', async () => {
    const [, rx] = channel<string>()
    for await (const v of rx) expectTypeOf(v).toEqualTypeOf<string>()
  })

  it('ReceiverSet events carry the value type', () => {
    const set = new ReceiverSet<number>()
    expectTypeOf(set.select()).resolves.toEqualTypeOf<SelectEvent<number>[]>()
  })

  it('fork, spawnWorker and parent share type parameters in the same order', async () => {
    const child = fork<string, number>('./child.mjs')
    expectTypeOf(child.sender).toEqualTypeOf<Sender<string>>()
    expectTypeOf(child.receiver).toEqualTypeOf<Receiver<number>>()
    const w = spawnWorker<string, number>('./w.mjs')
    expectTypeOf(w.sender).toEqualTypeOf<Sender<string>>()
    const ends = await parent<string, number>()
    expectTypeOf(ends.receiver).toEqualTypeOf<Receiver<string>>()
    expectTypeOf(ends.sender).toEqualTypeOf<Sender<number>>()
    fork<string, number, { k: number }>(
      (ctx) => {
        expectTypeOf(ctx).toEqualTypeOf<ChildContext<string, number, { k: number }>>()
        expectTypeOf(ctx.data.k).toEqualTypeOf<number>()
      },
      { data: { k: 1 } },
    )
  })
})
