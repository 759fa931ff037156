/** The channel scenarios of conformance/scenarios.json: handshake and limits, handles, disconnects, endings, kills. */
import { Receiver, Sender, channel } from 'ipfi'
import { fromTagged, opened } from '../lib/kit.mjs'

/** Receive `expected` in order on `rx`, then its end (`end`: 'orderly' or 'lost'). */
async function drain(role, rx, expected, end, what) {
  for (const [i, v] of expected.entries()) {
    let got
    try {
      got = await role.within(rx.recv(), `${what}: message ${i}`)
    } catch (e) {
      role.fail(`${what}: message ${i} (${JSON.stringify(v)}) did not come: ${e}`)
      return
    }
    role.same(got, v, `${what}: message ${i}`)
  }
  await role.rejects(rx.recv(), end, `${what}: the end after ${expected.length} messages`)
}

const symmetric = (f) => ({ a: f, b: f })

// ---- handshake-limits ----------------------------------------------------------------------

async function limitsA(role) {
  const { conn, box } = await opened(role)
  await role.within(conn.ready, 'the handshake')
  const big = await box.next('big')
  role.same(big.text, 'y'.repeat(4000), 'the largest text that fits the announced maxFrameBytes arrives whole')
  const h = await box.next('handles')
  role.check(Array.isArray(h.senders) && h.senders.length === 4 && h.senders.every((s) => s instanceof Sender), 'four senders, the announced maxHandlesPerMessage, arrive')
  for (const [i, s] of (h.senders ?? []).entries()) {
    s.send({ n: i })
    s.close()
  }
  // a's own sends are bound by b's (default) limits: over the handshake limit, and more handles than a takes.
  conn.sender.send({ kind: 'large', data: Buffer.alloc(70_000, 0xab) })
  const [tx, rx] = channel()
  conn.sender.send({ kind: 'many', senders: [tx.clone(), tx.clone(), tx.clone(), tx.clone(), tx.clone()] })
  tx.close()
  const got = []
  for (let i = 0; i < 5; i++) got.push((await role.within(rx.recv(), `message ${i} on the channel of five senders`)).n)
  role.same(got.sort(), [0, 1, 2, 3, 4], 'each of the five senders sent its number')
  await role.rejects(rx.recv(), 'orderly', 'the channel of five senders ends once all five are closed')
  await role.finish(conn, box)
}

async function limitsB(role) {
  const { conn, box } = await opened(role)
  await role.within(conn.ready, 'the handshake')
  role.throws(() => conn.sender.send({ kind: 'big', text: 'x'.repeat(5000) }), 'LimitExceededError', 'a message over the peer\'s maxFrameBytes is refused on the sender')
  const [tx, rx] = channel()
  const five = [tx.clone(), tx.clone(), tx.clone(), tx.clone(), tx.clone()]
  tx.close()
  role.throws(() => conn.sender.send({ kind: 'handles', senders: five }), 'LimitExceededError', 'a message with more handles than the peer\'s maxHandlesPerMessage is refused on the sender')
  // Nothing moved: all five are still usable here.
  five[4].send({ n: 'local' })
  role.same(await role.within(rx.recv(), 'a local send on a sender the refused message held'), { n: 'local' }, 'the senders of a refused message were not moved')
  conn.sender.send({ kind: 'big', text: 'y'.repeat(4000) })
  conn.sender.send({ kind: 'handles', senders: five.slice(0, 4) })
  five[4].close()
  const got = []
  for (let i = 0; i < 4; i++) got.push((await role.within(rx.recv(), `message ${i} from the four moved senders`)).n)
  role.same(got.sort(), [0, 1, 2, 3], 'each moved sender sent its number')
  await role.rejects(rx.recv(), 'orderly', 'the channel ends once the four moved senders and the local one are closed')
  const large = await box.next('large')
  role.check(Buffer.isBuffer(large.data) && large.data.length === 70_000 && large.data.every((x) => x === 0xab), 'a message over the 64 KiB handshake limit (and under the announced one) arrives whole')
  const many = await box.next('many')
  role.check(Array.isArray(many.senders) && many.senders.length === 5, 'five senders arrive (the limit of this side is the default)')
  for (const [i, s] of (many.senders ?? []).entries()) {
    s.send({ n: i })
    s.close()
  }
  await role.finish(conn, box)
}

// ---- handles -----------------------------------------------------------------------------

async function handlesSender(role) {
  const { conn, box } = await opened(role)
  const [tx, rx] = channel()
  conn.sender.send({ kind: 'sender', tx, note: `from ${role.role}` })
  role.throws(() => tx.send('after the move'), 'HandleError', 'a moved sender is unusable here')
  const theirs = await box.next('sender')
  role.check(theirs.tx instanceof Sender, 'a Sender arrives inside the message')
  role.check(typeof theirs.note === 'string' && theirs.note.startsWith('from '), 'beside the other fields of the message')
  for (const s of ['s1', 's2', 's3']) theirs.tx.send(s)
  theirs.tx.close()
  await drain(role, rx, ['s1', 's2', 's3'], 'orderly', 'the channel whose sender moved to the peer')
  await role.finish(conn, box)
}

async function handlesReceiver(role) {
  const { conn, box } = await opened(role)
  const [tx, rx] = channel()
  for (const s of ['q1', 'q2', 'q3']) tx.send(s)
  const [replyTx, replyRx] = channel()
  tx.send({ note: 'q4', reply: replyTx })
  conn.sender.send({ kind: 'receiver', rx })
  await role.rejects(() => rx.recv(), 'HandleError', 'a moved receiver is unusable here')
  tx.send('a1')
  tx.send('a2')
  tx.close()
  const theirs = await box.next('receiver')
  role.check(theirs.rx instanceof Receiver, 'a Receiver arrives inside the message')
  const prx = theirs.rx
  for (const q of ['q1', 'q2', 'q3']) role.same(await role.within(prx.recv(), q), q, `the moved receiver's queue: ${q}`)
  const q4 = await role.within(prx.recv(), 'the queued message holding a sender')
  role.check(q4?.note === 'q4' && q4.reply instanceof Sender, 'a queued message holding a sender moves with the receiver, its sender with it')
  q4?.reply?.send('r')
  q4?.reply?.close()
  await drain(role, prx, ['a1', 'a2'], 'orderly', 'the moved receiver: what was sent after the move')
  await drain(role, replyRx, ['r'], 'orderly', 'the channel whose sender was in a queued message')
  await role.finish(conn, box)
}

async function handlesHome(role) {
  const { conn, box } = await opened(role)
  const [tx, rx] = channel()
  conn.sender.send({ kind: 'away', tx })
  const [tx2, rx2] = channel()
  tx2.send('r1')
  conn.sender.send({ kind: 'go', rx: rx2 })

  const away = await box.next('away')
  role.check(away.tx instanceof Sender, 'the peer\'s sender arrives')
  conn.sender.send({ kind: 'home', tx: away.tx })
  const go = await box.next('go')
  role.check(go.rx instanceof Receiver, 'the peer\'s receiver arrives')
  conn.sender.send({ kind: 'back', rx: go.rx })

  const home = await box.next('home')
  role.check(home.tx instanceof Sender, 'our sender comes home')
  home.tx.send('h1')
  role.same(await role.within(rx.recv(), 'a send on the sender that came home'), 'h1', 'the sender that came home sends into its channel')
  home.tx.close()
  await role.rejects(rx.recv(), 'orderly', 'closing the sender that came home disconnects its channel')

  const back = await box.next('back')
  role.check(back.rx instanceof Receiver, 'our receiver comes back')
  tx2.send('r2')
  tx2.close()
  await drain(role, back.rx, ['r1', 'r2'], 'orderly', 'the receiver that came back: its queue, then a local send')
  await role.finish(conn, box)
}

async function handlesShortening(role) {
  const { conn, box } = await opened(role)
  const [tx, rx] = channel()
  tx.send('o1')
  conn.sender.send({ kind: 'sender', tx: tx.clone() })
  const owner = (async () => {
    await box.next('p1')
    conn.sender.send({ kind: 'receiver', rx })
    tx.send('o2')
    tx.close()
  })()
  const holder = (async () => {
    const { tx: ptx } = await box.next('sender')
    ptx.send('p1')
    conn.sender.send({ kind: 'p1' })
    ptx.send('p1b')
    const { rx: prx } = await box.next('receiver')
    role.check(prx instanceof Receiver, 'the receiver our sender sends into arrives')
    ptx.send('p2')
    ptx.close()
    const got = []
    for (let i = 0; i < 5; i++) {
      try {
        got.push(await role.within(prx.recv(), `message ${i} of 5`))
      } catch (e) {
        role.fail(`message ${i} of 5 did not come (got ${JSON.stringify(got)}): ${e}`)
        return
      }
    }
    role.same([...got].sort(), ['o1', 'o2', 'p1', 'p1b', 'p2'], 'every message sent on either side of the move arrives once')
    const order = (xs) => xs.every((x, i) => i === 0 || got.indexOf(xs[i - 1]) < got.indexOf(x))
    role.check(order(['o1', 'o2']) && order(['p1', 'p1b', 'p2']), `each sender's messages arrive in the order sent: ${JSON.stringify(got)}`)
    await role.rejects(prx.recv(), 'orderly', 'the moved receiver ends once both senders are closed')
  })()
  await Promise.all([owner, holder])
  await role.finish(conn, box)
}

async function everywhere(role) {
  const { conn, box } = await opened(role)
  const [tx, rx] = channel()
  const [tx2, rx2] = channel()
  tx2.send('inside')
  const c = () => tx.clone()
  const twice = c()
  const np = Object.create(null)
  np.s = c()
  conn.sender.send({
    kind: 'everywhere',
    list: [c(), [c()]],
    map: new Map([['v', c()], [c(), 'key']]),
    set: new Set([c()]),
    np,
    deep: { a: { b: { c: [c()] } } },
    twice: [twice, twice],
    receivers: new Map([['r', rx2]]),
  })
  tx.close()
  tx2.send('after')
  tx2.close()

  const m = await box.next('everywhere')
  const mapKey = m.map instanceof Map ? [...m.map.keys()].find((k) => k instanceof Sender) : undefined
  const found = {
    'list[0]': m.list?.[0],
    'list[1][0]': m.list?.[1]?.[0],
    'map.get(v)': m.map?.get?.('v'),
    'map key': mapKey,
    set: m.set instanceof Set ? [...m.set][0] : undefined,
    'np.s': m.np?.s,
    'deep.a.b.c[0]': m.deep?.a?.b?.c?.[0],
    'twice[0]': m.twice?.[0],
    'twice[1]': m.twice?.[1],
  }
  for (const [path, s] of Object.entries(found)) role.check(s instanceof Sender, `a sender at ${path}`)
  role.check(m.map?.get?.(mapKey) === 'key', 'a sender as a Map key keeps its value')
  role.check(found['twice[0]'] !== found['twice[1]'], 'the same sender twice in a message arrives as two senders')
  found['twice[0]']?.close?.()
  for (const [path, s] of Object.entries(found)) if (s instanceof Sender && path !== 'twice[0]') s.send(path), s.close()
  const prx = m.receivers instanceof Map ? m.receivers.get('r') : undefined
  if (role.check(prx instanceof Receiver, 'a receiver as a Map value')) await drain(role, prx, ['inside', 'after'], 'orderly', 'the receiver that came in a Map')

  const names = []
  for (let i = 0; i < 8; i++) names.push(await role.within(rx.recv(), `name ${i} of 8`))
  role.same(names.sort(), Object.keys(found).filter((p) => p !== 'twice[0]').sort(), 'every sender, wherever it was in the message, sent its path')
  await role.rejects(rx.recv(), 'orderly', 'the channel ends once all nine are closed')
  await role.finish(conn, box)
}

async function nullPrototype(role) {
  const { conn, box } = await opened(role)
  const [tx, rx] = channel()
  const holder = Object.create(null)
  holder.tx = tx
  conn.sender.send({ kind: 'np', values: role.args.values.map(fromTagged), holder })
  const m = await box.next('np')
  for (const [i, t] of role.args.values.entries()) role.sameTagged(m.values?.[i], t, `value ${i}`)
  role.check(m.holder && Object.getPrototypeOf(m.holder) === null, `an object without prototype holding a sender arrives without one (got ${m.holder && Object.getPrototypeOf(m.holder) === Object.prototype ? 'Object.prototype' : typeof m.holder})`)
  role.check(m.holder?.tx instanceof Sender, 'with its sender')
  m.holder?.tx?.send('through')
  m.holder?.tx?.close()
  await drain(role, rx, ['through'], 'orderly', 'the channel whose sender was in an object without prototype')
  await role.finish(conn, box)
}

/** One ball: the channel `owner` made, its receiver moved across the link `hops` times. */
async function ball(role, conn, box, owner, hops) {
  const me = role.role
  const peer = me === 'a' ? 'b' : 'a'
  let tx
  if (owner === me) {
    const [t, rx] = channel()
    tx = t
    conn.sender.send({ kind: `ball:${owner}`, tx: tx.clone() })
    tx.send(`${me}-0`)
    conn.sender.send({ kind: `hop:${owner}`, k: 1, rx })
  } else {
    tx = (await box.next(`ball:${owner}`)).tx
    role.check(tx instanceof Sender, `a sender of ${owner}'s ball arrives`)
  }
  for (let k = owner === me ? 2 : 1; k <= hops; k += 2) {
    const hop = await box.next(`hop:${owner}`)
    role.check(hop.k === k && hop.rx instanceof Receiver, `hop ${k} of ${owner}'s ball brings its receiver (got hop ${hop.k})`)
    tx.send(`${me}-${k}`)
    if (k < hops) {
      conn.sender.send({ kind: `hop:${owner}`, k: k + 1, rx: hop.rx })
      continue
    }
    // The last hop ends at the owner (hops is even): drain the ball.
    tx.close()
    conn.sender.send({ kind: `done:${owner}` })
    const got = []
    for (let i = 0; i <= hops; i++) {
      try {
        got.push(await role.within(hop.rx.recv(), `message ${i} of ${owner}'s ball`))
      } catch (e) {
        return role.fail(`message ${i} of ${owner}'s ball did not come (got ${JSON.stringify(got)}): ${e}`)
      }
    }
    const want = (who) => Array.from({ length: hops + 1 }, (_, i) => i).filter((i) => (i % 2 === 0) === (who === owner)).map((i) => `${who}-${i}`)
    role.same(got.filter((m) => m.startsWith(`${me}-`)), want(me), `our messages into ${owner}'s ball, in order`)
    role.same(got.filter((m) => m.startsWith(`${peer}-`)), want(peer), `the peer's messages into ${owner}'s ball, in order`)
    await role.rejects(hop.rx.recv(), 'orderly', `${owner}'s ball ends once both senders are closed`)
    return
  }
  await box.next(`done:${owner}`)
  tx.close()
}

async function bounce(role) {
  const { conn, box } = await opened(role)
  const hops = role.args.hops ?? 10
  await Promise.all([ball(role, conn, box, 'a', hops), ball(role, conn, box, 'b', hops)])
  await role.finish(conn, box)
}

async function dropped(role) {
  const { conn, box } = await opened(role)
  const [tx, rx] = channel()
  const [tx2, rx2] = channel()
  conn.sender.send({ kind: 'sender', tx })
  conn.sender.send({ kind: 'rx', rx: rx2 })
  const { tx: ptx } = await box.next('sender')
  const { rx: prx } = await box.next('rx')
  role.check(ptx instanceof Sender && prx instanceof Receiver, "the peer's sender and receiver arrive")
  rx.close()
  prx.close()
  conn.sender.send({ kind: 'closed' })
  await box.next('closed')
  role.throws(() => ptx.send('late'), 'orderly', 'a send to a receiver the peer closed at home')
  role.throws(() => tx2.send('late'), 'orderly', 'a send to our receiver, moved to the peer and closed there')
  ptx.close()
  tx2.close()
  await role.finish(conn, box)
}

async function heartbeat(role) {
  const { conn, box } = await opened(role)
  conn.sender.send({ kind: 'hi' })
  await box.next('hi')
  await new Promise((r) => setTimeout(r, role.args.quietMs ?? 5000))
  role.check(!conn.link.isClosed, `the link is still open after ${role.args.quietMs} ms of silence, on heartbeats alone`)
  conn.sender.send({ kind: 'after' })
  await box.next('after')
  await role.finish(conn, box)
}

// ---- disconnect counting -----------------------------------------------------------------

async function counting(role) {
  const { conn, box } = await opened(role)
  const [tx, rx] = channel()
  conn.sender.send({ kind: 'three', one: tx.clone(), two: [tx.clone(), tx.clone()] })
  tx.close()

  const holder = (async () => {
    const three = await box.next('three')
    const [x, y] = three.two ?? []
    role.check(three.one instanceof Sender && x instanceof Sender && y instanceof Sender, 'three senders arrive in one message')
    three.one.close()
    conn.sender.send({ kind: 'closed', n: 1 })
    await box.next('ack')
    x.send('v')
    x.close()
    conn.sender.send({ kind: 'closed', n: 2 })
    await box.next('ack')
    y.close()
    conn.sender.send({ kind: 'closed', n: 3 })
  })()

  const owner = (async () => {
    const n1 = await box.next('closed')
    role.check(n1.n === 1, 'the notes come in order')
    role.same(rx.tryRecv(), { ok: false, reason: 'empty' }, 'one of three remote senders closed: the channel is still connected')
    conn.sender.send({ kind: 'ack', n: 1 })
    const n2 = await box.next('closed')
    role.check(n2.n === 2, 'the notes come in order')
    role.same(await role.within(rx.recv(), "the second sender's message"), 'v', 'a message sent before the close arrives')
    role.same(rx.tryRecv(), { ok: false, reason: 'empty' }, 'two of three closed: still connected')
    conn.sender.send({ kind: 'ack', n: 2 })
    const n3 = await box.next('closed')
    role.check(n3.n === 3, 'the notes come in order')
    role.same(rx.tryRecv(), { ok: false, reason: 'disconnected' }, 'the third closed: disconnected, already when the note after it arrives')
    await role.rejects(rx.recv(), 'orderly', 'recv after the last sender closed')
  })()
  await Promise.all([holder, owner])
  await role.finish(conn, box)
}

// ---- endings -----------------------------------------------------------------------------

/** Open the link; make a channel and give the peer its sender; take the peer's sender (`theirs`). */
async function sendersExchanged(role) {
  const { conn, box } = await opened(role)
  const [tx, rx] = channel()
  conn.sender.send({ kind: 'sender', tx })
  const { tx: theirs } = await box.next('sender')
  role.check(theirs instanceof Sender, "the peer's sender arrives")
  return { conn, box, rx, theirs }
}

async function endingCloser(role) {
  const { conn, box, rx, theirs } = await sendersExchanged(role)
  conn.sender.send({ kind: 'm', n: 1 })
  conn.sender.send({ kind: 'm', n: 2 })
  conn.close('the closer is done')
  await role.within(conn.closed, 'the link to close')
  await role.rejects(rx.recv(), 'orderly', 'our channel, whose sender crossed the closed link')
  role.throws(() => theirs.send('late'), 'orderly', "a send on the peer's sender after the link closed")
  role.check((await box.ended) === 'orderly', 'our bootstrap channel ends in order')
}

async function endingSurvivor(role, end) {
  const { conn, box, rx, theirs } = await sendersExchanged(role)
  const m1 = await box.next('m')
  const m2 = await box.next('m')
  role.same([m1.n, m2.n], [1, 2], 'everything sent before the end arrives, in order')
  role.check((await role.within(box.ended, 'the bootstrap channel to end')) === end, `the bootstrap channel ends ${end}, got ${await box.ended} (${role.endError})`)
  await role.rejects(rx.recv(), end, 'our channel, whose sender was on the other side')
  role.throws(() => theirs.send('late'), end, "a send on the peer's sender")
  await role.within(conn.closed, 'the link to close')
}

/** Send two notes and return with the link open: role.mjs then exits (with `role.exitCode`). */
async function sendThenExit(role, code) {
  const { conn, rx, theirs } = await sendersExchanged(role)
  role.keep(conn, rx, theirs)
  conn.sender.send({ kind: 'm', n: 1 })
  conn.sender.send({ kind: 'm', n: 2 })
  role.exitCode = code
}

// At exit the link writes what it holds, then GOODBYE ["exited with code 0"], or [reason, "ERR_IPFI_EXITED"] for another code.
const endingLostExiter = (role) => sendThenExit(role, 3)
const endingExiter = (role) => sendThenExit(role, 0)

// ---- kill -9 -----------------------------------------------------------------------------

async function doomed(role) {
  const { conn, box, rx, theirs } = await sendersExchanged(role)
  role.keep(conn, box, rx, theirs)
  await box.next('armed')
  role.mark('ready')
  await new Promise(() => setInterval(() => {}, 1000)) // until the runner kills this process
}

async function survivor(role) {
  const { conn, box, rx, theirs } = await sendersExchanged(role)
  const pending = rx.recv()
  const next = box.next('never', 'the bootstrap receive to end')
  conn.sender.send({ kind: 'armed' })
  await role.rejects(pending, 'lost', 'a pending recv whose sender was in the killed process')
  await role.rejects(next.catch(() => Promise.reject(role.endError)), 'lost', 'the pending bootstrap recv')
  role.throws(() => theirs.send('late'), 'lost', 'a send into the killed process')
  await role.within(conn.closed, 'the link to close')
}

export default {
  'handshake-limits': { a: limitsA, b: limitsB },
  'handles-sender': symmetric(handlesSender),
  'handles-receiver': symmetric(handlesReceiver),
  'handles-home': symmetric(handlesHome),
  'handles-shortening': symmetric(handlesShortening),
  'handles-bounce': symmetric(bounce),
  'handles-everywhere': symmetric(everywhere),
  'null-prototype-objects': symmetric(nullPrototype),
  'disconnect-dropped': symmetric(dropped),
  heartbeat: symmetric(heartbeat),
  'disconnect-counting': symmetric(counting),
  'ending-orderly': { a: endingCloser, b: (role) => endingSurvivor(role, 'orderly') },
  'ending-lost': { a: endingLostExiter, b: (role) => endingSurvivor(role, 'lost') },
  'ending-exit': { a: endingExiter, b: (role) => endingSurvivor(role, 'orderly') },
  'kill-a': { a: doomed, b: survivor },
  'kill-b': { a: survivor, b: doomed },
}
