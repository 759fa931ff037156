/**
 * The procedure scenarios (docs/PROTOCOL.md §13). All but procedures-kill are symmetric: each side
 * exposes the same API, sends its endpoint as {kind:'api', endpoint}, and checks the peer's.
 */
import { DisconnectedError, RemoteError, callback, currentCall, expose, remote } from 'ipfi'
import { VALUES, ending, fromTagged, opened } from '../lib/kit.mjs'

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

/** Open the link, exchange endpoints, run `check(peer, theirs, box)` on the peer's API, finish. */
function exchange(makeApi, check) {
  return async (role) => {
    const { conn, box } = await opened(role)
    conn.sender.send({ kind: 'api', endpoint: expose(makeApi(role)) })
    const { endpoint } = await box.next('api')
    const peer = remote(endpoint)
    try {
      await check(role, peer, endpoint)
    } finally {
      peer[Symbol.dispose]()
      endpoint.close()
    }
    await role.finish(conn, box)
  }
}

/** `p` must reject; returns what it rejected with (or fails the check and returns undefined). */
async function rejection(role, p, what) {
  try {
    const v = await role.within(p, what)
    role.fail(`${what}: expected a rejection, got ${JSON.stringify(v)}`)
  } catch (e) {
    return e
  }
  return undefined
}

// ---- procedures-calls --------------------------------------------------------------------

const callsApi = () => ({
  add: (x, y) => x + y,
  echo: (v) => v,
  concat: (...parts) => parts.map(String).join(''),
  after: async (tag, ms) => {
    await sleep(ms)
    return tag
  },
})

async function checkCalls(role, peer) {
  role.same(await role.within(peer.add(2, 3), 'add(2, 3)'), 5, 'add(2, 3)')
  for (const name of role.args.echo ?? []) {
    const f = VALUES.find((x) => x.name === name)
    if (!role.check(f, `fixture "${name}" exists`)) continue
    role.same(await role.within(peer.echo(fromTagged(f.value)), `echo(${name})`), fromTagged(f.value), `echo of fixture "${name}"`)
  }
  role.same(await role.within(peer.concat('a', 'b', 'c'), 'concat'), 'abc', 'concat with three arguments')
  const tags = Array.from({ length: 20 }, (_, i) => i)
  const got = await role.within(Promise.all(tags.map((i) => peer.after(i, (20 - i) * 5))), '20 concurrent calls')
  role.same(got, tags, '20 concurrent calls, finishing in reverse order, each resolve with their own result')
}

// ---- procedures-streams ------------------------------------------------------------------

function streamsApi() {
  let produced = 0
  let finished = false
  return {
    async *ticks(n) {
      produced = 0
      finished = false
      try {
        for (let i = 0; i < n; i++) {
          produced++
          yield i
        }
      } finally {
        finished = true
      }
    },
    stats: () => ({ produced, finished }),
    async sum(xs) {
      let sum = 0
      let count = 0
      for await (const x of xs) {
        sum += x
        count++
      }
      return { sum, count }
    },
    async take(xs, n) {
      const out = []
      for await (const x of xs) {
        out.push(x)
        if (out.length >= n) break
      }
      return out
    },
    async *broken(n) {
      for (let i = 0; i < n; i++) yield i
      throw Object.assign(new TypeError('stream broke'), { code: 'E_STREAM' })
    },
  }
}

async function checkStreams(role, peer) {
  const all = []
  for await (const x of peer.ticks.with({ window: 8 })(100)) all.push(x)
  role.same(all, Array.from({ length: 100 }, (_, i) => i), 'a result stream of 100 items, in order')

  const window = 4
  const it = peer.ticks.with({ window })(100_000)[Symbol.asyncIterator]()
  let read = 0
  for (const k of [1, 10, 30]) {
    while (read < k) {
      const r = await role.within(it.next(), `stream item ${read}`)
      role.same(r, { done: false, value: read }, `stream item ${read}`)
      read++
    }
    const st = await role.within(peer.stats(), 'stats()')
    role.check(st.produced >= k && st.produced <= k + window + 1, `after ${k} items read with window ${window}, the producer produced ${st.produced} (at most ${k + window + 1})`)
  }
  await it.return()
  await role.eventually(async () => (await peer.stats()).finished, "the remote generator's finally runs once the caller stops reading")

  async function* upTo(n) {
    for (let i = 1; i <= n; i++) yield i
  }
  role.same(await role.within(peer.sum(upTo(100)), 'sum(1..100)'), { sum: 5050, count: 100 }, 'an argument stream of 100 items')

  let produced = 0
  let finished = false
  async function* counting() {
    try {
      for (let i = 0; ; i++) {
        produced++
        yield i
      }
    } finally {
      finished = true
    }
  }
  role.same(await role.within(peer.take.with({ window })(counting(), 5), 'take(counting, 5)'), [0, 1, 2, 3, 4], 'the callee takes 5 items of an endless argument stream')
  await role.eventually(() => finished, "our argument generator's finally runs once the callee stops reading")
  role.check(produced <= 5 + window + 1, `our argument generator produced ${produced} items, at most ${5 + window + 1} (pulled by window ${window})`)

  const items = []
  let err
  try {
    for await (const x of peer.broken(3)) items.push(x)
  } catch (e) {
    err = e
  }
  role.same(items, [0, 1, 2], 'a result stream that throws: its items first')
  role.check(err instanceof TypeError && err.message === 'stream broke' && err.code === 'E_STREAM', `then its error, a TypeError 'stream broke' with code E_STREAM, got ${err}`)

  async function* bad() {
    yield 1
    yield 2
    throw new Error('arg broke')
  }
  const e = await rejection(role, peer.sum(bad()), 'sum(an argument stream that throws)')
  role.check(e instanceof Error && e.message === 'arg broke', `an argument stream that throws fails the call with its error, got ${e}`)
}

// ---- procedures-callbacks ----------------------------------------------------------------

function callbacksApi() {
  let kept = null
  let lent = null
  return {
    async work(steps, progress) {
      const out = []
      for (let i = 1; i <= steps; i++) out.push(await progress(i))
      return out
    },
    keep(cb) {
      kept = cb
    },
    fire: (x) => kept(x),
    lend(f) {
      lent = f
    },
    async callLent() {
      try {
        await lent()
        return 'no error'
      } catch (e) {
        return e.name
      }
    },
    twice: (f) => f((x) => x * 2),
  }
}

async function checkCallbacks(role, peer) {
  const seen = []
  const results = await role.within(peer.work(3, (i) => (seen.push(i), i * 10)), 'work(3, progress)')
  role.same(results, [10, 20, 30], "a callback's results reach the callee")
  role.same(seen, [1, 2, 3], 'the callback ran here, in order')

  const cb = callback((x) => x + 1)
  await role.within(peer.keep(cb), 'keep(callback)')
  role.same(await role.within(peer.fire(1), 'fire(1)'), 2, 'a long-lived callback is callable after the call that passed it')
  role.same(await role.within(peer.fire(41), 'fire(41)'), 42, 'and again')
  cb.close()
  const e = await rejection(role, peer.fire(0), 'fire(0) after close')
  role.check(e instanceof Error && e.name === 'DisconnectedError', `a closed long-lived callback fails with DisconnectedError, got ${e}`)

  await role.within(peer.lend(() => 1), 'lend(f)')
  role.same(await role.within(peer.callLent(), 'callLent()'), 'DisconnectedError', 'a lent function fails with DisconnectedError once its call is over')

  role.same(await role.within(peer.twice(async (g) => await g(21)), 'twice'), 42, 'a callback that is given a function of the callee calls it')
}

// ---- procedures-cancellation -------------------------------------------------------------

function cancellationApi() {
  const aborted = []
  return {
    hang(tag) {
      const signal = currentCall().signal
      return new Promise((_, reject) =>
        signal.addEventListener('abort', () => {
          aborted.push(tag)
          reject(new Error('aborted'))
        }),
      )
    },
    aborted: () => aborted,
  }
}

async function checkCancellation(role, peer, endpoint) {
  let e = await rejection(role, peer.hang.with({ timeout: 200 })('t'), 'a call with a timeout')
  role.check(ending(e) === 'TimeoutError', `a call past its timeout rejects with TimeoutError, got ${e}`)

  const c = new AbortController()
  const reason = new Error('stop it')
  setTimeout(() => c.abort(reason), 100)
  e = await rejection(role, peer.hang.with({ signal: c.signal })('s'), 'a call with a signal')
  role.check(e === reason, `an aborted call rejects with the signal's reason, got ${e}`)

  const second = remote(endpoint.clone())
  const pending = second.hang('d')
  pending.catch(() => {})
  second[Symbol.dispose]()
  e = await rejection(role, pending, 'a call on a proxy that was closed')
  role.check(e instanceof DisconnectedError, `a pending call on a closed proxy rejects with a DisconnectedError, got ${e}`)

  const all = await role.eventually(async () => {
    const a = await peer.aborted()
    return ['t', 's', 'd'].every((t) => a.includes(t)) && a
  }, "the callee's calls abort")
  if (all) role.same([...all].sort(), ['d', 's', 't'], 'each cancelled call aborted once on the callee')
}

// ---- procedures-errors -------------------------------------------------------------------

const errorsApi = () => ({
  fail(kind) {
    switch (kind) {
      case 'type':
        throw Object.assign(new TypeError('bad type'), { code: 'E_TYPE' })
      case 'custom': {
        const e = new Error('name is wrong')
        e.name = 'ValidationError'
        throw Object.assign(e, { code: 'E_VALID', field: 'name', limits: { min: 1, max: 3 } })
      }
      case 'cause':
        throw new Error('outer', { cause: new RangeError('inner') })
      case 'value':
        throw { reason: 'plain', n: 1 }
      case 'string':
        throw 'just a string'
    }
    return 'no such kind'
  },
})

async function checkErrors(role, peer) {
  let e = await rejection(role, peer.fail('type'), "fail('type')")
  role.check(e instanceof TypeError && e.name === 'TypeError' && e.message === 'bad type' && e.code === 'E_TYPE', `a TypeError with its message and code, got ${e} (code ${e?.code})`)
  role.check(e instanceof RemoteError, 'a thrown error is marked remote')

  e = await rejection(role, peer.fail('custom'), "fail('custom')")
  role.check(e instanceof Error && e.name === 'ValidationError' && e.message === 'name is wrong', `an error of another name, got ${e}`)
  role.same({ code: e?.code, field: e?.field, limits: e?.limits }, { code: 'E_VALID', field: 'name', limits: { min: 1, max: 3 } }, "the error's own fields")

  e = await rejection(role, peer.fail('cause'), "fail('cause')")
  role.check(e instanceof Error && e.message === 'outer', `an error with a cause, got ${e}`)
  role.check(e?.cause instanceof RangeError && e.cause.message === 'inner', `its cause, a RangeError 'inner', got ${e?.cause}`)

  e = await rejection(role, peer.fail('value'), "fail('value')")
  role.same(e, { reason: 'plain', n: 1 }, 'a thrown non-Error arrives as itself')
  e = await rejection(role, peer.fail('string'), "fail('string')")
  role.same(e, 'just a string', 'a thrown string arrives as itself')

  e = await rejection(role, peer.nope(), 'a procedure that is not exposed')
  role.check(e instanceof TypeError && e.code === 'ERR_IPFI_NO_SUCH_PROCEDURE', `an unknown name is refused with a TypeError, code ERR_IPFI_NO_SUCH_PROCEDURE, got ${e} (code ${e?.code})`)
}

// ---- procedures-kill ---------------------------------------------------------------------

async function killCaller(role) {
  const { conn, box } = await opened(role)
  const { endpoint } = await box.next('api')
  const peer = remote(endpoint)
  const call = peer.hang()
  const next = box.next('never', 'the bootstrap receive to end')
  const e = await rejection(role, call, 'a call pending when the callee is killed')
  role.check(ending(e) === 'lost' && !(e instanceof RemoteError), `the pending call rejects with our own ConnectionLostError, got ${e}`)
  await role.rejects(next.catch(() => Promise.reject(role.endError)), 'lost', 'the pending bootstrap recv')
  const later = await rejection(role, peer.hang(), 'a call after the loss')
  role.check(later instanceof DisconnectedError, `a call after the loss rejects with a DisconnectedError, got ${later}`)
}

async function killCallee(role) {
  const conn = await role.open()
  role.keep(conn)
  conn.sender.send({
    kind: 'api',
    endpoint: expose({
      hang() {
        role.mark('ready')
        return new Promise(() => {})
      },
    }),
  })
  await new Promise(() => setInterval(() => {}, 1000)) // until the runner kills this process
}

const sym = (api, check) => {
  const f = exchange(api, check)
  return { a: f, b: f }
}

export default {
  'procedures-calls': sym(callsApi, checkCalls),
  'procedures-streams': sym(streamsApi, checkStreams),
  'procedures-callbacks': sym(callbacksApi, checkCallbacks),
  'procedures-cancellation': sym(cancellationApi, checkCancellation),
  'procedures-errors': sym(errorsApi, checkErrors),
  'procedures-kill': { a: killCaller, b: killCallee },
}
