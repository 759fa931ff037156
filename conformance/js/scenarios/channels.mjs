/** The channel scenarios of conformance/scenarios.json: handshake and limits, handles, disconnects, endings, kills. */
import { Receiver, Sender, channel } from 'ipfi'
import { mailbox } from '../lib/kit.mjs'

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
  const conn = await role.open()
  await role.within(conn.ready, 'the handshake')
  const box = mailbox(role, conn.receiver)
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
  const conn = await role.open()
  await role.within(conn.ready, 'the handshake')
  const box = mailbox(role, conn.receiver)
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
  const conn = await role.open()
  const box = mailbox(role, conn.receiver)
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
  const conn = await role.open()
  const box = mailbox(role, conn.receiver)
  const [tx, rx] = channel()
  for (const s of ['q1', 'q2', 'q3']) tx.send(s)
  conn.sender.send({ kind: 'receiver', rx })
  await role.rejects(() => rx.recv(), 'HandleError', 'a moved receiver is unusable here')
  tx.send('a1')
  tx.send('a2')
  tx.close()
  const theirs = await box.next('receiver')
  role.check(theirs.rx instanceof Receiver, 'a Receiver arrives inside the message')
  await drain(role, theirs.rx, ['q1', 'q2', 'q3', 'a1', 'a2'], 'orderly', 'the moved receiver: its queue, then what was sent after the move')
  await role.finish(conn, box)
}

async function handlesHome(role) {
  const conn = await role.open()
  const box = mailbox(role, conn.receiver)
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

// ---- disconnect counting -----------------------------------------------------------------

async function counting(role) {
  const conn = await role.open()
  const box = mailbox(role, conn.receiver)
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

async function endingCloser(role) {
  const conn = await role.open()
  const box = mailbox(role, conn.receiver)
  const [tx, rx] = channel()
  conn.sender.send({ kind: 'sender', tx })
  const theirs = await box.next('sender')
  conn.sender.send({ kind: 'm', n: 1 })
  conn.sender.send({ kind: 'm', n: 2 })
  conn.close('the closer is done')
  await role.within(conn.closed, 'the link to close')
  await role.rejects(rx.recv(), 'orderly', 'our channel, whose sender crossed the closed link')
  role.throws(() => theirs.tx.send('late'), 'orderly', "a send on the peer's sender after the link closed")
  role.check((await box.ended) === 'orderly', 'our bootstrap channel ends in order')
}

async function endingSurvivor(role, end) {
  const conn = await role.open()
  const box = mailbox(role, conn.receiver)
  const [tx, rx] = channel()
  conn.sender.send({ kind: 'sender', tx })
  const theirs = await box.next('sender')
  role.check(theirs.tx instanceof Sender, "the peer's sender arrives")
  const m1 = await box.next('m')
  const m2 = await box.next('m')
  role.same([m1.n, m2.n], [1, 2], 'everything sent before the end arrives, in order')
  role.check((await role.within(box.ended, 'the bootstrap channel to end')) === end, `the bootstrap channel ends ${end}, got ${await box.ended} (${role.endError})`)
  await role.rejects(rx.recv(), end, 'our channel, whose sender was on the other side')
  role.throws(() => theirs.tx.send('late'), end, "a send on the peer's sender")
  await role.within(conn.closed, 'the link to close')
}

async function endingLostExiter(role) {
  const conn = await role.open()
  const box = mailbox(role, conn.receiver)
  const [tx, rx] = channel()
  conn.sender.send({ kind: 'sender', tx })
  role.keep(conn, rx, await box.next('sender'))
  conn.sender.send({ kind: 'm', n: 1 })
  conn.sender.send({ kind: 'm', n: 2 })
  // The reference writes what is queued at exit, then GOODBYE [reason, "ERR_IPFI_EXITED"].
  role.exitCode = 3
}

// ---- kill -9 -----------------------------------------------------------------------------

async function doomed(role) {
  const conn = await role.open()
  const box = mailbox(role, conn.receiver)
  const [tx, rx] = channel()
  conn.sender.send({ kind: 'sender', tx })
  const theirs = await box.next('sender')
  role.keep(conn, box, rx, theirs)
  await box.next('armed')
  role.mark('ready')
  await new Promise(() => setInterval(() => {}, 1000)) // until the runner kills this process
}

async function survivor(role) {
  const conn = await role.open()
  const box = mailbox(role, conn.receiver)
  const [tx, rx] = channel()
  conn.sender.send({ kind: 'sender', tx })
  const theirs = await box.next('sender')
  const pending = rx.recv()
  const next = box.next('never', 'the bootstrap receive to end')
  conn.sender.send({ kind: 'armed' })
  await role.rejects(pending, 'lost', 'a pending recv whose sender was in the killed process')
  await role.rejects(next.catch(() => Promise.reject(role.endError)), 'lost', 'the pending bootstrap recv')
  role.throws(() => theirs.tx.send('late'), 'lost', 'a send into the killed process')
  await role.within(conn.closed, 'the link to close')
}

export default {
  'handshake-limits': { a: limitsA, b: limitsB },
  'handles-sender': symmetric(handlesSender),
  'handles-receiver': symmetric(handlesReceiver),
  'handles-home': symmetric(handlesHome),
  'disconnect-counting': symmetric(counting),
  'ending-orderly': { a: endingCloser, b: (role) => endingSurvivor(role, 'orderly') },
  'ending-lost': { a: endingLostExiter, b: (role) => endingSurvivor(role, 'lost') },
  'kill-a': { a: doomed, b: survivor },
  'kill-b': { a: survivor, b: doomed },
}
