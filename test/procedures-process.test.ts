/**
 * Procedures across real processes and worker threads: no mocks. The child side is
 * test/fixtures/procedures-child.mjs (a module) or a function child; every child is tracked and
 * killed in afterEach. Waits are bounded by hang guards; nothing asserts how long anything took.
 */
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { collect, deferred, rejection, turn, within } from './support/async.js'
import { trackChildren } from './support/children.js'
import {
  ConnectionLostError,
  DisconnectedError,
  LimitExceededError,
  UnsupportedValueError,
  callback,
  OneShotServer,
  RemoteError,
  currentCall,
  expose,
  fork,
  registerErrorClass,
  remote,
  spawnWorker,
  type ChildProcessHandle,
  type Endpoint,
  type Receiver,
  type WorkerHandle,
} from 'ipfi'
import { DEFAULT_WINDOW } from '../src/procedures/messages.js'

/** Hang guard for any single wait (never a timing assertion). */
const GUARD = 30_000
/** Per-test timeout. */
const T = 60_000

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url))

// -------------------------------------------------------------------------------------------
// Children, cleanup, guards

type AnyChild = ChildProcessHandle<any, any> | WorkerHandle<any, any>
const track = trackChildren(GUARD)
const cleanups: (() => unknown)[] = []

// Registered after trackChildren's hook, so it runs first: cleanups, then the children are killed.
afterEach(async () => {
  for (const f of cleanups.splice(0)) await f()
})

type Kind = 'process' | 'worker thread'
const kinds: Kind[] = ['process', 'worker thread']

const recv = <T>(rx: Receiver<T>) => rx.recv({ timeout: GUARD })
/** A call that must settle: its result, or a hang-guard error naming it. */
const g = <T>(p: Promise<T>, what = 'a call to settle') => within(p, GUARD, what)

/** The first `n` items of a stream, then stop reading it (return()), under hang guards. */
async function take<T>(stream: AsyncIterable<T>, n: number): Promise<T[]> {
  const it = stream[Symbol.asyncIterator]()
  const out: T[] = []
  while (out.length < n) {
    const r = await within(it.next(), GUARD, 'a stream item')
    if (r.done) break
    out.push(r.value)
  }
  await within(Promise.resolve(it.return?.()), GUARD, 'a stream to stop')
  return out
}

/** Receive until a message matches (bounded): other messages are dropped. */
async function recvUntil<T>(rx: Receiver<T>, match: (m: any) => boolean, what: string): Promise<any> {
  for (let i = 0; i < 1000; i++) {
    const m = await rx.recv({ timeout: GUARD }).catch((e) => {
      throw new Error(`while waiting for ${what}: ${e}`)
    })
    if (match(m)) return m
  }
  throw new Error(`no ${what} among 1000 messages`)
}

/** Resolves once `signal` has aborted (at once if it already has). */
function aborted(signal: AbortSignal): Promise<void> {
  return new Promise<void>((r) => (signal.aborted ? r() : signal.addEventListener('abort', () => r(), { once: true })))
}

/** A small seeded PRNG, so that a failing run of the random delays can be replayed. */
function prng(seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    return s / 2 ** 32
  }
}

/** The exit cause a ConnectionLostError must carry once this child was killed by kill(). */
function killedCause(c: AnyChild): object {
  return 'process' in c ? { pid: c.pid, code: null, signal: 'SIGKILL' } : { threadId: c.threadId, code: 1, signal: null }
}
function killHard(c: AnyChild): void {
  if ('process' in c) c.kill('SIGKILL')
  else c.kill()
}

// -------------------------------------------------------------------------------------------
// The fixture's procedures, typed

interface ChildApi {
  add(a: number, b: number): number
  where(): { pid: number; threadId: number }
  range(from: number, to: number): AsyncGenerator<number>
  sum(xs: AsyncIterable<number>): Promise<number>
  slowSum(xs: AsyncIterable<number>): Promise<number>
  work(steps: number, onProgress: (i: number, steps: number) => unknown): Promise<{ done: true; answers: unknown[] }>
  delayed(id: number, ms: number): Promise<number>
  hang(tag: string): Promise<never>
  waitAbort(tag: string): Promise<never>
  forever(tag?: string): AsyncGenerator<number>
  drain(xs: AsyncIterable<unknown>): Promise<string>
  stall(n: number): AsyncGenerator<number>
  echo(x: unknown): Record<string, any>
  keep(cb: (x: number) => unknown): string
  callKept(x: number): Promise<unknown>
  exit(code: number): never
  callMeBack(cb: (arg: string) => Promise<string>, arg: string): Promise<string>
  fireAndForget(cb: (arg: string) => Promise<unknown>): string
  viaParent(n: number): Promise<{ n: number; doubled: number }>
  fail(kind: 'type' | 'rich' | 'custom' | 'async' | 'value' | 'none'): string
}

type FromChild =
  | { api: Endpoint<ChildApi> }
  | { started: string }
  | { callingBack: string }
  | { calledParent: number[] }
  | { inCallback: true }
  | { outsideCall: boolean }
  | { aborted: string; reason: string }
  | { finally: string }
  | { drained: unknown }
  | { stalled: number }
type ToChild = { parentApi: Endpoint<ParentApi> } | { cmd: 'call-parent'; n: number } | { cmd: 'wait-on-parent' } | { cmd: 'lend-hanging-callback' } | { cmd: 'context' }

interface ParentApi {
  double(n: number): number
  waitForAbort(): Promise<never>
  runCallback(cb: () => Promise<unknown>): Promise<unknown>
}

function startChild(kind: Kind): ChildProcessHandle<ToChild, FromChild> | WorkerHandle<ToChild, FromChild> {
  return kind === 'process'
    ? track(fork<ToChild, FromChild>(fixture('procedures-child.mjs')))
    : track(spawnWorker<ToChild, FromChild>(fixture('procedures-child.mjs')))
}

/** Start the fixture and take the endpoint it sends first. */
async function childWithApi(kind: Kind) {
  const c = startChild(kind)
  const first = await recv(c.receiver)
  if (!('api' in first)) throw new Error(`expected the child's endpoint first, got ${JSON.stringify(first)}`)
  const ep = first.api
  const api = remote<ChildApi>(ep) // remote() keeps its own copy of the endpoint
  cleanups.push(() => api[Symbol.dispose](), () => ep.close())
  return { c, api, ep }
}

// -------------------------------------------------------------------------------------------

describe('procedures exposed by a child, called by the parent (and the reverse, on the same link)', () => {
  it.each(kinds)('1. a %s: add, a streamed result, a streamed argument, a callback argument; the child calls the parent at the same time', async (kind) => {
    const { c, api } = await childWithApi(kind)

    // The parent exposes procedures too, and hands them to the child over the same link.
    const parentCalls: number[] = []
    const parentImpl: ParentApi = {
      double(n) {
        parentCalls.push(n)
        expect(currentCall()?.name).toBe('double')
        return n * 2
      },
      waitForAbort: () => new Promise(() => {}),
      runCallback: async (cb) => cb(),
    }
    const parentEp = expose(parentImpl)
    c.sender.send({ parentApi: parentEp })

    // Where the procedures run.
    const where = await g(api.where())
    if ('process' in c) expect(where.pid).toBe(c.pid)
    else expect(where).toEqual({ pid: process.pid, threadId: c.threadId })

    // All at once: calls both ways share one link.
    let sourceFinally = false
    async function* numbers() {
      try {
        for (let i = 1; i <= 100; i++) yield i
      } finally {
        sourceFinally = true
      }
    }
    const progress: [number, number][] = []
    async function* ten() {
      for (let i = 1; i <= 10; i++) yield i
    }
    const [sum3, streamed, summed, slowSummed, worked, nested, fromChild] = await within(
      Promise.all([
        api.add(1, 2),
        collect(api.range(0, 200), GUARD), // more than one credit window
        api.sum(numbers()),
        api.slowSum(ten()), // items and the end queue up there before the procedure reads them
        api.work(5, (i, steps) => {
          progress.push([i, steps])
          return `ack ${i}`
        }),
        Promise.all([1, 2, 3].map((n) => api.viaParent(n))), // child -> parent inside parent -> child
        (async () => {
          c.sender.send({ cmd: 'call-parent', n: 50 })
          return (await recvUntil(c.receiver, (m) => 'calledParent' in m, 'the child calling the parent')).calledParent
        })(),
      ]),
      GUARD,
      'the concurrent calls',
    )
    expect(sum3).toBe(3)
    expect(streamed).toEqual(Array.from({ length: 200 }, (_, i) => i))
    expect(summed).toBe(5050)
    expect(slowSummed).toBe(55)
    expect(sourceFinally).toBe(true)
    expect(worked).toEqual({ done: true, answers: ['ack 1', 'ack 2', 'ack 3', 'ack 4', 'ack 5'] })
    expect(progress).toEqual([1, 2, 3, 4, 5].map((i) => [i, 5]))
    expect(nested).toEqual([1, 2, 3].map((n) => ({ n, doubled: n * 2 })))
    expect(fromChild).toEqual(Array.from({ length: 50 }, (_, i) => i * 2))
    expect(parentCalls.sort((a, b) => a - b)).toEqual([...[1, 2, 3], ...Array.from({ length: 50 }, (_, i) => i)].sort((a, b) => a - b))

    // A stream the parent stops reading: the child's generator stops, and the session goes on.
    expect(await take(api.forever(), 5)).toEqual([0, 1, 2, 3, 4])
    expect(await g(api.add(20, 22))).toBe(42)

    // Outside a call, currentCall() is undefined over there.
    c.sender.send({ cmd: 'context' })
    expect(await recvUntil(c.receiver, (m) => 'outsideCall' in m, 'the child to report')).toEqual({ outsideCall: true })

    // Values larger than one socket read, both ways.
    const big = Buffer.alloc(3 * 1024 * 1024, 0x5a)
    const back = await g(api.echo({ big, n: 2n ** 80n, m: new Map([[1, new Set(['x'])]]) }))
    expect(Buffer.from(back.big).equals(big)).toBe(true)
    expect(back.n).toBe(2n ** 80n)
    expect(back.m).toEqual(new Map([[1, new Set(['x'])]]))

    parentEp.close()
  }, T)

  it.each(kinds)('2. 10,000 concurrent calls with random delays across a %s, each matched to its own result', async (kind) => {
    const { api } = await childWithApi(kind)
    const random = prng(20240229)
    const N = 10_000
    const completion: number[] = []
    const calls = Array.from({ length: N }, (_, i) => {
      // Different shapes of call in the same flight: a delayed echo, and an add.
      const p = i % 10 === 0 ? api.add(i, 0) : api.delayed(i, Math.floor(random() * 25))
      return p.then((v) => {
        completion.push(i)
        return v
      })
    })
    const results = await within(Promise.all(calls), GUARD, '10,000 calls')
    expect(results.length).toBe(N)
    for (let i = 0; i < N; i++) if (results[i] !== i) expect.fail(`call ${i} got ${results[i]}`)
    // They did not come back in the order they were made (the delays are random), yet each one
    // got its own result.
    expect(completion).not.toEqual(Array.from({ length: N }, (_, i) => i))
    expect(new Set(completion).size).toBe(N)
    // The session is still good.
    expect(await g(api.add(2, 3))).toBe(5)
  }, T)
})

describe('a child killed under a call: everything pending rejects with ConnectionLostError and the exit cause', () => {
  it.each(kinds)('3. a %s killed during a pending call (and several more): all reject; later calls reject too', async (kind) => {
    const { c, api } = await childWithApi(kind)
    const pending = ['a', 'b', 'c'].map((tag) => api.hang(tag))
    for (const tag of ['a', 'b', 'c']) await recvUntil(c.receiver, (m) => m.started === tag, `hang(${tag}) to start`)
    killHard(c)
    for (const p of pending) {
      const err = await rejection(p, GUARD, 'a pending call')
      expect(err).toBeInstanceOf(ConnectionLostError)
      expect(err.cause).toEqual(killedCause(c))
    }
    const later = await rejection(api.add(1, 2), GUARD, 'a call after the loss')
    expect(later).toBeInstanceOf(DisconnectedError)
    expect(later).toBeInstanceOf(ConnectionLostError)
  }, T)

  it.each(kinds)('4. a %s killed while a result stream is being consumed: the loop rejects', async (kind) => {
    const { c, api } = await childWithApi(kind)
    const it = api.forever()
    const seen: number[] = []
    for (let i = 0; i < 5; i++) {
      const r = await within(it.next(), GUARD, 'a stream item')
      seen.push(r.value as number)
    }
    expect(seen).toEqual([0, 1, 2, 3, 4])
    killHard(c)
    // Items already queued here may still come; then the loss. Bounded: at most a window or so.
    let err: any = null
    for (let i = 0; i < 10_000 && err === null; i++) {
      try {
        const r = await within(it.next(), GUARD, 'the stream to go on or fail')
        if (r.done) throw new Error('the stream ended cleanly though its producer was killed')
      } catch (e) {
        err = e
      }
    }
    expect(err).toBeInstanceOf(ConnectionLostError)
    expect(err.cause).toEqual(killedCause(c))
    // ...and a `for await` over another stream of the dead child rejects too.
    const err2 = await rejection(
      (async () => {
        for await (const _ of api.range(0, 10)) {
          /* nothing arrives */
        }
      })(),
      GUARD,
      'for await over a stream of a dead child',
    )
    expect(err2).toBeInstanceOf(ConnectionLostError)
  }, T)

  it.each(kinds)('4b. a %s killed while the consumer waits in next() on a stalled stream: next() rejects', async (kind) => {
    const { c, api } = await childWithApi(kind)
    const it = api.stall(3)
    for (let i = 0; i < 3; i++) expect((await within(it.next(), GUARD, 'a stream item')).value).toBe(i)
    await recvUntil(c.receiver, (m) => m.stalled === 3, 'the stream to stall')
    const waiting = it.next()
    killHard(c)
    const err = await rejection(waiting, GUARD, 'next() on the stalled stream')
    expect(err).toBeInstanceOf(ConnectionLostError)
    expect(err.cause).toEqual(killedCause(c))
    const after = await rejection(it.next(), GUARD, 'next() after the loss')
    expect(after).toBeInstanceOf(ConnectionLostError)
  }, T)

  it.each(kinds)('4c. a %s that exits with code 3 in the middle of a call: the call rejects with that exit status', async (kind) => {
    const { c, api } = await childWithApi(kind)
    const err = await rejection(api.exit(3), GUARD, 'a call whose procedure exits')
    expect(err).toBeInstanceOf(ConnectionLostError)
    expect(err.cause).toEqual('process' in c ? { pid: c.pid, code: 3, signal: null } : { threadId: c.threadId, code: 3, signal: null })
  }, T)

  it.each(kinds)('5a. a %s killed while it waits on the parent\'s callback: the call rejects; the callback settling later is harmless', async (kind) => {
    const { c, api } = await childWithApi(kind)
    const release = deferred<string>()
    const entered = deferred<AbortSignal>()
    const call = api.callMeBack(async (arg) => {
      entered.resolve(currentCall()!.signal) // a callback runs as a call, with its own context
      return release.promise.then((v) => `${v} ${arg}`)
    }, 'x')
    const signal = await within(entered.promise, GUARD, 'the child to call the callback')
    expect(signal.aborted).toBe(false)
    killHard(c)
    const err = await rejection(call, GUARD, 'the call whose callback was running')
    expect(err).toBeInstanceOf(ConnectionLostError)
    expect(err.cause).toEqual(killedCause(c))
    // The callback was serving the dead child: it is told.
    await within(
      aborted(signal),
      GUARD,
      'the running callback to see its signal abort',
    )
    release.resolve('late') // its answer has nowhere to go: nothing throws, nothing is unhandled
    await new Promise((r) => setImmediate(r))
  }, T)

  it.each(kinds)('5b. a %s killed while it runs a callback for the parent: the parent\'s call of it rejects, and its procedure is aborted', async (kind) => {
    const c = startChild(kind)
    await recv(c.receiver) // its endpoint (unused here)
    const called = deferred<{ callback: Promise<unknown>; signal: AbortSignal }>()
    const parentEp = expose<ParentApi>({
      double: (n) => n * 2,
      waitForAbort: () => new Promise(() => {}),
      runCallback(cb) {
        const callback = cb() // runs in the child, which never answers
        called.resolve({ callback, signal: currentCall()!.signal })
        return callback
      },
    })
    c.sender.send({ parentApi: parentEp })
    c.sender.send({ cmd: 'lend-hanging-callback' })
    await recvUntil(c.receiver, (m) => m.inCallback === true, 'the callback to run in the child')
    const { callback, signal } = await within(called.promise, GUARD, 'runCallback to be called')
    killHard(c)
    const err = await rejection(callback, GUARD, 'the call of a callback that lives in the killed child')
    expect(err).toBeInstanceOf(ConnectionLostError)
    expect(err.cause).toEqual(killedCause(c))
    // The procedure that called it was serving the dead child: its signal aborted as well.
    await within(
      aborted(signal),
      GUARD,
      'runCallback to see its signal abort',
    )
    parentEp.close()
  }, T)

  it.each(kinds)('5c. a %s killed while the parent\'s callback still runs after its call settled: the callback sees its signal abort', async (kind) => {
    const { c, api } = await childWithApi(kind)
    const entered = deferred<AbortSignal>()
    // The child calls the callback without waiting and answers at once: the call settles while
    // the callback runs (calls already made still run). Then its caller dies.
    expect(await g(api.fireAndForget(() => (entered.resolve(currentCall()!.signal), new Promise(() => {}))))).toBe('fired')
    const signal = await within(entered.promise, GUARD, 'the callback to run')
    expect(signal.aborted).toBe(false)
    killHard(c)
    await within(c.exited, GUARD, 'the child to end')
    await within(
      aborted(signal),
      GUARD,
      'the callback to see its caller go',
    )
  }, T)

  it.each(kinds)('6. a caller that disappears: the parent\'s procedure waiting on currentCall().signal sees it abort when the calling %s is killed', async (kind) => {
    const c = startChild(kind)
    await recv(c.receiver)
    const running = deferred<AbortSignal>()
    const aborted = deferred<unknown>()
    const parentEp = expose<ParentApi>({
      double: (n) => n * 2,
      waitForAbort() {
        const call = currentCall()!
        expect(call.name).toBe('waitForAbort')
        call.signal.addEventListener('abort', () => aborted.resolve(call.signal.reason), { once: true })
        running.resolve(call.signal)
        return new Promise(() => {}) // only the abort ends it
      },
      runCallback: async (cb) => cb(),
    })
    c.sender.send({ parentApi: parentEp })
    c.sender.send({ cmd: 'wait-on-parent' })
    const signal = await within(running.promise, GUARD, 'the child to call waitForAbort')
    expect(signal.aborted).toBe(false)
    killHard(c)
    const reason = await within(aborted.promise, GUARD, 'the procedure to see its caller go')
    expect(signal.aborted).toBe(true)
    expect(reason).toBeInstanceOf(DisconnectedError)
    parentEp.close()
  }, T)
})

describe('more ways a call ends across a link', () => {
  it.each(kinds)('7. cancelling calls to a %s: abort, timeout, breaking out of a stream, disposing the proxy; the child sees each', async (kind) => {
    const { c, api, ep } = await childWithApi(kind)
    const aborted = (tag: string) => recvUntil(c.receiver, (m) => m.aborted === tag, `the child to see ${tag} abort`)

    // An AbortSignal: the call rejects with its reason; the procedure's signal aborts.
    const ac = new AbortController()
    const byAbort = api.waitAbort.with({ signal: ac.signal })('abort')
    await recvUntil(c.receiver, (m) => m.started === 'abort', 'waitAbort(abort) to start')
    const reason = new Error('the user gave up')
    ac.abort(reason)
    expect(await rejection(byAbort, GUARD, 'an aborted call')).toBe(reason)
    expect(await aborted('abort')).toEqual({ aborted: 'abort', reason: 'AbortError' })

    // A timeout.
    const byTimeout = api.waitAbort.with({ timeout: 50 })('timeout')
    expect((await rejection(byTimeout, GUARD, 'a call that times out')).name).toBe('TimeoutError')
    await aborted('timeout')

    // Stopping to read (return(), as breaking out of for await does) stops the generator over there: its finally runs.
    expect(await take(api.forever('brk'), 3)).toEqual([0, 1, 2])
    await recvUntil(c.receiver, (m) => m.finally === 'brk', "the child's generator to stop")

    // Disposing a proxy aborts its pending calls, here and there; other proxies are unaffected.
    const other = remote<ChildApi>(ep)
    const byDispose = other.waitAbort('dispose')
    await recvUntil(c.receiver, (m) => m.started === 'dispose', 'waitAbort(dispose) to start')
    other[Symbol.dispose]()
    expect(await rejection(byDispose, GUARD, 'a call of a disposed proxy')).toBeInstanceOf(DisconnectedError)
    await aborted('dispose')

    expect(await g(api.add(1, 1))).toBe(2)
  }, T)

  it.each(kinds)('8. a %s killed while it reads a streamed argument: the call rejects and the local source is closed', async (kind) => {
    const { c, api } = await childWithApi(kind)
    const closed = deferred()
    async function* endless() {
      try {
        for (let i = 0; ; i++) {
          await new Promise((r) => setImmediate(r))
          yield i
        }
      } finally {
        closed.resolve()
      }
    }
    const call = api.drain(endless())
    await recvUntil(c.receiver, (m) => m.drained === 40, 'the child to read 40 items')
    killHard(c)
    const err = await rejection(call, GUARD, 'a call with a streamed argument to a killed child')
    expect(err).toBeInstanceOf(ConnectionLostError)
    expect(err.cause).toEqual(killedCause(c))
    await within(closed.promise, GUARD, "the argument's source to be closed (its finally)")
  }, T)

  it.each(kinds)('9. a %s that exposed procedures exits once the parent lets go of them; one that only called the parent exits when done', async (kind) => {
    const start = kind === 'process' ? fork : spawnWorker
    // Exposes, sends the endpoint, returns: kept alive only by the parent's session.
    const callee = track(
      start<never, Endpoint<{ inc(n: number): number }>>(async ({ sender, ipfi }) => {
        sender.send(ipfi.expose({ inc: (n: number) => n + 1 }))
      }),
    )
    const ep = await recv(callee.receiver)
    const api = remote(ep)
    ep.close()
    expect(await g(api.inc(41))).toBe(42)
    expect(await Promise.all([1, 2, 3].map((n) => api.inc(n)))).toEqual([2, 3, 4])
    api[Symbol.dispose]()
    expect(await within(callee.exited, GUARD, 'the serving child to exit once let go')).toEqual({ code: 0, signal: null })

    // Calls the parent's procedures and never disposes its proxy: an idle proxy holds nothing.
    const caller = track(
      start<Endpoint<{ double(n: number): number }>, number>(async ({ receiver, sender, ipfi }) => {
        const parentApi = ipfi.remote(await receiver.recv())
        sender.send(await parentApi.double(21))
      }),
    )
    const parentEp = expose({ double: (n: number) => n * 2 })
    caller.sender.send(parentEp.clone())
    expect(await recv(caller.receiver)).toBe(42)
    expect(await within(caller.exited, GUARD, 'the calling child to exit when done')).toEqual({ code: 0, signal: null })
    // The parent's procedures are still served here.
    const local = remote(parentEp)
    expect(await g(local.double(5))).toBe(10)
    local[Symbol.dispose]()
    parentEp.close()
  }, T)
})

describe('an endpoint passed on to another child', () => {
  it('10. a child calls another child\'s procedures through the parent; killing the callee fails the caller\'s call, killing the caller aborts the callee\'s procedure', async () => {
    // A serves (the fixture), B calls A with the endpoint the parent passed on.
    const a = startChild('process')
    const first = await recv(a.receiver)
    if (!('api' in first)) throw new Error('expected the endpoint first')
    type BMsg = { add: number } | { failed: string; lost: boolean }
    const callerOf = (tag: string) =>
      track(
        fork<Endpoint<ChildApi>, BMsg, { tag: string }>(
          async ({ receiver, sender, data, ipfi }) => {
            const api = ipfi.remote(await receiver.recv())
            sender.send({ add: await api.add(2, 3) })
            try {
              await api.waitAbort(data.tag)
            } catch (e) {
              sender.send({ failed: (e as Error).name, lost: e instanceof ipfi.ConnectionLostError })
            }
          },
          { data: { tag } },
        ),
      )

    // Killing the caller: A's procedure sees its signal abort.
    const b1 = callerOf('b1')
    b1.sender.send(first.api.clone())
    expect(await recv(b1.receiver)).toEqual({ add: 5 })
    await recvUntil(a.receiver, (m) => m.started === 'b1', 'A to start serving b1')
    b1.kill('SIGKILL')
    expect(await recvUntil(a.receiver, (m) => m.aborted === 'b1', 'A to see b1 go')).toEqual({ aborted: 'b1', reason: 'ConnectionLostError' })

    // Killing the callee: the caller's pending call rejects with ConnectionLostError.
    const b2 = callerOf('b2')
    b2.sender.send(first.api)
    expect(await recv(b2.receiver)).toEqual({ add: 5 })
    await recvUntil(a.receiver, (m) => m.started === 'b2', 'A to start serving b2')
    a.kill('SIGKILL')
    expect(await recv(b2.receiver)).toEqual({ failed: 'ConnectionLostError', lost: true })
  }, T)
})

describe('callbacks across a link', () => {
  it.each(kinds)('11. a %s keeps a callback: a lent one stops working once its call settles; callback() works until close()', async (kind) => {
    const { api } = await childWithApi(kind)
    const lentCalls: number[] = []
    expect(await g(api.keep((x) => lentCalls.push(x)))).toBe('kept')
    expect(await g(api.callKept(1))).toEqual({ error: 'DisconnectedError' })
    expect(lentCalls).toEqual([])

    const longLived = callback((x: number) => x * 7)
    expect(await g(api.keep(longLived))).toBe('kept')
    expect(await g(api.callKept(6))).toBe(42)
    expect(await g(api.callKept(7))).toBe(49)
    longLived.close()
    expect(await g(api.callKept(8))).toEqual({ error: 'DisconnectedError' })
  }, T)
})

describe('procedures over a OneShotServer connection', () => {
  it('12. a forked child connects by name with Sender.connect, sends an endpoint; the parent calls it (results, streams, callbacks); a kill fails pending calls', async () => {
    const server = await OneShotServer.create<Endpoint<{ mul(a: number, b: number): number; count(n: number): AsyncGenerator<number>; report(cb: (s: string) => unknown): Promise<string>; hang(): Promise<never> }>>()
    cleanups.push(() => server.close())
    const c = track(
      fork<never, 'connected' | 'hanging', { name: string }>(
        async ({ data, sender, ipfi }) => {
          const tx = await ipfi.Sender.connect(data.name, { timeout: 20_000 })
          tx.send(
            ipfi.expose({
              mul: (a: number, b: number) => a * b,
              async *count(n: number) {
                for (let i = 0; i < n; i++) yield i
              },
              async report(cb: (s: string) => unknown) {
                await cb(`pid ${process.pid}`)
                return 'reported'
              },
              hang() {
                sender.send('hanging')
                return new Promise(() => {})
              },
            }),
          )
          tx.close()
          sender.send('connected')
        },
        { data: { name: server.name } },
      ),
    )
    const [rx, ep] = await server.accept({ timeout: GUARD })
    rx.close()
    expect(await recv(c.receiver)).toBe('connected')
    const api = remote(ep)
    ep.close()
    cleanups.push(() => api[Symbol.dispose]())

    expect(await g(api.mul(6, 7))).toBe(42)
    expect(await collect(api.count(70), GUARD)).toEqual(Array.from({ length: 70 }, (_, i) => i))
    const reports: string[] = []
    expect(await g(api.report((s) => void reports.push(s)))).toBe('reported')
    expect(reports).toEqual([`pid ${c.pid}`])
    const many = await Promise.all(Array.from({ length: 500 }, (_, i) => api.mul(i, 2)))
    expect(many).toEqual(Array.from({ length: 500 }, (_, i) => i * 2))

    const pending = api.hang()
    expect(await recv(c.receiver)).toBe('hanging')
    c.kill('SIGKILL')
    const err = await rejection(pending, GUARD, 'a call over the one-shot link of a killed child')
    expect(err).toBeInstanceOf(ConnectionLostError)
  }, T)
})

describe('errors thrown in a child', () => {
  class ValidationError extends Error {
    override name = 'ValidationError'
    declare field: string
    declare code: string
  }

  it.each(kinds)('13. from a %s: name, message, code, cause and fields arrive; instanceof RemoteError; the remote stack is kept', async (kind) => {
    const { api } = await childWithApi(kind)

    const type = await rejection(api.fail('type'), GUARD, 'fail(type)')
    expect(type).toBeInstanceOf(TypeError)
    expect(type).toBeInstanceOf(RemoteError)
    expect(type.name).toBe('TypeError')
    expect(type.message).toBe('not a number')
    expect(type.stack).toContain('--- remote stack ---')
    expect(type.stack).toContain('procedures-child.mjs') // where it was thrown, over there

    const rich = await rejection(api.fail('rich'), GUARD, 'fail(rich)')
    expect(rich).toBeInstanceOf(Error)
    expect(rich).toBeInstanceOf(RemoteError)
    expect(rich.name).toBe('Error')
    expect(rich.message).toBe('rich failure')
    expect(rich.code).toBe('E_RICH')
    expect(rich.details).toEqual({ retry: 3, tags: ['a', 'b'], when: new Date(0), big: 2n ** 70n })
    expect(rich.cause).toBeInstanceOf(RangeError)
    expect(rich.cause).toBeInstanceOf(RemoteError)
    expect(rich.cause.message).toBe('root cause')
    expect(rich.cause.code).toBe('E_ROOT')

    // Not registered here: an Error with its name and fields.
    const custom = await rejection(api.fail('custom'), GUARD, 'fail(custom)')
    expect(custom).toBeInstanceOf(Error)
    expect(custom).toBeInstanceOf(RemoteError)
    expect(custom.name).toBe('ValidationError')
    expect(custom.message).toBe('name is required')
    expect(custom.field).toBe('name')
    expect(custom.code).toBe('E_VALIDATION')
    expect(String(custom)).toBe('ValidationError: name is required')

    // Registered here: an instance of the local class.
    registerErrorClass(ValidationError)
    const registered = await rejection(api.fail('custom'), GUARD, 'fail(custom), registered')
    expect(registered).toBeInstanceOf(ValidationError)
    expect(registered).toBeInstanceOf(RemoteError)
    expect(registered.field).toBe('name')
    expect(registered.code).toBe('E_VALIDATION')

    const later = await rejection(api.fail('async'), GUARD, 'fail(async)')
    expect(later).toBeInstanceOf(RemoteError)
    expect(later.message).toBe('rejected later')

    // A thrown non-Error arrives as that value.
    const value = await rejection(api.fail('value'), GUARD, 'fail(value)')
    expect(value).toEqual({ plain: 'object', n: 1 })
    expect(value).not.toBeInstanceOf(RemoteError)

    // A name that is not exposed.
    const none = await rejection((api as any).nothingHere(), GUARD, 'an unknown procedure')
    expect(none).toBeInstanceOf(TypeError)
    expect(none).toBeInstanceOf(RemoteError)
    expect(none.code).toBe('ERR_IPFI_NO_SUCH_PROCEDURE')

    // The parent's callback throws: the child sees it as a remote error, rethrows, and it comes back.
    const twice = await rejection(
      api.callMeBack(() => {
        throw Object.assign(new RangeError('from the callback'), { code: 'E_CB' })
      }, 'x'),
      GUARD,
      'a callback that throws',
    )
    expect(twice).toBeInstanceOf(RangeError)
    expect(twice).toBeInstanceOf(RemoteError)
    expect(twice.message).toBe('from the callback')
    expect(twice.code).toBe('E_CB')

    // None of this hurt the session.
    expect(await g(api.fail('none'))).toBe('no failure')
  }, T)

  it.each(kinds)("13b. ipfi's own errors from a %s keep their class, as they do in-process: a limit refusal, a result that cannot travel", async (kind) => {
    const impl = {
      wait: () => new Promise<never>(() => {}),
      giveFunction: () => () => 1,
    }
    const limits = { maxCallsInFlight: 1 }
    // In-process, for comparison: the error objects themselves.
    const local = remote(expose(impl, { limits }))
    cleanups.push(() => local[Symbol.dispose]())
    expect(await rejection(local.giveFunction(), GUARD, 'a local result that cannot travel')).toBeInstanceOf(UnsupportedValueError)
    local.wait().catch(() => {}) // holds the one call allowed
    expect(await rejection(local.wait(), GUARD, 'a refused local call')).toBeInstanceOf(LimitExceededError)

    const start = kind === 'process' ? fork : spawnWorker
    const c = track(
      start<never, Endpoint<typeof impl>>(async ({ sender, ipfi }) => {
        sender.send(ipfi.expose({ wait: () => new Promise(() => {}), giveFunction: () => () => 1 }, { limits: { maxCallsInFlight: 1 } }))
      }),
    )
    const ep = await recv(c.receiver)
    const api = remote(ep)
    ep.close()
    cleanups.push(() => api[Symbol.dispose]())
    const unsendable = await rejection(api.giveFunction(), GUARD, 'a result that cannot travel')
    expect(unsendable.name).toBe('UnsupportedValueError')
    expect(unsendable).toBeInstanceOf(RemoteError)
    expect.soft(unsendable, 'a remote UnsupportedValueError is one').toBeInstanceOf(UnsupportedValueError)
    api.wait().catch(() => {}) // holds the one call allowed
    const refusal = await rejection(api.wait(), GUARD, 'a refused call')
    expect(refusal.name).toBe('LimitExceededError')
    expect(refusal.code).toBe('ERR_IPFI_LIMIT_EXCEEDED')
    expect(refusal).toBeInstanceOf(RemoteError)
    expect.soft(refusal, 'a remote refusal is a LimitExceededError').toBeInstanceOf(LimitExceededError)
  }, T)
})

// -------------------------------------------------------------------------------------------
// A real second thread: a stream with backpressure measured across threads (counters in shared memory)

describe('procedures across a worker thread', () => {
  it('calls both ways, streams with backpressure across threads, callbacks, errors', async () => {
    const ipfi = await import('ipfi')
    // Counters shared with the worker: [produced by the worker, consumed here, max ahead].
    const shared = new Int32Array(new SharedArrayBuffer(16))
    const w = track(ipfi.spawnWorker<any, any>(
      async ({ receiver, sender, ipfi }: any) => {
        const { workerData } = process.getBuiltinModule('node:worker_threads') as typeof import('node:worker_threads')
        const counters = new Int32Array(workerData.counters)
        let parentApi: any = null
        const api = {
          add: (a: number, b: number) => a + b,
          async *count(n: number) {
            for (let i = 0; i < n; i++) {
              const produced = Atomics.add(counters, 0, 1) + 1
              const ahead = produced - Atomics.load(counters, 1)
              if (ahead > Atomics.load(counters, 2)) Atomics.store(counters, 2, ahead)
              yield i
            }
          },
          async work(steps: number, onProgress: (i: number) => Promise<number>) {
            const out: number[] = []
            for (let i = 1; i <= steps; i++) out.push(await onProgress(i))
            return out
          },
          async viaParent(x: number) {
            return parentApi.triple(x)
          },
          fail() {
            throw Object.assign(new RangeError('from the worker'), { code: 'E_WORKER' })
          },
          async sum(xs: AsyncIterable<number>) {
            let s = 0
            for await (const x of xs) s += x
            return s
          },
        }
        sender.send({ api: ipfi.expose(api) })
        const { parentEp } = await receiver.recv()
        parentApi = ipfi.remote(parentEp)
        parentEp.close()
        sender.send({ ready: true })
        // Stay until the parent closes its sender.
        try {
          await receiver.recv()
        } catch {
          // closed
        }
        parentApi[Symbol.dispose]()
        sender.close()
      },
      { workerData: { counters: shared.buffer } },
    ))
    const { api: ep } = await within(w.receiver.recv(), GUARD, 'the worker endpoint')
    expect(ep).toBeInstanceOf(ipfi.Endpoint)
    const api: any = ipfi.remote<any>(ep)
    ep.close()
    w.sender.send({ parentEp: ipfi.expose({ triple: (x: number) => x * 3 }) })
    expect(await within(w.receiver.recv(), GUARD, 'the worker to be ready')).toEqual({ ready: true })

    expect(await api.add(2, 3)).toBe(5)
    const many = await within(Promise.all(Array.from({ length: 2_000 }, (_, i) => api.add(i, 1))), GUARD, '2,000 calls to the worker')
    expect(many).toEqual(Array.from({ length: 2_000 }, (_, i) => i + 1))
    expect(await api.viaParent(14)).toBe(42)
    expect(await api.work(5, async (i: number) => i * i)).toEqual([1, 4, 9, 16, 25])
    const e = await rejection(api.fail(), GUARD)
    expect(e).toBeInstanceOf(RangeError)
    expect(e).toBeInstanceOf(ipfi.RemoteError)
    expect(e.code).toBe('E_WORKER')
    async function* src(n: number) {
      for (let i = 0; i < n; i++) yield i
    }
    expect(await api.sum(src(1_000))).toBe(499_500)

    for (const window of [DEFAULT_WINDOW, 4]) {
      Atomics.store(shared, 0, 0)
      Atomics.store(shared, 1, 0)
      Atomics.store(shared, 2, 0)
      const n = 20_000
      let consumed = 0
      await within((async () => {
        for await (const x of api.count.with({ window })(n)) {
          if (x !== consumed) throw new Error(`out of order: ${x} at ${consumed}`)
          consumed++
          Atomics.store(shared, 1, consumed)
          if (consumed % 8 === 0) await turn()
        }
      })(), 40_000, `a ${n}-item stream from the worker`)
      expect(consumed).toBe(n)
      expect(Atomics.load(shared, 0)).toBe(n)
      const maxAhead = Atomics.load(shared, 2)
      expect(maxAhead).toBeLessThanOrEqual(window + 1)
      expect(maxAhead).toBeGreaterThanOrEqual(window / 2)
    }

    api[Symbol.dispose]()
    w.sender.close()
    expect(await within(w.exited, GUARD, 'the worker to exit')).toEqual({ code: 0, signal: null })
  }, T)
})
