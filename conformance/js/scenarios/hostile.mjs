/**
 * The victim of every hostile scenario (kind "hostile" in scenarios.json): the runner writes raw
 * bytes at it; it must close only that link, with the error the scenario names, report the loss on
 * every handle that crossed it, and then (on a socket wire) serve a well-behaved second peer.
 */
import { channel, expose } from 'ipfi'
import { VALUES, ending, fromTagged } from '../lib/kit.mjs'

/** What the victim holds on a link before the attack: a pending recv on its inbox and on a channel whose sender it gave away. */
function arm(conn, { recvInbox = true } = {}) {
  const [tx, rx] = channel()
  conn.sender.send({ kind: 'victim', tx })
  const inbox = recvInbox ? conn.receiver.recv() : null
  const exported = rx.recv()
  inbox?.catch(() => {})
  exported.catch(() => {})
  return { inbox, exported, rx }
}

async function hostileSession(role, args) {
  const s = await role.session()
  if (args.phase === 'handshake') {
    const cause = s.rejected ?? (await role.within(s.conn.closed, 'the link to fail'))
    role.check(ending(cause) === args.error, `the link fails in the handshake with ${args.error}, got ${cause?.name}: ${cause?.message}`)
    if (s.conn) await role.rejects(s.conn.ready, args.error, 'the link never becomes ready')
    return
  }
  if (s.rejected) return role.fail(`the link did not open: ${s.rejected}`)
  const { conn } = s
  const armed = arm(conn, args)
  const cause = await role.within(conn.closed, 'the victim to close the link')
  role.check(ending(cause) === args.error, `the link closes with ${args.error}, got ${cause?.name}: ${cause?.message}`)
  if (armed.inbox) await role.rejects(armed.inbox, 'lost', 'a pending recv on the bootstrap inbox')
  else await role.rejects(drainAll(conn.receiver), 'lost', 'the bootstrap inbox, past what had arrived')
  await role.rejects(armed.exported, 'lost', 'a pending recv on a channel whose sender crossed the link')
  role.throws(() => conn.sender.send('after'), 'lost', 'a send on the bootstrap sender')
}

/** Receive until the channel ends (rejects with how it ended). */
async function drainAll(rx) {
  for (;;) await rx.recv()
}

/** The well-behaved peer's session (and hostile-tolerated): ping, pong, an orderly goodbye. */
async function pingPong(role, conn, armed) {
  let ping
  try {
    ping = await role.within(armed.inbox, "the peer's ping")
  } catch (e) {
    return role.fail(`no ping: ${e}`)
  }
  role.same(ping, 'ping', 'the ping arrives')
  conn.sender.send('pong')
  await role.rejects(conn.receiver.recv(), 'orderly', 'the bootstrap inbox after the peer said goodbye')
  await role.rejects(armed.exported, 'orderly', 'a channel whose sender crossed the link, after the goodbye')
  await role.within(conn.closed, 'the link to close')
}

async function healthySession(role) {
  const s = await role.session()
  if (s.rejected) return role.fail(`the second, well-behaved peer was not served: ${s.rejected}`)
  await pingPong(role, s.conn, arm(s.conn))
}

async function decode(role) {
  const { conn, rejected } = await role.session()
  if (rejected) return role.fail(`the link did not open: ${rejected}`)
  const armed = arm(conn)
  let first = true
  for (const [i, f] of VALUES.entries()) {
    for (const [j, hex] of [f.hex, ...(f.also ?? [])].entries()) {
      let got
      try {
        got = await role.within(first ? armed.inbox : conn.receiver.recv(), `fixture ${i} encoding ${j}`)
      } catch (e) {
        return role.fail(`fixture ${i} "${f.name}" encoding ${j} (${hex}) did not arrive: ${e}`)
      } finally {
        first = false
      }
      role.same(got, fromTagged(f.value), `fixture ${i} "${f.name}" from ${hex}`)
    }
  }
  await role.rejects(conn.receiver.recv(), 'orderly', 'the bootstrap inbox after the goodbye')
  await role.rejects(armed.exported, 'orderly', 'a channel whose sender crossed the link, after the goodbye')
}

/** The callee of the procedures-hostile scenarios: the runner opens sessions by hand and checks the answers. */
async function callee(role) {
  const { conn, rejected } = await role.session()
  if (rejected) return role.fail(`the link did not open: ${rejected}`)
  const endpoint = expose({ add: (x, y) => x + y, hang: () => new Promise(() => {}) })
  conn.sender.send({ kind: 'api', endpoint })
  await role.rejects(conn.receiver.recv(), 'orderly', 'the bootstrap inbox after the goodbye (the link stayed up)')
  await role.within(conn.closed, 'the link to close')
}

async function victim(role) {
  const args = role.args
  if (args.phase === 'decode') return decode(role)
  if (args.phase === 'callee') return callee(role)
  if (args.phase === 'tolerated') {
    const { conn, rejected } = await role.session()
    if (rejected) return role.fail(`the link did not open: ${rejected}`)
    return pingPong(role, conn, arm(conn))
  }
  await hostileSession(role, args)
  if (role.wire !== 'stdio') await healthySession(role)
}

export default { victim }
