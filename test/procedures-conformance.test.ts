/**
 * Protocol conformance of procedures (docs/PROTOCOL.md §10) under hostile input, beside test/hostile.test.ts:
 * call messages crafted by hand on a session opened by hand (the callee must refuse or close, never
 * crash or leak), and replies crafted by hand read by a real proxy (the caller must fail the call).
 */
import { describe, expect, it } from 'vitest'
import { channel, Receiver, Sender } from '../src/channel/index.js'
import { CONSTRUCT, OPEN_SESSION } from '../src/brand.js'
import { ConnectionLostError, DisconnectedError, HandleError, LimitExceededError, ProtocolError, TimeoutError, UnsupportedValueError } from '../src/errors.js'
import { currentCall, Endpoint, expose, remote, RemoteError } from '../src/procedures/index.js'
import { CALL, CANCEL, CLOSE, CREDIT, DEFAULT_WINDOW, DONE, END, ERROR, FAIL, ITEM, MAX_WINDOW, PULL, RESULT, STOP, YIELD } from '../src/procedures/messages.js'
import { deferred, rejection, turn, until, within } from './support/async.js'
import { GUARD, TURNS, cleanups, parked, MODES, world, RegisteredError, type World } from './support/procedures-world.js'
import { CalleeCall } from '../src/procedures/callee/call.js'

describe.each(MODES)('hostile call messages (%s)', (mode) => {
  const started: string[] = []
  const aborted: string[] = []
  const impl = {
    add: (a: number, b: number) => a + b,
    async hang(tag: string) {
      const s = currentCall()!.signal
      s.addEventListener('abort', () => aborted.push(tag))
      started.push(tag)
      await parked()
    },
    async sum(xs: AsyncIterable<number>) {
      let s = 0
      for await (const x of xs) s += x
      return s
    },
    async waitThenSum(xs: AsyncIterable<number>) {
      await parked()
      return xs
    },
    async *ticks(n: number) {
      for (let i = 0; i < n; i++) yield i
    },
  }

  /** A session opened by hand on an endpoint that reached A. */
  async function rawSession(w: World, ep: Endpoint<unknown>) {
    const [callTx, callRx] = channel<unknown>()
    const [replyTx, replyRx] = channel<unknown[]>()
    ;(ep as any)[OPEN_SESSION]({ calls: callRx, reply: replyTx })
    return {
      send: (m: unknown) => callTx.send(m),
      next: () => within(replyRx.recv(), GUARD, 'a reply'),
      callTx,
      replyRx,
    }
  }

  async function setup() {
    started.length = 0
    aborted.length = 0
    const w = await world(mode)
    const ep = await w.toA(expose(impl))
    cleanups.push(() => ep.close())
    return { w, ep }
  }

  /** The session was closed with a ProtocolError (CLOSE), then the reply channel ended. */
  async function expectClosed(s: Awaited<ReturnType<typeof rawSession>>, what: string) {
    const m = await s.next()
    expect(m[0], what).toBe(CLOSE)
    // Read off a raw reply channel: only the codec saw it (a proxy would also revive the class).
    expect((m[1] as Error).name, what).toBe('ProtocolError')
    expect((m[1] as ProtocolError).code, what).toBe('ERR_IPFI_PROTOCOL')
    expect(await rejection(s.replyRx.recv(), GUARD, 'the reply channel to end')).toBeInstanceOf(DisconnectedError)
  }

  /** The endpoint (and the link) still serve a normal proxy. */
  async function stillWorks(ep: Endpoint<unknown>) {
    const api = remote<typeof impl>(ep)
    try {
      expect(await api.add(40, 2)).toBe(42)
    } finally {
      api[Symbol.dispose]()
    }
  }

  it('a well-formed session by hand works: CALL -> RESULT, stream with CREDIT, unknown names -> ERROR', async () => {
    const { w, ep } = await setup()
    const s = await rawSession(w, ep)
    s.send([CALL, 0, 'add', [1, 2], 1, []])
    expect(await s.next()).toEqual([RESULT, 0, 3])
    s.send([CALL, 1, 'ticks', [3], 1, []])
    expect(await s.next()).toEqual([YIELD, 1, 0])
    s.send([CREDIT, 1, 1])
    expect(await s.next()).toEqual([YIELD, 1, 1])
    s.send([CREDIT, 1, 5])
    expect(await s.next()).toEqual([YIELD, 1, 2])
    expect(await s.next()).toEqual([DONE, 1])
    for (const name of ['__proto__', 'constructor', 'toString', 'nope']) {
      s.send([CALL, 2, name, [], 1, []])
      const m = await s.next()
      expect(m[0]).toBe(ERROR)
      expect((m[2] as any).code).toBe('ERR_IPFI_NO_SUCH_PROCEDURE')
    }
    s.send([CALL, 3, null, [], 1, []]) // nil names a callback; this endpoint serves an object
    expect(((await s.next())[2] as any).code).toBe('ERR_IPFI_NO_SUCH_PROCEDURE')
    // Ids may be reused once a call is over.
    s.send([CALL, 0, 'add', [2, 2], 1, []])
    expect(await s.next()).toEqual([RESULT, 0, 4])
    s.callTx.close()
  })

  it('an id is free again once its call was cancelled, even while the procedure still runs', async () => {
    const { w, ep } = await setup()
    const s = await rawSession(w, ep)
    s.send([CALL, 1, 'hang', ['cancelled'], 4, []])
    await until(() => started.length === 1, TURNS, 'the call to start')
    s.send([CANCEL, 1])
    s.send([CALL, 1, 'add', [2, 3], 1, []])
    expect(await s.next()).toEqual([RESULT, 1, 5])
    await until(() => aborted.length === 1, TURNS, 'the cancelled call to see its signal')
    s.callTx.close()
  })

  it('messages for unknown ids (CANCEL, CREDIT, ITEM, END, FAIL) are ignored', async () => {
    const { w, ep } = await setup()
    const s = await rawSession(w, ep)
    s.send([CANCEL, 999])
    s.send([CREDIT, 999, 5])
    s.send([ITEM, 999, 0, 'x'])
    s.send([END, 999, 0])
    s.send([FAIL, 999, 0, new Error('x')])
    const [tx, rx] = channel<number>()
    s.send([ITEM, 998, 0, { tx }]) // a handle inside an ignored message is closed
    expect(await rejection(rx.recv(), GUARD, 'the dropped handle to close')).toBeInstanceOf(DisconnectedError)
    s.send([CALL, 5, 'add', [1, 1], 1, []])
    expect(await s.next()).toEqual([RESULT, 5, 2])
    s.callTx.close()
  })

  it('a duplicate call id while the first runs closes the session with ProtocolError; the link and other sessions go on', async () => {
    const { w, ep } = await setup()
    const s = await rawSession(w, ep)
    s.send([CALL, 1, 'hang', ['first'], 4, []])
    await until(() => started.length === 1, TURNS, 'the first call to start')
    s.send([CALL, 1, 'hang', ['second'], 4, []])
    await expectClosed(s, 'duplicate id')
    await until(() => aborted.length === 1, TURNS, 'the running call to be aborted')
    expect(aborted).toEqual(['first'])
    expect(started).toEqual(['first'])
    await stillWorks(ep)
    if (w.a) {
      w.a.sender.send('link up')
      expect(await within(w.b!.receiver.recv(), GUARD, 'a message on the link')).toBe('link up')
    }
  })

  const malformed: [string, unknown][] = [
    ['a string', 'hello'],
    ['a number', 42],
    ['null', null],
    ['an object', { 0: CALL, 1: 1 }],
    ['an empty array', []],
    ['no id', [CALL]],
    ['a negative id', [CALL, -1, 'add', [1, 2], 1, []]],
    ['a fractional id', [CALL, 1.5, 'add', [1, 2], 1, []]],
    ['a string id', [CALL, '1', 'add', [1, 2], 1, []]],
    ['an unknown kind', [99, 1]],
    ['a short CALL', [CALL, 1, 'add', [1, 2]]],
    ['a name that is a number', [CALL, 1, 7, [1, 2], 1, []]],
    ['a name that is an array', [CALL, 1, ['add'], [1, 2], 1, []]],
    ['args not an array', [CALL, 1, 'add', { 0: 1 }, 1, []]],
    ['window 0', [CALL, 1, 'add', [1, 2], 0, []]],
    ['a negative window', [CALL, 1, 'add', [1, 2], -5, []]],
    ['a fractional window', [CALL, 1, 'add', [1, 2], 2.5, []]],
    ['a huge window', [CALL, 1, 'add', [1, 2], MAX_WINDOW + 1, []]],
    ['an infinite window', [CALL, 1, 'add', [1, 2], Infinity, []]],
    ['a NaN window', [CALL, 1, 'add', [1, 2], NaN, []]],
    ['a string window', [CALL, 1, 'add', [1, 2], '8', []]],
    ['streams not an array', [CALL, 1, 'sum', [null], 1, 0]],
    ['a stream position out of range', [CALL, 1, 'sum', [null], 1, [3]]],
    ['a stream position twice', [CALL, 1, 'sum', [null], 1, [0, 0]]],
    ['a stream position whose arg is not nil', [CALL, 1, 'sum', [5], 1, [0]]],
    // Checked in linear time: with indexOf per position this list held the callee for seconds.
    ['300,000 stream positions, the last one twice', [CALL, 1, 'sum', new Array(300_000).fill(null), 1, [...Array(300_000).keys(), 299_999]]],
    ['a negative credit', [CREDIT, 1, -1]],
    ['a fractional credit', [CREDIT, 1, 0.5]],
    ['an ITEM with no argument index', [ITEM, 1]],
  ]
  it.each(malformed)('garbage on the call channel (%s) closes only that session, with ProtocolError', async (what, m) => {
    const { w, ep } = await setup()
    const s = await rawSession(w, ep)
    s.send([CALL, 100, 'hang', ['victim'], 4, []])
    await until(() => started.length === 1, TURNS, 'a call to start')
    s.send(m)
    await expectClosed(s, what)
    await until(() => aborted.length === 1, TURNS, 'the running call to be aborted')
    await stillWorks(ep)
  })

  it('a garbage message that carries handles has them closed', async () => {
    const { w, ep } = await setup()
    const s = await rawSession(w, ep)
    const [tx, rx] = channel<number>()
    s.send({ not: 'an array', tx })
    await expectClosed(s, 'garbage with a handle')
    expect(await rejection(rx.recv(), GUARD, 'the handle to be closed')).toBeInstanceOf(DisconnectedError)
    await stillWorks(ep)
  })

  it('an ITEM that was not pulled, or for an argument that is not streamed, closes the session', async () => {
    const { w, ep } = await setup()
    // Not pulled: the procedure has not read its argument yet.
    const s1 = await rawSession(w, ep)
    s1.send([CALL, 1, 'waitThenSum', [null], 4, [0]])
    s1.send([ITEM, 1, 0, 10])
    await expectClosed(s1, 'ITEM not pulled')
    // More than pulled.
    const s2 = await rawSession(w, ep)
    s2.send([CALL, 1, 'sum', [null], 2, [0]])
    expect(await s2.next()).toEqual([PULL, 1, 0, 2])
    s2.send([ITEM, 1, 0, 1])
    s2.send([ITEM, 1, 0, 2])
    s2.send([ITEM, 1, 0, 3])
    s2.send([ITEM, 1, 0, 4])
    s2.send([ITEM, 1, 0, 5])
    let m = await s2.next()
    while (m[0] === PULL) m = await s2.next() // top-ups may come first
    expect(m[0]).toBe(CLOSE)
    // Not a streamed argument.
    const s3 = await rawSession(w, ep)
    s3.send([CALL, 1, 'sum', [null], 2, [0]])
    expect(await s3.next()).toEqual([PULL, 1, 0, 2])
    s3.send([ITEM, 1, 1, 'x'])
    await expectClosed(s3, 'ITEM for a non-streamed argument')
    // A well-behaved streamed argument by hand, for contrast: send only what was pulled.
    const s4 = await rawSession(w, ep)
    s4.send([CALL, 1, 'sum', [null], 2, [0]])
    let credit = 0
    let sent = 0
    for (let guard = 0; guard < 100 && sent < 10; guard++) {
      const p = await s4.next()
      expect(p[0]).toBe(PULL)
      expect(p.slice(1, 3)).toEqual([1, 0])
      credit += p[3] as number
      expect(credit).toBeLessThanOrEqual(2)
      for (; credit > 0 && sent < 10; credit--) s4.send([ITEM, 1, 0, ++sent])
    }
    s4.send([END, 1, 0])
    m = await s4.next()
    while (m[0] === PULL) m = await s4.next()
    expect(m).toEqual([RESULT, 1, 55])
    // Items after END are dropped (not an error): the session goes on.
    s4.send([ITEM, 1, 0, 9])
    s4.send([CALL, 2, 'add', [1, 1], 1, []])
    expect(await s4.next()).toEqual([RESULT, 2, 2])
    s4.callTx.close()
    await stillWorks(ep)
  })

  it('huge credit is accepted, a window of MAX_WINDOW is accepted, and CANCEL stops a stream', async () => {
    const { w, ep } = await setup()
    const s = await rawSession(w, ep)
    s.send([CALL, 1, 'ticks', [5], MAX_WINDOW, []])
    const got: unknown[][] = []
    for (let i = 0; i < 6; i++) got.push(await s.next())
    expect(got).toEqual([[YIELD, 1, 0], [YIELD, 1, 1], [YIELD, 1, 2], [YIELD, 1, 3], [YIELD, 1, 4], [DONE, 1]])
    s.send([CALL, 2, 'ticks', [3], 1, []])
    expect(await s.next()).toEqual([YIELD, 2, 0])
    s.send([CREDIT, 2, Number.MAX_SAFE_INTEGER])
    expect(await s.next()).toEqual([YIELD, 2, 1])
    expect(await s.next()).toEqual([YIELD, 2, 2])
    expect(await s.next()).toEqual([DONE, 2])
    s.send([CALL, 3, 'ticks', [1_000_000], 1, []])
    expect(await s.next()).toEqual([YIELD, 3, 0])
    s.send([CANCEL, 3])
    s.send([CALL, 4, 'add', [1, 2], 1, []])
    // Nothing more for the cancelled call: the next answer is the add.
    expect(await s.next()).toEqual([RESULT, 4, 3])
    s.callTx.close()
  })

  it('malformed session openings are dropped (their handles closed) and the endpoint goes on', async () => {
    const { w, ep } = await setup()
    const open = (v: unknown) => (ep as any)[OPEN_SESSION](v)
    const [tx1, rx1] = channel<unknown>()
    const [tx2, rx2] = channel<unknown>()
    const [tx3, rx3] = channel<unknown>()
    open({ calls: 1, reply: tx1 }) // calls not a receiver
    open({ calls: rx2, reply: 'no' }) // reply not a sender
    open({ calls: rx3, reply: tx3, extra: 1 }) // a receiver sent into its own channel? no: its own reply; still a valid shape
    open('garbage')
    open(null)
    expect(await rejection(rx1.recv(), GUARD, 'the dropped reply sender to close')).toBeInstanceOf(DisconnectedError)
    await until(() => tx2.isDisconnected, TURNS, 'the dropped call receiver to close')
    void rx3
    await stillWorks(ep)
  })
})

// A hostile callee: replies crafted by hand, read by a real proxy.

describe.each(MODES)('hostile replies (%s)', (mode) => {
  /** An endpoint served by hand on B; A gets a real proxy for it. */
  async function handCallee() {
    const w = await world(mode)
    const [tx, rx] = channel<{ calls: Receiver<unknown[]>; reply: Sender<unknown> }>()
    const ep = await w.toA(new Endpoint(CONSTRUCT, tx as any))
    const api: any = remote(ep)
    ep.close()
    cleanups.push(() => api[Symbol.dispose](), () => rx.close())
    let session: { calls: Receiver<unknown[]>; reply: Sender<unknown> } | null = null
    /** The next call message (opening the session on first use). */
    const nextCall = async () => {
      session ??= await within(rx.recv(), GUARD, 'the session to open')
      return within(session.calls.recv(), GUARD, 'a call message')
    }
    const reply = (m: unknown) => session!.reply.send(m)
    return { w, api, nextCall, reply, session: () => session! }
  }

  it('garbage replies and replies for unknown ids are ignored; the right reply settles the call', async () => {
    const { api, nextCall, reply } = await handCallee()
    const p = api.add(1, 2)
    const call = await nextCall()
    expect(call).toEqual([CALL, 0, 'add', [1, 2], DEFAULT_WINDOW, []])
    for (const g of ['x', 42, null, {}, [], [RESULT], [RESULT, 99, 'other'], [77, 0], [YIELD, 5, 1], [PULL, 0, 0, 5], [STOP, 0, 3]]) reply(g)
    reply([RESULT, 0, 3])
    expect(await within(p, GUARD, 'the call')).toBe(3)
  })

  it('a late answer (the call was aborted) and one for no call are dropped with their handles closed', async () => {
    const { api, nextCall, reply } = await handCallee()
    const ac = new AbortController()
    const late = api.add.with({ signal: ac.signal })(1, 2)
    expect((await nextCall())[0]).toBe(CALL)
    ac.abort()
    await rejection(late, GUARD, 'the aborted call')
    expect(await nextCall()).toEqual([CANCEL, 0])
    const [tx1, rx1] = channel<number>()
    const [tx2, rx2] = channel<number>()
    const [tx3, rx3] = channel<number>()
    reply([RESULT, 0, tx1]) // the call is over: a late RESULT carrying a Sender
    reply([RESULT, 42, tx2]) // an id that was never a call
    reply({ not: 'an array', tx: tx3 })
    // The session goes on: the next call is answered, after the dropped replies were read.
    const next = api.add(2, 3)
    expect((await nextCall())[1]).toBe(1)
    reply([RESULT, 1, 5])
    expect(await within(next, GUARD, 'the next call')).toBe(5)
    // The caller closed each Sender of a dropped reply as it read it, before that answer: so by the
    // time a later CALL arrives here (after any RELEASE it caused, on the same link), each of their
    // channels has ended. (Not closed, they would end only when the garbage collector came by.)
    const after = api.add(3, 4)
    expect((await nextCall())[1]).toBe(2)
    for (const rx of [rx1, rx2, rx3]) expect(rx.tryRecv()).toEqual({ ok: false, reason: 'disconnected' })
    reply([RESULT, 2, 7])
    expect(await within(after, GUARD, 'the last call')).toBe(7)
  })

  it('a RESULT in the middle of a stream fails the stream with ProtocolError (it does not hang)', async () => {
    const { api, nextCall, reply } = await handCallee()
    const s = api.ticks()
    await nextCall()
    reply([YIELD, 0, 'a'])
    reply([RESULT, 0, 'x'])
    const got: unknown[] = []
    const e = await rejection((async () => {
      for await (const x of s) got.push(x)
    })(), GUARD)
    expect(got).toEqual(['a'])
    expect(e).toBeInstanceOf(ProtocolError)
  })

  it('PULL within the window is served item by item; PULL beyond the window fails the call with ProtocolError and stops the source', async () => {
    const { api, nextCall, reply } = await handCallee()
    let produced = 0
    const finallyRan = deferred()
    async function* source() {
      try {
        for (;;) {
          produced++
          yield produced
        }
      } finally {
        finallyRan.resolve()
      }
    }
    const p = api.sum.with({ window: 4 })(source())
    const call = await nextCall()
    expect(call[5]).toEqual([0])
    reply([PULL, 0, 0, 3])
    for (let i = 1; i <= 3; i++) expect(await nextCall()).toEqual([ITEM, 0, 0, i])
    reply([PULL, 0, 0, 4])
    for (let i = 4; i <= 7; i++) expect(await nextCall()).toEqual([ITEM, 0, 0, i])
    for (let i = 0; i < 20; i++) await turn()
    expect(produced).toBeLessThanOrEqual(8)
    reply([PULL, 0, 0, 1_000_000])
    const e = await rejection(p, GUARD)
    expect(e).toBeInstanceOf(ProtocolError)
    expect(e.message).toMatch(/window/)
    await within(finallyRan.promise, GUARD, "the source's finally")
    expect(produced).toBeLessThanOrEqual(8)
    expect(await nextCall()).toEqual([CANCEL, 0])
  })

  it('YIELDs past the credit granted fail the stream with ProtocolError, after the items that came within it', async () => {
    const { api, nextCall, reply } = await handCallee()
    const s = api.ticks.with({ window: 4 })()
    await nextCall()
    for (let i = 0; i < 4; i++) reply([YIELD, 0, i]) // exactly the window: fine
    reply([YIELD, 0, 4]) // one past it
    reply([YIELD, 0, 5]) // and what follows is dropped
    const got: unknown[] = []
    const e = await rejection((async () => {
      for await (const x of s) got.push(x)
    })(), GUARD)
    expect(got).toEqual([0, 1, 2, 3])
    expect(e).toBeInstanceOf(ProtocolError)
    expect(e.message).toMatch(/more stream items than the credit/)
    expect(await nextCall()).toEqual([CANCEL, 0])
  })

  it('the credit is the window plus every CREDIT granted (not twice the window)', async () => {
    const { api, nextCall, reply } = await handCallee()
    const s = api.ticks.with({ window: 4 })()
    await nextCall()
    for (let i = 0; i < 4; i++) reply([YIELD, 0, i])
    expect(await within(s.next(), GUARD, 'item 0')).toEqual({ value: 0, done: false })
    expect(await within(s.next(), GUARD, 'item 1')).toEqual({ value: 1, done: false })
    // Half a window consumed: the caller grants 2 more. The credit is now 4 + 2 = 6 items in all.
    expect(await nextCall()).toEqual([CREDIT, 0, 2])
    reply([YIELD, 0, 4])
    reply([YIELD, 0, 5])
    reply([YIELD, 0, 6]) // the 7th item: within twice the window, but past 4 + 2
    // Nothing more is read meanwhile (reading would grant more credit): the caller stops the call.
    expect(await nextCall()).toEqual([CANCEL, 0])
    const got: unknown[] = []
    const e = await rejection((async () => {
      for await (const x of s) got.push(x)
    })(), GUARD)
    expect(got).toEqual([2, 3, 4, 5])
    expect(e).toBeInstanceOf(ProtocolError)
  })

  it('PULL of 0 items is nothing; a PULL that is not a whole number of items fails the call with ProtocolError', async () => {
    for (const bad of [-1, 1.5, 'two', null]) {
      const { api, nextCall, reply } = await handCallee()
      const finallyRan = deferred()
      async function* source() {
        try {
          for (let i = 0; ; i++) yield i
        } finally {
          finallyRan.resolve()
        }
      }
      const p = api.sum.with({ window: 4 })(source())
      await nextCall()
      reply([PULL, 0, 0, 0])
      reply([PULL, 0, 0, 1])
      expect(await nextCall(), String(bad)).toEqual([ITEM, 0, 0, 0]) // the PULL 0 asked for nothing
      reply([PULL, 0, 0, bad])
      const e = await rejection(p, GUARD)
      expect(e, String(bad)).toBeInstanceOf(ProtocolError)
      expect(e.message).toMatch(/malformed number of items/)
      expect(await nextCall()).toEqual([CANCEL, 0])
      await within(finallyRan.promise, GUARD, "the source's finally")
    }
  })

  it('CLOSE fails every pending call with its ProtocolError (as a RemoteError), and later calls too', async () => {
    const { api, nextCall, reply } = await handCallee()
    const p1 = api.a()
    const p2 = api.b()
    await nextCall()
    await nextCall()
    reply([CLOSE, new ProtocolError('you broke it')])
    const [e1, e2] = await Promise.all([rejection(p1, GUARD), rejection(p2, GUARD)])
    for (const e of [e1, e2]) {
      expect(e).toBeInstanceOf(ProtocolError)
      expect(e).toBeInstanceOf(RemoteError)
      expect(e.message).toBe('you broke it')
    }
    expect(await rejection(api.c(), GUARD)).toBeInstanceOf(ProtocolError)
  })

  it("ipfi's own errors in ERROR arrive as their classes", async () => {
    const { api, nextCall, reply } = await handCallee()
    const cases: [Error, abstract new (...a: never[]) => Error][] = [
      [new LimitExceededError('limit'), LimitExceededError],
      [new DisconnectedError('gone'), DisconnectedError],
      [new ConnectionLostError('lost'), ConnectionLostError],
      [new TimeoutError('slow'), TimeoutError],
      [new HandleError('moved'), HandleError],
      [new UnsupportedValueError('no'), UnsupportedValueError],
    ]
    for (const [error, Class] of cases) {
      const p = api.f()
      const [, id] = await nextCall()
      reply([ERROR, id, error])
      const e = await rejection(p, GUARD)
      expect(e, error.name).toBeInstanceOf(Class)
      expect(e, error.name).toBeInstanceOf(RemoteError)
      expect(e.name).toBe(error.name)
      expect(e.code).toBe((error as any).code)
      expect(e.message).toBe(error.message)
    }
    // A look-alike name on a user class is left alone when that class came through registered.
    const p = api.f()
    const [, id] = await nextCall()
    reply([ERROR, id, new RegisteredError('mine')])
    expect(await rejection(p, GUARD)).toBeInstanceOf(RegisteredError)
  })

  it('the callee closing its reply channel rejects pending calls with DisconnectedError', async () => {
    const { api, nextCall, session } = await handCallee()
    const p = api.f()
    await nextCall()
    session().reply.close()
    expect(await rejection(p, GUARD)).toBeInstanceOf(DisconnectedError)
    expect(await rejection(api.g(), GUARD)).toBeInstanceOf(DisconnectedError)
  })
})

describe('the callee counts credit as the window plus every CREDIT, with no cap', () => {
  it('a caller that grants more than MAX_WINDOW ahead gets all of it', { timeout: 60_000 }, async () => {
    const yields: unknown[] = []
    const session = {
      callee: { impl: null, asyncContext: false },
      send: (m: unknown[]) => (m[0] === YIELD && yields.push(m[2]), true),
      callDone: () => {},
    }
    const call = new CalleeCall(session as any, 0, 'ticks', 1)
    // Granted ahead, before a single item was consumed: 1 + MAX_WINDOW + 10 items in all.
    call.addCredit(MAX_WINDOW)
    call.addCredit(10)
    const total = 1 + MAX_WINDOW + 10
    void call.run(async function* () {
      for (let i = 0; ; i++) yield i
    } as any, [])
    await until(() => yields.length >= total, 10 * total, 'the credited items')
    for (let i = 0; i < 20; i++) await turn()
    expect(yields.length).toBe(total) // and not one more: the stream waits for credit
    call.addCredit(1)
    await until(() => yields.length === total + 1, TURNS, 'one more item')
    call.cancel(null)
  })
})
