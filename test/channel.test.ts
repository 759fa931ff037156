import { describe, expect, it } from 'vitest'
import {
  channel,
  DisconnectedError,
  ConnectionLostError,
  HandleError,
  ReceiverSet,
  Receiver,
  Sender,
  TimeoutError,
  UnsupportedValueError,
} from 'ipfi'

describe('in-process channel', () => {
  it('delivers values FIFO, and the value itself (no copy)', async () => {
    const [tx, rx] = channel<{ n: number }>()
    const objs = Array.from({ length: 100 }, (_, n) => ({ n }))
    for (const o of objs) tx.send(o)
    for (const o of objs) expect(await rx.recv()).toBe(o)
  })

  it('undefined, null, 0, false and "" are messages like any other, beside messages that carry handles, through every way of receiving', async () => {
    // A bare value is queued as itself (no object per message); nothing may mistake one for "empty".
    const falsy = [undefined, null, 0, false, '']
    const [tx, rx] = channel<unknown>()
    const [htx] = channel<number>()
    const send = () => {
      for (const v of falsy) tx.send(v)
      tx.send({ h: htx.clone() })
    }
    send()
    expect(rx.size).toBe(6)
    for (const v of falsy) expect(await rx.recv()).toBe(v)
    expect((await rx.recv()) as { h: unknown }).toEqual({ h: expect.any(Sender) })
    send()
    for (const v of falsy) expect(rx.tryRecv()).toEqual({ ok: true, value: v })
    expect(rx.tryRecv()).toMatchObject({ ok: true, value: { h: expect.any(Sender) } })
    expect(rx.tryRecv()).toEqual({ ok: false, reason: 'empty' })
    // A waiting receive gets a bare value handed straight to it.
    const waiting = rx.recv()
    tx.send(undefined)
    expect(await waiting).toBeUndefined()
    send()
    tx.close()
    const seen: unknown[] = []
    for await (const v of rx) seen.push(v)
    expect(seen.slice(0, 5)).toEqual(falsy)
    expect(seen).toHaveLength(6)
    const [stx, srx] = channel<unknown>()
    for (const v of falsy) stx.send(v)
    stx.close()
    const set = new ReceiverSet<unknown>()
    const id = set.add(srx)
    const events = []
    for (let i = 0; i < 6; i++) events.push(...(await set.select()))
    expect(events).toEqual([...falsy.map((value) => ({ id, kind: 'message', value })), { id, kind: 'closed' }])
    htx.close()
  })

  it('recv resolves queued values first, then rejects with DisconnectedError once every sender is closed', async () => {
    const [tx, rx] = channel<number>()
    const tx2 = tx.clone()
    tx.send(1)
    tx.close()
    tx2.send(2)
    tx2.close()
    tx2.close() // idempotent
    expect(await rx.recv()).toBe(1)
    expect(await rx.recv()).toBe(2)
    const err = await rx.recv().catch((e) => e)
    expect(err).toBeInstanceOf(DisconnectedError)
    expect(err).not.toBeInstanceOf(ConnectionLostError)
  })

  it('a pending recv is rejected when the last sender closes', async () => {
    const [tx, rx] = channel<number>()
    const p = rx.recv()
    tx.close()
    await expect(p).rejects.toBeInstanceOf(DisconnectedError)
  })

  it('several pending recvs get messages oldest first; one given up is skipped, and the rest are rejected at the disconnect', async () => {
    const [tx, rx] = channel<number>()
    const first = new AbortController()
    const a = rx.recv({ signal: first.signal }) // the oldest waiter
    const b = rx.recv()
    const c = rx.recv({ timeout: 60_000 })
    const d = rx.recv()
    const e = rx.recv()
    first.abort() // the oldest gives up: the next one in line takes the first message
    await expect(a).rejects.toThrow()
    tx.send(1)
    tx.send(2)
    expect(await b).toBe(1)
    expect(await c).toBe(2)
    const f = rx.recv() // joins the line behind d and e
    tx.send(3)
    expect(await d).toBe(3)
    tx.close()
    const order: string[] = []
    await Promise.all([
      e.catch((err) => order.push(`e ${err.constructor.name}`)),
      f.catch((err) => order.push(`f ${err.constructor.name}`)),
    ])
    expect(order).toEqual(['e DisconnectedError', 'f DisconnectedError'])
    // nothing pends any more: the receiver can move
    const [otx, orx] = channel<unknown>()
    otx.send(rx)
    await orx.recv()
  })

  it('tryRecv never waits', () => {
    const [tx, rx] = channel<string>()
    expect(rx.tryRecv()).toEqual({ ok: false, reason: 'empty' })
    tx.send('a')
    expect(rx.tryRecv()).toEqual({ ok: true, value: 'a' })
    tx.close()
    expect(rx.tryRecv()).toEqual({ ok: false, reason: 'disconnected' })
  })

  it('a timeout rejects with TimeoutError and loses nothing: a later value stays queued', async () => {
    const [tx, rx] = channel<string>()
    const err = await rx.recv({ timeout: 20 }).catch((e) => e)
    expect(err).toBeInstanceOf(TimeoutError)
    expect(err.name).toBe('TimeoutError')
    tx.send('late')
    expect(rx.tryRecv()).toEqual({ ok: true, value: 'late' })
  })

  it('an abort rejects with signal.reason and loses nothing', async () => {
    const [tx, rx] = channel<string>()
    const ac = new AbortController()
    const p = rx.recv({ signal: ac.signal })
    const reason = new Error('stop')
    ac.abort(reason)
    await expect(p).rejects.toBe(reason)
    tx.send('after')
    expect(await rx.recv()).toBe('after')
    const pre = new AbortController()
    pre.abort('already')
    await expect(rx.recv({ signal: pre.signal })).rejects.toBe('already')
  })

  it('send after the receiver closed throws DisconnectedError', () => {
    const [tx, rx] = channel<number>()
    rx.close()
    rx.close()
    expect(() => tx.send(1)).toThrow(DisconnectedError)
    expect(tx.isDisconnected).toBe(true)
  })

  it('closing the receiver rejects its own pending recv', async () => {
    const [, rx] = channel<number>()
    const p = rx.recv()
    rx.close()
    await expect(p).rejects.toBeInstanceOf(DisconnectedError)
  })

  it('for await ends when disconnected and drained; break leaves the receiver usable', async () => {
    const [tx, rx] = channel<number>()
    for (let i = 0; i < 5; i++) tx.send(i)
    const seen: number[] = []
    for await (const v of rx) {
      seen.push(v)
      if (v === 2) break
    }
    tx.close()
    for await (const v of rx) seen.push(v)
    expect(seen).toEqual([0, 1, 2, 3, 4])
  })

  it('the iterator of a receiver: waits, ends once, throws what is not an orderly end, and is its own iterator', async () => {
    const [tx, rx] = channel<number>()
    const it = rx[Symbol.asyncIterator]()
    expect(it[Symbol.asyncIterator]()).toBe(it)
    const waiting = it.next() // nothing queued yet: it waits
    const early = it.next() // a second step in flight takes the next message, in order
    tx.send(1)
    tx.send(2)
    expect(await waiting).toEqual({ value: 1, done: false })
    expect(await early).toEqual({ value: 2, done: false })
    tx.close()
    expect(await it.next()).toEqual({ value: undefined, done: true })
    expect(await it.next()).toEqual({ value: undefined, done: true }) // ended stays ended
    // return() (what `break` calls) ends this iterator only; throw() rejects with what it is given.
    const [tx2, rx2] = channel<number>()
    const a = rx2[Symbol.asyncIterator]()
    tx2.send(7)
    expect(await a.return!(undefined)).toEqual({ value: undefined, done: true })
    expect(await a.next()).toEqual({ value: undefined, done: true })
    await expect(rx2[Symbol.asyncIterator]().throw!(new Error('stop'))).rejects.toThrow('stop')
    expect(await rx2.recv()).toBe(7)
    // A receiver moved away mid-loop: the loop throws the HandleError that says so.
    const b = rx2[Symbol.asyncIterator]()
    const [tx3] = channel<unknown>()
    tx3.send(rx2)
    await expect(b.next()).rejects.toBeInstanceOf(HandleError)
  })

  it('using a closed sender or receiver throws HandleError', async () => {
    const [tx, rx] = channel<number>()
    tx.close()
    expect(() => tx.send(1)).toThrow(HandleError)
    expect(() => tx.clone()).toThrow(/closed/)
    rx.close()
    await expect(rx.recv()).rejects.toBeInstanceOf(HandleError)
  })

  it('Symbol.dispose closes', () => {
    const [tx, rx] = channel<number>()
    {
      using t = tx.clone()
      t.send(1)
    }
    tx[Symbol.dispose]()
    expect(rx.tryRecv()).toEqual({ ok: true, value: 1 })
    expect(rx.tryRecv()).toEqual({ ok: false, reason: 'disconnected' })
  })

  it('rejects values that cannot be sent, and loses nothing else', () => {
    const [tx, rx] = channel<unknown>()
    const [inner] = channel<number>()
    expect(() => tx.send({ f: () => 1, inner })).toThrow(UnsupportedValueError)
    expect(() => tx.send(Symbol('x'))).toThrow(UnsupportedValueError)
    const cyclic: Record<string, unknown> = {}
    cyclic.self = cyclic
    expect(() => tx.send(cyclic)).toThrow(UnsupportedValueError)
    // The sender inside the rejected message did not move.
    inner.send(1)
    expect(rx.tryRecv()).toEqual({ ok: false, reason: 'empty' })
  })
})

describe('handles moving in-process', () => {
  it('sending a handle moves it; each occurrence arrives as an independent handle', async () => {
    const [tx, rx] = channel<{ a: Sender<number>; list: Sender<number>[]; m: Map<string, Sender<number>> }>()
    const [itx, irx] = channel<number>()
    tx.send({ a: itx, list: [itx, itx], m: new Map([['k', itx]]) })
    expect(() => itx.send(0)).toThrow(HandleError)
    const got = await rx.recv()
    const senders = [got.a, ...got.list, got.m.get('k')!]
    expect(new Set(senders).size).toBe(4)
    senders.forEach((s, i) => s.send(i))
    for (const s of senders.slice(0, 3)) s.close()
    expect([await irx.recv(), await irx.recv(), await irx.recv(), await irx.recv()]).toEqual([0, 1, 2, 3])
    expect(irx.tryRecv()).toEqual({ ok: false, reason: 'empty' }) // one sender still open
    senders[3]!.close()
    await expect(irx.recv()).rejects.toBeInstanceOf(DisconnectedError)
  })

  it('senders inside undelivered messages keep the channel connected', async () => {
    const [tx, rx] = channel<Sender<string>>()
    const [itx, irx] = channel<string>()
    tx.send(itx)
    expect(irx.tryRecv()).toEqual({ ok: false, reason: 'empty' }) // not disconnected: a sender is in flight
    const s = await rx.recv()
    s.send('x')
    s.close()
    expect(await irx.recv()).toBe('x')
    await expect(irx.recv()).rejects.toBeInstanceOf(DisconnectedError)
  })

  it('a receiver moves with its queue, and is usable where it arrives', async () => {
    const [tx, rx] = channel<Receiver<number>>()
    const [itx, irx] = channel<number>()
    itx.send(1)
    tx.send(irx)
    await expect(irx.recv()).rejects.toBeInstanceOf(HandleError)
    itx.send(2)
    const moved = await rx.recv()
    expect(await moved.recv()).toBe(1)
    expect(await moved.recv()).toBe(2)
  })

  it('refuses to send a receiver into its own channel, twice in one message, or while a recv is pending', () => {
    const [tx, rx] = channel<unknown>()
    expect(() => tx.send(rx)).toThrow(HandleError)
    const [, r2] = channel<number>()
    expect(() => tx.send([r2, r2])).toThrow(/twice/)
    const pending = r2.recv()
    pending.catch(() => {})
    expect(() => tx.send(r2)).toThrow(/pending/)
    r2.close()
  })

  it('instanceof works by brand, across copies of the package', () => {
    const [tx, rx] = channel<number>()
    const fake = { [Symbol.for('ipfi.Sender')]: true }
    expect(tx).toBeInstanceOf(Sender)
    expect(rx).toBeInstanceOf(Receiver)
    expect(fake instanceof Sender).toBe(true)
    expect({} instanceof Sender).toBe(false)
    const e = { [Symbol.for('ipfi.DisconnectedError')]: true }
    expect(e instanceof DisconnectedError).toBe(true)
  })
})

describe('ReceiverSet', () => {
  it('close() ends a waiting select with DisconnectedError and closes every receiver in the set, which is empty after', async () => {
    const set = new ReceiverSet<string>()
    const [tx, rx] = channel<string>()
    set.add(rx)
    const waiting = set.select()
    set.close()
    const e = await waiting.catch((err: unknown) => err)
    expect(e).toBeInstanceOf(DisconnectedError)
    expect(e).not.toBeInstanceOf(ConnectionLostError)
    expect((e as Error).message).toBe('the ReceiverSet was closed')
    expect(() => tx.send('x')).toThrow(DisconnectedError) // its receivers were closed
    expect(set.size).toBe(0)
    set.close() // nothing waits now: nothing to end
  })

  it('a second select() while one waits is refused with HandleError, and the waiting one still gets what comes', async () => {
    const set = new ReceiverSet<string>()
    const [tx, rx] = channel<string>()
    const id = set.add(rx)
    const waiting = set.select()
    const e = await set.select().catch((err: unknown) => err)
    expect(e).toBeInstanceOf(HandleError)
    expect((e as Error).message).toMatch(/another select\(\) is already waiting/)
    tx.send('x')
    expect(await waiting).toEqual([{ id, kind: 'message', value: 'x' }])
  })

  it('selects messages from several receivers, then a closed event after each channel drains', async () => {
    const set = new ReceiverSet<string>()
    const [t1, r1] = channel<string>()
    const [t2, r2] = channel<string>()
    const id1 = set.add(r1)
    const id2 = set.add(r2)
    await expect(r1.recv()).rejects.toBeInstanceOf(HandleError)
    expect(set.trySelect()).toEqual([])
    const waiting = set.select()
    t2.send('b')
    expect(await waiting).toEqual([{ id: id2, kind: 'message', value: 'b' }])
    t1.send('a1')
    t1.send('a2')
    t1.close()
    const seen: unknown[] = []
    while (set.size > 1 || seen.length < 3) {
      const evs = await set.select({ timeout: 1000 })
      seen.push(...evs)
    }
    expect(seen).toEqual([
      { id: id1, kind: 'message', value: 'a1' },
      { id: id1, kind: 'message', value: 'a2' },
      { id: id1, kind: 'closed' },
    ])
    expect(set.size).toBe(1)
    await expect(set.select({ timeout: 10 })).rejects.toBeInstanceOf(TimeoutError)
    t2.close()
    expect(await set.select()).toEqual([{ id: id2, kind: 'closed' }])
    expect(set.size).toBe(0)
    await expect(set.select({ timeout: 10 })).rejects.toBeInstanceOf(TimeoutError) // empty now: it waits, as a non-empty set does
  })

  it('an empty set waits: until a receiver is added and has something, the timeout, or the signal', async () => {
    const set = new ReceiverSet<string>()
    await expect(set.select({ timeout: 20 })).rejects.toBeInstanceOf(TimeoutError)
    const stop = new AbortController()
    const aborted = set.select({ signal: stop.signal })
    stop.abort(new Error('stop'))
    await expect(aborted).rejects.toThrow('stop')

    // Added while a select waits: one that already holds a message wakes it at once...
    let waiting = set.select()
    const [t1, r1] = channel<string>()
    t1.send('queued')
    const id1 = set.add(r1)
    expect(await waiting).toEqual([{ id: id1, kind: 'message', value: 'queued' }])
    // ...one with nothing yet, when its message comes...
    waiting = set.select({ timeout: 5000 })
    const [t2, r2] = channel<string>()
    const id2 = set.add(r2)
    t2.send('later')
    expect(await waiting).toEqual([{ id: id2, kind: 'message', value: 'later' }])
    // ...and one whose senders are all gone, with its closed event.
    set.close()
    waiting = set.select()
    const [t3, r3] = channel<string>()
    t3.close()
    const id3 = set.add(r3)
    expect(await waiting).toEqual([{ id: id3, kind: 'closed' }])
    expect(set.size).toBe(0)
    t1.close()
    t2.close()
  })
})

describe('garbage collection', () => {
  const gc = (globalThis as { gc?: () => void }).gc
  it.runIf(gc)('a sender dropped without close() releases the channel once collected', async () => {
    const [tx, rx] = channel<number>()
    ;(() => {
      const forgotten = tx.clone()
      forgotten.send(1)
    })()
    tx.close()
    expect(await rx.recv()).toBe(1)
    for (let i = 0; i < 20 && rx.tryRecv().ok === false && (rx.tryRecv() as { reason: string }).reason === 'empty'; i++) {
      gc!()
      await new Promise((r) => setTimeout(r, 10))
    }
    expect(rx.tryRecv()).toEqual({ ok: false, reason: 'disconnected' })
  })

  it.runIf(gc)('a receiver dropped without close() tells its senders once collected', async () => {
    const [tx] = (() => {
      const [t, r] = channel<number>()
      void r
      return [t]
    })()
    for (let i = 0; i < 20 && !tx.isDisconnected; i++) {
      gc!()
      await new Promise((r) => setTimeout(r, 10))
    }
    expect(tx.isDisconnected).toBe(true)
  })
})
