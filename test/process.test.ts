/**
 * Real child processes and worker threads: no mocks. Every child is started through the helpers
 * below, which track it so that afterEach can kill whatever is still running.
 */
import { execFile } from 'node:child_process'
import { createHash, randomFillSync } from 'node:crypto'
import { existsSync, statSync } from 'node:fs'
import { dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { rejection, within } from './support/async.js'
import { trackChildren } from './support/children.js'
import { expectSame } from './support/same.js'
import {
  channel,
  fork,
  spawnWorker,
  ConnectionLostError,
  DisconnectedError,
  HandleError,
  OneShotServer,
  Receiver,
  Sender,
  UnsupportedValueError,
  type ChildProcessHandle,
  type ExitCause,
  type ForkOptions,
  type WorkerHandle,
  type WorkerOptions,
} from 'ipfi'

/** Hang guard for any single wait (never a timing assertion). */
const GUARD = 30_000

const root = fileURLToPath(new URL('..', import.meta.url))
const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url))

type AnyChild = ChildProcessHandle<any, any> | WorkerHandle<any, any>
const track = trackChildren(GUARD)
const servers = new Set<OneShotServer<unknown>>()

afterEach(async () => {
  const ss = [...servers]
  servers.clear()
  await Promise.all(ss.map((s) => s.close().catch(() => {})))
})

function forkFixture<TC = any, TP = any>(name: string, options: ForkOptions = {}): ChildProcessHandle<TC, TP> {
  return track(fork<TC, TP>(fixture(name), options))
}
function workerFixture<TC = any, TP = any>(name: string, options: WorkerOptions = {}): WorkerHandle<TC, TP> {
  return track(spawnWorker<TC, TP>(fixture(name), options))
}

type Kind = 'process' | 'worker thread'
const kinds: Kind[] = ['process', 'worker thread']
function start<TC = any, TP = any>(kind: Kind, name: string, data?: unknown): ChildProcessHandle<TC, TP> | WorkerHandle<TC, TP> {
  return kind === 'process' ? forkFixture<TC, TP>(name, { data }) : workerFixture<TC, TP>(name, { data })
}

/** Who a ConnectionLostError's cause should name for this child. */
function who(c: AnyChild): { pid: number } | { threadId: number } {
  return 'process' in c ? { pid: c.pid! } : { threadId: c.threadId }
}

function thrownBy(f: () => unknown): any {
  try {
    f()
  } catch (e) {
    return e
  }
  throw new Error('expected a throw')
}

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i)

function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ESRCH') return false
    throw e
  }
}

/** 'pending' if `p` has not settled by the next turn of the event loop. */
function stateNow<T>(p: Promise<T>): Promise<T | 'pending'> {
  return Promise.race([p, new Promise<'pending'>((r) => setImmediate(() => r('pending')))])
}

/** Keep this thread busy (as synchronous work would); a way to order events, never a measurement. */
function blockThisThread(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms)
}

/** Whether `path` disappears within a bounded number of short polls. */
async function gone(path: string): Promise<boolean> {
  for (let i = 0; i < 200; i++) {
    if (!existsSync(path)) return true
    await new Promise((r) => setTimeout(r, 25))
  }
  return false
}

const recv = <T>(rx: Receiver<T>) => rx.recv({ timeout: GUARD })

// -------------------------------------------------------------------------------------------

describe('children: processes and worker threads', () => {
  it('1. fork and spawnWorker, with a module path and with a function: typed round trips, data, workerData', async () => {
    type Hello = { hello: { data: unknown; workerData: unknown; isMainThread: boolean; pid: number; threadId: number } }
    type Sum = { sum: number }

    // fork with a module path
    const p = forkFixture<{ a: number; b: number }, Hello | Sum>('hello-data.mjs', { data: { who: 'process', n: 1n } })
    const ph = (await recv(p.receiver)) as Hello
    expect(ph.hello).toEqual({ data: { who: 'process', n: 1n }, workerData: null, isMainThread: true, pid: p.pid, threadId: 0 })
    expect(ph.hello.pid).not.toBe(process.pid)
    p.sender.send({ a: 2, b: 3 })
    p.sender.send({ a: 40, b: 2 })
    expect(await recv(p.receiver)).toEqual({ sum: 5 })
    expect(await recv(p.receiver)).toEqual({ sum: 42 })
    p.sender.close()
    await expect(recv(p.receiver)).rejects.toBeInstanceOf(DisconnectedError)
    expect(await within(p.exited, GUARD, 'forked module to exit')).toEqual({ code: 0, signal: null })

    // spawnWorker with a module path (ESM .mjs), with its own workerData
    const mine = { mine: [1, 2, 3], tag: 'app workerData' }
    const w = workerFixture<{ a: number; b: number }, Hello | Sum>('hello-data.mjs', { data: { who: 'thread' }, workerData: mine })
    const wh = (await recv(w.receiver)) as Hello
    expect(wh.hello.data).toEqual({ who: 'thread' })
    expect(wh.hello.workerData).toEqual(mine) // the application's own workerData, untouched
    expect(wh.hello.isMainThread).toBe(false)
    expect(wh.hello.pid).toBe(process.pid)
    expect(wh.hello.threadId).toBe(w.threadId)
    w.sender.send({ a: -1, b: 1 })
    expect(await recv(w.receiver)).toEqual({ sum: 0 })
    w.sender.close()
    await expect(recv(w.receiver)).rejects.toBeInstanceOf(DisconnectedError)
    expect(await within(w.exited, GUARD, 'worker module to exit')).toEqual({ code: 0, signal: null })

    // fork with a function
    type FnOut = { doubled: number; k: string; pid: number; hasApi: boolean }
    const f = track(
      fork<number, FnOut, { k: string }>(
        async ({ receiver, sender, data, ipfi }) => {
          for await (const n of receiver) {
            sender.send({ doubled: n * 2, k: data.k, pid: process.pid, hasApi: typeof ipfi.channel === 'function' })
          }
          sender.close()
        },
        { data: { k: 'fn-process' } },
      ),
    )
    f.sender.send(21)
    f.sender.send(-4)
    expect(await recv(f.receiver)).toEqual({ doubled: 42, k: 'fn-process', pid: f.pid, hasApi: true })
    expect(await recv(f.receiver)).toEqual({ doubled: -8, k: 'fn-process', pid: f.pid, hasApi: true })
    f.sender.close()
    await expect(recv(f.receiver)).rejects.toBeInstanceOf(DisconnectedError)
    expect(await within(f.exited, GUARD, 'forked function to exit')).toEqual({ code: 0, signal: null })

    // spawnWorker with a function, with its own workerData
    type WFnOut = { upper: string; data: unknown; workerData: unknown; isMainThread: boolean }
    const wf = track(
      spawnWorker<string, WFnOut, { tag: string }>(
        async ({ receiver, sender, data }) => {
          // (no import(): the function closes over nothing and is not transformed for the child)
          const wt = process.getBuiltinModule('node:worker_threads')
          for await (const s of receiver) {
            sender.send({ upper: s.toUpperCase(), data, workerData: wt.workerData, isMainThread: wt.isMainThread })
          }
          sender.close()
        },
        { data: { tag: 'fn-thread' }, workerData: { own: true } },
      ),
    )
    wf.sender.send('abc')
    expect(await recv(wf.receiver)).toEqual({ upper: 'ABC', data: { tag: 'fn-thread' }, workerData: { own: true }, isMainThread: false })
    wf.sender.close()
    await expect(recv(wf.receiver)).rejects.toBeInstanceOf(DisconnectedError)
    expect(await within(wf.exited, GUARD, 'worker function to exit')).toEqual({ code: 0, signal: null })
  })

  it.each(kinds)('2. values of every codec type survive a round trip through a %s', async (kind) => {
    const withCause = Object.assign(new Error('outer failure', { cause: new RangeError('root cause') }), {
      code: 'E_OUTER',
      details: { retry: 3, tags: ['a', 'b'] },
    })
    const typeErr = new TypeError('not a number')
    const custom = new Error('custom named')
    custom.name = 'MyCustomError'
    const objKey = { key: 'object' }
    const value = {
      nested: { a: { b: { c: [1, 'two', { three: 3 }], empty: {} } } },
      array: [1, [2, [3, []]], 'x', true, false, -1.5],
      map: new Map<string, number>([
        ['one', 1],
        ['two', 2],
      ]),
      nestedMap: new Map<unknown, unknown>([
        [1, new Map<unknown, unknown>([[2n, 'bigint key'], [true, new Set([1])]])],
        [objKey, 'object key'],
        [[1, 2], 'array key'],
        [null, 'null key'],
      ]),
      set: new Set<unknown>([1, 'a', 2n, null]),
      date: new Date(Date.UTC(2024, 1, 29, 12, 34, 56, 789)),
      smallBig: 42n,
      negBig: -7n,
      hugeBig: 2n ** 100n + 12345n,
      negHugeBig: -(2n ** 70n) - 1n,
      bytes: Uint8Array.of(0, 1, 127, 128, 255),
      buffer: Buffer.from('héllo buffer'),
      bigBuffer: Buffer.alloc(256 * 1024, 7), // a frame larger than one socket read
      floats: Float64Array.of(1.5, -0, Number.NaN, Number.POSITIVE_INFINITY, Number.MIN_VALUE),
      undef: undefined,
      nul: null,
      nan: Number.NaN,
      inArray: [undefined, null, Number.NaN],
      withCause,
      typeErr,
      custom,
    }
    const c = start(kind, 'echo.mjs')
    c.sender.send(value)
    const got = await recv(c.receiver)

    expect(got.nested).toEqual(value.nested)
    expect(got.array).toEqual(value.array)
    expect(got.map).toBeInstanceOf(Map)
    expect([...got.map]).toEqual([...value.map])
    expect(got.nestedMap).toBeInstanceOf(Map)
    expect(got.nestedMap.get(1)).toBeInstanceOf(Map)
    expect(got.nestedMap.get(1).get(2n)).toBe('bigint key')
    expect(got.nestedMap.get(1).get(true)).toEqual(new Set([1]))
    expect(got.nestedMap.get(null)).toBe('null key')
    expect([...got.nestedMap.keys()]).toEqual([1, { key: 'object' }, [1, 2], null])
    expect(got.nestedMap).toEqual(value.nestedMap)
    expect(got.set).toBeInstanceOf(Set)
    expect([...got.set]).toEqual([1, 'a', 2n, null])
    expect(got.date).toBeInstanceOf(Date)
    expect(got.date.getTime()).toBe(value.date.getTime())
    expect(got.smallBig).toBe(42n)
    expect(got.negBig).toBe(-7n)
    expect(got.hugeBig).toBe(2n ** 100n + 12345n)
    expect(got.negHugeBig).toBe(-(2n ** 70n) - 1n)
    expect(got.bytes).toBeInstanceOf(Uint8Array)
    expect([...got.bytes]).toEqual([0, 1, 127, 128, 255])
    // A Buffer stays a Buffer (soft, so the checks below still run if it does not).
    expect.soft(Buffer.isBuffer(got.buffer), 'a Buffer arrives as a Buffer').toBe(true)
    expect(got.buffer).toBeInstanceOf(Uint8Array)
    expect(Buffer.from(got.buffer).toString()).toBe('héllo buffer')
    expect.soft(Buffer.isBuffer(got.bigBuffer), 'a large Buffer arrives as a Buffer').toBe(true)
    expect(got.bigBuffer.length).toBe(256 * 1024)
    expect(Buffer.from(got.bigBuffer).equals(Buffer.alloc(256 * 1024, 7))).toBe(true)
    expect(got.floats).toBeInstanceOf(Float64Array)
    expect(got.floats.length).toBe(5)
    expect(got.floats[0]).toBe(1.5)
    expect(Object.is(got.floats[1], -0)).toBe(true)
    expect(Number.isNaN(got.floats[2])).toBe(true)
    expect(got.floats[3]).toBe(Number.POSITIVE_INFINITY)
    expect(got.floats[4]).toBe(Number.MIN_VALUE)
    expect('undef' in got).toBe(true)
    expect(got.undef).toBeUndefined()
    expect(got.nul).toBeNull()
    expect(Number.isNaN(got.nan)).toBe(true)
    expect(got.inArray.length).toBe(3)
    expect(got.inArray[0]).toBeUndefined()
    expect(got.inArray[1]).toBeNull()
    expect(Number.isNaN(got.inArray[2])).toBe(true)

    // An Error keeps name, message, stack, cause and its own fields.
    const e = got.withCause
    expect(e).toBeInstanceOf(Error)
    expect(e.name).toBe('Error')
    expect(e.message).toBe('outer failure')
    expect(e.stack).toBe(withCause.stack)
    expect(e.code).toBe('E_OUTER')
    expect(e.details).toEqual({ retry: 3, tags: ['a', 'b'] })
    expect(e.cause).toBeInstanceOf(RangeError)
    expect(e.cause.message).toBe('root cause')
    expect(e.cause.stack).toBe((withCause.cause as Error).stack)
    // A TypeError stays a TypeError.
    expect(got.typeErr).toBeInstanceOf(TypeError)
    expect(got.typeErr.name).toBe('TypeError')
    expect(got.typeErr.message).toBe('not a number')
    expect(got.typeErr.stack).toBe(typeErr.stack)
    // A custom name survives (as an Error with that name).
    expect(got.custom).toBeInstanceOf(Error)
    expect(got.custom.name).toBe('MyCustomError')
    expect(got.custom.message).toBe('custom named')
    expect(got.custom.stack).toBe(custom.stack)
    expect(String(got.custom)).toBe('MyCustomError: custom named')

    // Top-level values that are not objects also travel.
    for (const v of [undefined, null, 0, -1, 'str', true, 2n ** 64n, -(2n ** 64n)]) c.sender.send(v)
    const back = []
    for (let i = 0; i < 8; i++) back.push(await recv(c.receiver))
    expect(back).toEqual([undefined, null, 0, -1, 'str', true, 2n ** 64n, -(2n ** 64n)])
    c.sender.send(Number.NaN)
    expect(Number.isNaN(await recv(c.receiver))).toBe(true)
  })
})

describe('values crossing process and thread boundaries', () => {
  class Point {
    constructor(readonly x = 1) {}
  }
  /** Each value sent in process and to an echoing child, which decodes it and sends it back. */
  const values = (): [string, unknown][] => [
    ['-0, 0, NaN and the infinities', [-0, 0, NaN, Infinity, -Infinity, { z: -0 }]],
    ['own __proto__, constructor and prototype keys, at any depth', JSON.parse('{"__proto__": {"polluted": 1}, "constructor": 2, "prototype": [3], "deep": [{"__proto__": null}]}')],
    ['those keys in a Map and in error fields', [new Map([['__proto__', 1], ['constructor', 2]]), Object.defineProperties(new RangeError('r'), Object.getOwnPropertyDescriptors(JSON.parse('{"__proto__": {"p": 1}, "constructor": "c", "at": -0}')))]],
    ['an object without a prototype', Object.assign(Object.create(null), { a: 1, inner: Object.create(null) })],
    ['a URL', { url: new URL('https://example.com:8080/p?q=1#h') }],
    ['Map, Set, Date, RegExp, BigInt, undefined', [new Map<unknown, unknown>([[1, new Set(['a'])]]), new Date(1_700_000_000_123), /x+/gi, 2n ** 70n, undefined]],
    ['binaries', [Buffer.from('buf'), new Uint8Array([1, 2]), new Float64Array([-0, 1.5]), new Uint8Array([5, 6, 7]).buffer, new DataView(new Uint8Array([1, 2, 3]).buffer, 1)]],
  ]
  const refused = (): [string, unknown][] => [
    ['a class instance', { p: new Point() }],
    ['a subclass of Map', new (class Registry extends Map {})()],
    ['a boxed number', new Number(3)],
  ]

  it.each(kinds)('16. through a %s they arrive as they do in process; what would arrive reshaped is refused alike', async (kind) => {
    const [tx, rx] = channel<unknown>()
    const c = start<unknown, unknown>(kind, 'echo.mjs')
    for (const [name, value] of values()) {
      tx.send(value)
      const here = await recv(rx)
      c.sender.send(value)
      const there = await recv(c.receiver)
      expect(Object.getPrototypeOf(Object.prototype), name).toBeNull()
      expectSame(there, here, name)
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
    for (const [name, value] of refused()) {
      const inProcess = thrownBy(() => tx.send(value))
      const toChild = thrownBy(() => c.sender.send(value))
      expect(inProcess, name).toBeInstanceOf(UnsupportedValueError)
      expect(toChild.message, name).toBe(inProcess.message)
    }
    c.sender.close()
    await expect(recv(c.receiver)).rejects.toBeInstanceOf(DisconnectedError)
    expect(await within(c.exited, GUARD, 'echo child to exit')).toEqual({ code: 0, signal: null })
  })
})

describe('handles crossing process boundaries', () => {
  it('3. a sender nested and repeated in one message: every copy works; the channel disconnects only after the child closes all copies', async () => {
    const c = forkFixture('hold-senders.mjs')
    const [tx, rx] = channel<string>()
    c.sender.send({ give: { a: tx, list: [tx, tx] } })
    expect(() => tx.send('moved?')).toThrow(HandleError)
    expect(await recv(c.receiver)).toEqual({ sent: ['a', 'list.0', 'list.1'], distinct: 3 })
    expect([await recv(rx), await recv(rx), await recv(rx)]).toEqual(['a', 'list.0', 'list.1'])

    c.sender.send({ close: 'a' })
    expect(await recv(c.receiver)).toEqual({ closed: 'a' })
    expect(rx.tryRecv()).toEqual({ ok: false, reason: 'empty' })
    c.sender.send({ close: 'list.0' })
    expect(await recv(c.receiver)).toEqual({ closed: 'list.0' })
    expect(rx.tryRecv()).toEqual({ ok: false, reason: 'empty' })

    const pending = rx.recv()
    c.sender.send({ close: 'list.1' })
    const err = await rejection(pending, GUARD, 'recv after the last copy closed')
    expect(err).toBeInstanceOf(DisconnectedError)
    expect(err).not.toBeInstanceOf(ConnectionLostError)
    expect(await recv(c.receiver)).toEqual({ closed: 'list.1' })
    expect(await stateNow(c.exited)).toBe('pending') // the child is still up: not a lost connection
  })

  it.each(kinds)('4. a receiver moved to a %s with messages queued (some holding receivers with queues) delivers them in order, then later sends', async (kind) => {
    const c = start(kind, 'collect-receivers.mjs')
    const [qtx, qrx] = channel<unknown>()
    const [itx, irx] = channel<unknown>()
    const [jtx, jrx] = channel<string>()
    jtx.send('j1')
    itx.send('i1')
    itx.send({ inner: jrx })
    itx.send('i2')
    qtx.send('q1')
    qtx.send({ inner: irx })
    qtx.send('q3')
    expect(qrx.size).toBe(3)

    c.sender.send({ inner: qrx })
    await expect(qrx.recv()).rejects.toBeInstanceOf(HandleError)
    qtx.send('after1')
    itx.send('i3')
    jtx.send('j2')
    qtx.send('after2')
    jtx.close()
    itx.close()
    qtx.close()

    expect(await recv(c.receiver)).toEqual({
      items: [
        'q1',
        {
          inner: {
            items: ['i1', { inner: { items: ['j1', 'j2'], end: 'DisconnectedError' } }, 'i2', 'i3'],
            end: 'DisconnectedError',
          },
        },
        'q3',
        'after1',
        'after2',
      ],
      end: 'DisconnectedError',
    })
  })

  it('5. a receiver moved parent -> A -> B keeps order and loses nothing sent before, between and after the moves', async () => {
    const a = forkFixture('pass-receiver-on.mjs')
    const b = forkFixture('collect-receivers.mjs')
    const [hop, hopRx] = channel<unknown>()
    b.sender.send({ inner: hopRx })
    a.sender.send({ hop })
    expect(await recv(a.receiver)).toBe('have hop')

    const [tx, rx] = channel<number>()
    for (const i of range(0, 100)) tx.send(i) // queued in rx before the first move
    a.sender.send({ rx })
    for (const i of range(100, 150)) tx.send(i) // in flight to A
    expect(await recv(a.receiver)).toBe('holding')
    for (const i of range(150, 200)) tx.send(i) // A holds rx
    a.sender.send('go')
    for (const i of range(200, 250)) tx.send(i) // in flight while A passes rx on
    expect(await recv(a.receiver)).toBe('passed')
    for (const i of range(250, 300)) tx.send(i) // after both moves
    tx.close()

    expect(await recv(b.receiver)).toEqual({
      items: [{ inner: { items: range(0, 300), end: 'DisconnectedError' } }],
      end: 'DisconnectedError',
    })
  })

  it('6. three processes: A sends 1,000 messages on a sender the parent gave it, B receives them all in order on the receiver', async () => {
    const a = forkFixture('produce.mjs')
    const b = forkFixture('collect-receivers.mjs')
    const [tx, rx] = channel<number>()
    a.sender.send({ to: tx, count: 1000 })
    b.sender.send({ inner: rx })
    expect(await recv(a.receiver)).toEqual({ sent: 1000 })
    const got = await recv(b.receiver)
    expect(got.end).toBe('DisconnectedError')
    expect(got.items.length).toBe(1000)
    expect(got.items).toEqual(range(0, 1000))
  })

  it('7. a sender moved back to the process that owns its receiver works there (parent -> child -> parent)', async () => {
    const c = forkFixture('return-sender.mjs')
    const [tx, rx] = channel<string>()
    c.sender.send({ s: tx })
    expect(() => tx.send('moved?')).toThrow(HandleError)
    const { back } = await recv(c.receiver)
    expect(back).toBeInstanceOf(Sender)
    expect(await recv(c.receiver)).toBe('returned')
    expect(await recv(rx)).toBe('from child')
    back.send('from parent, on the returned sender')
    expect(await recv(rx)).toBe('from parent, on the returned sender')

    // It is a local sender again: it does not go through the child, so the child's death leaves it working.
    c.kill('SIGKILL')
    expect(await within(c.exited, GUARD, 'child to die')).toEqual({ code: null, signal: 'SIGKILL' })
    await rejection(recv(c.receiver), GUARD, 'recv from the killed child')
    back.send('after the child died')
    expect(await recv(rx)).toBe('after the child died')
    back.close()
    const err = await rejection(rx.recv(), GUARD, 'recv after the returned sender closed')
    expect(err).toBeInstanceOf(DisconnectedError)
    expect(err).not.toBeInstanceOf(ConnectionLostError)
  })

  it('8. a receiver in the parent with sender clones in two children disconnects only after both close theirs', async () => {
    const a = forkFixture('hold-senders.mjs')
    const b = workerFixture('hold-senders.mjs')
    const [tx, rx] = channel<string>()
    a.sender.send({ give: { fromA: tx.clone() } })
    b.sender.send({ give: { fromB: tx.clone() } })
    tx.close()
    expect(await recv(a.receiver)).toEqual({ sent: ['fromA'], distinct: 1 })
    expect(await recv(b.receiver)).toEqual({ sent: ['fromB'], distinct: 1 })
    expect([await recv(rx), await recv(rx)].sort()).toEqual(['fromA', 'fromB'])

    a.sender.send({ close: 'fromA' })
    expect(await recv(a.receiver)).toEqual({ closed: 'fromA' })
    expect(rx.tryRecv()).toEqual({ ok: false, reason: 'empty' })

    const pending = rx.recv()
    b.sender.send({ close: 'fromB' })
    const err = await rejection(pending, GUARD, 'recv after both clones closed')
    expect(err).toBeInstanceOf(DisconnectedError)
    expect(err).not.toBeInstanceOf(ConnectionLostError)
    expect(await recv(b.receiver)).toEqual({ closed: 'fromB' })
    expect(await stateNow(a.exited)).toBe('pending')
    expect(await stateNow(b.exited)).toBe('pending')
  })
})

describe('children that end', () => {
  it.each(kinds)('9a. a %s killed mid-stream: for await and a pending recv reject with ConnectionLostError and its cause; sends throw; exited resolves', async (kind) => {
    const c = start<unknown, number>(kind, 'stream-until-killed.mjs')
    const [holdTx, holdRx] = channel<never>()
    c.sender.send({ hold: holdTx })
    const pending = holdRx.recv()
    pending.catch(() => {})

    const seen: number[] = []
    const loop = (async () => {
      for await (const n of c.receiver) {
        seen.push(n)
        if (seen.length === 50) {
          if (kind === 'process') c.kill('SIGKILL')
          else c.kill()
        }
        if (seen.length > 5_000_000) throw new Error('the killed child kept sending')
      }
    })()
    const expected: Partial<ExitCause> =
      kind === 'process' ? { ...who(c), code: null, signal: 'SIGKILL' } : { ...who(c), code: 1, signal: null }

    const loopErr = await rejection(loop, GUARD, 'the for await loop')
    expect(loopErr).toBeInstanceOf(ConnectionLostError)
    expect(loopErr.cause).toEqual(expected)
    expect(seen.length).toBeGreaterThanOrEqual(50)
    expect(seen).toEqual(range(0, seen.length)) // in order, nothing lost before the kill

    const pendingErr = await rejection(pending, GUARD, 'the pending recv')
    expect(pendingErr).toBeInstanceOf(ConnectionLostError)
    expect(pendingErr.cause).toEqual(expected)

    const sendErr = thrownBy(() => c.sender.send('to the dead'))
    expect(sendErr).toBeInstanceOf(ConnectionLostError)
    expect(sendErr.cause).toEqual(expected)

    const exit = await within(c.exited, GUARD, 'exited')
    expect(exit).toEqual(kind === 'process' ? { code: null, signal: 'SIGKILL' } : { code: 1, signal: null })
  })

  it.each(kinds)('9b. a %s that exits with code 3 reports cause.code === 3', async (kind) => {
    const c = start(kind, 'exit-on-command.mjs')
    const pending = c.receiver.recv()
    pending.catch(() => {})
    c.sender.send({ exit: 3 })
    const err = await rejection(pending, GUARD, 'the pending recv')
    expect(err).toBeInstanceOf(ConnectionLostError)
    expect(err.cause).toEqual({ ...who(c), code: 3, signal: null })
    expect(await within(c.exited, GUARD, 'exited')).toEqual({ code: 3, signal: null })
  })

  it.each(kinds)('9c. a %s that throws an uncaught error reports cause.code === 1', async (kind) => {
    let stderr = ''
    const c =
      kind === 'process'
        ? forkFixture('exit-on-command.mjs', { stdio: 'pipe' })
        : workerFixture('exit-on-command.mjs')
    if ('process' in c) {
      c.process.stdout!.resume()
      c.process.stderr!.on('data', (d: Buffer) => (stderr += d.toString()))
    }
    const pending = c.receiver.recv()
    pending.catch(() => {})
    c.sender.send({ throw: 'deliberate uncaught failure' })
    const err = await rejection(pending, GUARD, 'the pending recv')
    expect(err).toBeInstanceOf(ConnectionLostError)
    // The exit status, and what the child said as it died: its uncaught exception.
    expect(err.cause).toEqual({ ...who(c), code: 1, signal: null, reason: 'uncaught exception: Error: deliberate uncaught failure' })
    expect(err.message).toContain('deliberate uncaught failure')
    expect(await within(c.exited, GUARD, 'exited')).toEqual({ code: 1, signal: null })
    if (kind === 'process') expect(stderr).toContain('deliberate uncaught failure')
  })

  it.each(kinds)('9d. the cause names the %s even when the parent was busy as it exited', async (kind) => {
    const c = start(kind, 'exit-on-command.mjs')
    const expected = { ...who(c), code: 3, signal: null }
    const pending = c.receiver.recv()
    pending.catch(() => {})
    c.sender.send({ exit: 3 })
    await new Promise((r) => setImmediate(r)) // the command is written out
    blockThisThread(300) // synchronous work in the parent while the child exits
    const err = await rejection(pending, GUARD, 'the pending recv')
    expect(err).toBeInstanceOf(ConnectionLostError)
    expect(err.cause).toEqual(expected)
  })

  it('10. no zombie: after kill and exited, the pid is gone (ESRCH)', async () => {
    for (const signal of ['SIGKILL', 'SIGTERM'] as const) {
      const c = forkFixture('idle-forever.mjs')
      const pid = c.pid!
      expect(typeof pid).toBe('number')
      expect(pidExists(pid)).toBe(true)
      c.kill(signal)
      expect(await within(c.exited, GUARD, 'exited')).toEqual({ code: null, signal })
      const err = thrownBy(() => process.kill(pid, 0))
      expect(err.code).toBe('ESRCH')
    }
  })

  it('11. a child whose work is done exits on its own although its link is open (process, thread, function)', async () => {
    const children = [
      forkFixture<never, string>('send-one-and-return.mjs'),
      workerFixture<never, string>('send-one-and-return.mjs'),
      track(
        fork<never, string>(async ({ sender }) => {
          sender.send('work done')
        }),
      ),
      track(
        spawnWorker<never, string>(async ({ sender }) => {
          sender.send('work done')
        }),
      ),
    ]
    for (const c of children) {
      expect(await recv(c.receiver)).toBe('work done')
      expect(await within(c.exited, GUARD, 'an idle child to exit on its own')).toEqual({ code: 0, signal: null })
      // It never closed its sender: its clean exit ends the channel as a closed one, not as a loss.
      const err = await rejection(c.receiver.recv(), GUARD, 'recv after the child exited')
      expect(err).toBeInstanceOf(DisconnectedError)
      expect(err).not.toBeInstanceOf(ConnectionLostError)
      expect(err.message).toMatch(/exited with code 0/)
    }
  })

  it('11b. a select on an empty ReceiverSet waits for a receiver added later, and holds a child no longer than that wait', async () => {
    const c = track(
      fork<Receiver<string>, string>(async ({ receiver, sender, ipfi }) => {
        const set = new ipfi.ReceiverSet<string>()
        const waiting = set.select() // empty: it waits
        set.add(await receiver.recv()) // the receiver the parent sends
        const [ev] = await waiting
        sender.send(ev!.kind === 'message' ? ev!.value : ev!.kind)
      }),
    )
    const [tx, rx] = channel<string>()
    c.sender.send(rx)
    tx.send('through the set')
    expect(await recv(c.receiver)).toBe('through the set')
    // Nothing waits any more: the child exits on its own although tx and the link are open.
    expect(await within(c.exited, GUARD, 'the child to exit once its select settled')).toEqual({ code: 0, signal: null })
    tx.close()
  })

  it('11c. a process whose only wait is a select on an empty set exits (nothing holds it); with a timeout, once it times out', async () => {
    const script = `import { ReceiverSet, channel } from 'ipfi'
      new ReceiverSet().select().then(() => process.exit(3))
      const busy = new ReceiverSet(); const [tx, rx] = channel(); busy.add(rx); busy.select().then(() => process.exit(4))
      new ReceiverSet().select({ timeout: 50 }).catch((e) => console.log(e.name))`
    const { code, stdout } = await new Promise<{ code: number | null; stdout: string }>((resolve) => {
      const p = execFile(process.execPath, ['--input-type=module', '-e', script], { cwd: root, timeout: GUARD }, (_, stdout) => resolve({ code: p.exitCode, stdout }))
    })
    expect({ code, stdout }).toEqual({ code: 0, stdout: 'TimeoutError\n' })
  })

  it.each(kinds)('12. a 50 MiB Uint8Array echoed through a %s arrives intact', { timeout: 180_000 }, async (kind) => {
    const size = 50 * 1024 * 1024
    const big = new Uint8Array(size)
    randomFillSync(big)
    const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex')
    const digest = sha(big)
    const samples = [0, 1, 4095, 4096, size >> 1, size - 2, size - 1].map((i) => big[i])

    const c = start<Uint8Array, Uint8Array>(kind, 'echo.mjs')
    c.sender.send(big)
    c.sender.send(Uint8Array.of(7)) // and the link still works after it
    const back = await c.receiver.recv({ timeout: 150_000 })
    expect(back).toBeInstanceOf(Uint8Array)
    expect(back.byteLength).toBe(size)
    expect([0, 1, 4095, 4096, size >> 1, size - 2, size - 1].map((i) => back[i])).toEqual(samples)
    expect(sha(back)).toBe(digest)
    expect([...(await recv(c.receiver))]).toEqual([7])
    expect(big.byteLength).toBe(size) // the sender's copy was not detached
    expect(sha(big)).toBe(digest)
  })

  it('14. await using disposes a child: a cooperative one ends by itself, a stubborn one is killed', async () => {
    let pid = 0
    let exited: Promise<unknown> = Promise.resolve()
    {
      await using child = forkFixture<string, string>('echo.mjs')
      pid = child.pid!
      exited = child.exited
      child.sender.send('ping')
      expect(await recv(child.receiver)).toBe('ping')
      expect(await stateNow(exited)).toBe('pending')
    }
    expect(await stateNow(exited)).toEqual({ code: 0, signal: null }) // echo saw its input close and ended
    expect(pidExists(pid)).toBe(false)

    {
      await using child = forkFixture('idle-forever.mjs')
      pid = child.pid!
      exited = child.exited
      expect(await stateNow(exited)).toBe('pending')
    }
    expect(await stateNow(exited)).toEqual({ code: null, signal: 'SIGTERM' })
    expect(pidExists(pid)).toBe(false)

    {
      await using w = workerFixture<string, string>('echo.mjs')
      exited = w.exited
      w.sender.send('ping')
      expect(await recv(w.receiver)).toBe('ping')
    }
    expect(await stateNow(exited)).toEqual({ code: 0, signal: null })

    {
      await using w = workerFixture('idle-forever.mjs')
      exited = w.exited
      expect(await stateNow(exited)).toBe('pending')
    }
    expect(await stateNow(exited)).toEqual({ code: 1, signal: null })
  })
})

describe('OneShotServer', () => {
  it('13. a child connects by name; accept gives [receiver, first]; private modes; files removed; a second client is refused', async () => {
    const server = await OneShotServer.create<unknown>()
    servers.add(server)
    const dir = dirname(server.name)
    const dirStat = statSync(dir)
    const sockStat = statSync(server.name)
    expect(dirStat.isDirectory()).toBe(true)
    expect(dirStat.mode & 0o777).toBe(0o700)
    expect(sockStat.isSocket()).toBe(true)
    expect(sockStat.mode & 0o777).toBe(0o600)

    const client = forkFixture('one-shot-client.mjs', { args: [server.name] })
    const [rx, first] = await within(server.accept({ timeout: GUARD }), GUARD, 'accept')
    expect(first).toBe('first')
    expect(await recv(rx)).toEqual({ second: 2n })
    expect(await recv(rx)).toBe('third')
    const end = await rejection(rx.recv(), GUARD, 'recv after the client closed')
    expect(end).toBeInstanceOf(DisconnectedError)
    expect(end).not.toBeInstanceOf(ConnectionLostError)
    expect(await recv(client.receiver)).toEqual({ connected: true })
    // Removed after the accept (13b checks that it is already so when accept() resolves).
    expect(await gone(server.name)).toBe(true)
    expect(await gone(dir)).toBe(true)

    // A second client finds nobody: a clear DisconnectedError, in the child and here.
    const second = forkFixture('one-shot-client.mjs', { args: [server.name] })
    const report = await recv(second.receiver)
    expect(report.connected).toBe(false)
    expect(report.error.name).toBe('DisconnectedError')
    expect(report.error.isDisconnected).toBe(true)
    expect(report.error.message).toContain(server.name)
    const here = await rejection(Sender.connect(server.name, { timeout: 5000 }), GUARD, 'a second connect')
    expect(here).toBeInstanceOf(DisconnectedError)
    await server.close()
    await server.close() // idempotent

    // A server closed before any client: accept rejects, and its files are gone.
    const unused = await OneShotServer.create<unknown>()
    servers.add(unused)
    const unusedDir = dirname(unused.name)
    expect(existsSync(unused.name)).toBe(true)
    await unused.close()
    expect(existsSync(unused.name)).toBe(false)
    expect(existsSync(unusedDir)).toBe(false)
    expect(await rejection(unused.accept(), GUARD, 'accept on a closed server')).toBeInstanceOf(DisconnectedError)
  })

  it('13b. the socket and its directory are already removed when accept() resolves (client in this process)', async () => {
    const server = await OneShotServer.create<string>()
    servers.add(server)
    const dir = dirname(server.name)
    const client = Sender.connect<string>(server.name, { timeout: GUARD }).then((tx) => {
      tx.send('first')
      tx.close()
    })
    const [rx, first] = await within(server.accept({ timeout: GUARD }), GUARD, 'accept')
    const left = { socket: existsSync(server.name), dir: existsSync(dir) }
    expect(first).toBe('first')
    await within(client, GUARD, 'the client')
    expect(left).toEqual({ socket: false, dir: false })
    rx.close()
  })
})
