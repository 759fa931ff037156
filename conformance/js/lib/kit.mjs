/**
 * What every JS role shares: the command line, opening the link on the wire it was given, checks
 * that record failures instead of stopping at the first, the bootstrap mailbox, the finish, and the
 * verdict on fd 3 (conformance/README.md, "The role contract").
 */
import { readFileSync, writeSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { inspect } from 'node:util'
import { ConnectionLostError, DisconnectedError, connect, connectWire, duplexWire, listen } from 'ipfi'
import { difference, fromTagged } from './tagged.mjs'

const here = (p) => fileURLToPath(new URL(p, import.meta.url))
export const SCENARIOS = JSON.parse(readFileSync(here('../../scenarios.json'), 'utf8'))
export const VALUES = JSON.parse(readFileSync(here('../../values.json'), 'utf8')).fixtures

/** A wait that could hang is bounded by this (a hang guard, never a timing assertion). */
export const GUARD_MS = 30_000

export class HangGuard extends Error {
  name = 'HangGuard'
}

/** How a failure is named in checks: 'orderly' and 'lost' for the two endings, else the error's name. */
export function ending(e) {
  if (e instanceof ConnectionLostError) return 'lost'
  if (e instanceof DisconnectedError) return 'orderly'
  if (e instanceof Error) return e.name
  return `a non-Error ${inspect(e)}`
}

const describe = (e) => (e instanceof Error ? `${e.name}: ${e.message}` : inspect(e, { depth: 3 }))

export class Role {
  constructor({ scenario, role, wire, address }) {
    this.scenario = scenario
    this.role = role
    this.wire = wire
    this.address = address
    this.spec = scenario.kind === 'hostile' ? scenario.victim : scenario.roles[role]
    this.args = this.spec.args ?? {}
    this.limits = this.spec.limits ?? {}
    /** Other link options (idleTimeoutMs). */
    this.linkOptions = this.spec.link ?? {}
    this.secret = process.env.IPFI_CONFORMANCE_SECRET || undefined
    this.failures = []
    this.checks = 0
    this.exitCode = 0
    this.server = null
    this.sessions = []
    this.sessionWaiters = []
  }

  /**
   * Hold on to handles for the life of the process. A handle dropped without close() is closed
   * when collected (ARCHITECTURE.md), which a side waiting to be killed must not do meanwhile.
   */
  keep(...things) {
    ;(this.kept ??= []).push(...things)
  }

  // ---- reporting -------------------------------------------------------------------------

  /** One line of JSON on fd 3 (the control channel). */
  emit(event) {
    writeSync(3, JSON.stringify(event) + '\n')
  }

  mark(name) {
    this.emit({ mark: name })
  }

  log(...args) {
    process.stderr.write(`[${this.scenario.name}.${this.role}] ${args.map((a) => (typeof a === 'string' ? a : inspect(a, { depth: 4 }))).join(' ')}\n`)
  }

  fail(what) {
    this.failures.push(what)
    this.log('FAIL', what)
  }

  check(cond, what) {
    this.checks++
    if (!cond) this.fail(what)
    return !!cond
  }

  /** `actual` is `expected` (a JS value) as the protocol carries values. */
  same(actual, expected, what) {
    this.checks++
    const d = difference(actual, expected)
    if (d) this.fail(`${what}: ${d}`)
    return !d
  }

  sameTagged(actual, tagged, what) {
    return this.same(actual, fromTagged(tagged), what)
  }

  verdict(extra = {}) {
    const pass = this.failures.length === 0
    this.emit({ verdict: pass ? 'pass' : 'fail', checks: this.checks, failures: this.failures, ...extra })
    return pass
  }

  // ---- waiting ---------------------------------------------------------------------------

  within(p, what, ms = GUARD_MS) {
    let timer
    const guard = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new HangGuard(`hang guard: ${what} did not happen within ${ms} ms`)), ms)
    })
    return Promise.race([p, guard]).finally(() => clearTimeout(timer))
  }

  /** `p` (or what `p()` returns) must reject (or throw) with `kind` (see `ending`). Returns the error. */
  async rejects(p, kind, what) {
    this.checks++
    let value
    try {
      value = await this.within(typeof p === 'function' ? Promise.resolve().then(p) : p, what)
    } catch (e) {
      if (e instanceof HangGuard) {
        this.fail(e.message)
        return e
      }
      if (ending(e) !== kind) this.fail(`${what}: expected ${kind}, got ${describe(e)}`)
      return e
    }
    this.fail(`${what}: expected ${kind}, but it gave ${inspect(value, { depth: 2 })}`)
    return undefined
  }

  /** `f()` must throw `kind` synchronously. */
  throws(f, kind, what) {
    this.checks++
    try {
      f()
    } catch (e) {
      if (ending(e) !== kind) this.fail(`${what}: expected ${kind}, got ${describe(e)}`)
      return e
    }
    this.fail(`${what}: expected it to throw ${kind}`)
    return undefined
  }

  /** Poll `f` (async) until it returns truthy, each try after `ms`; a hang guard, not a timing check. */
  async eventually(f, what, { tries = 500, ms = 20 } = {}) {
    let last
    for (let i = 0; i < tries; i++) {
      last = await f()
      if (last) return last
      await new Promise((r) => setTimeout(r, ms))
    }
    this.fail(`${what}: still not so after ${tries} tries`)
    return last
  }

  // ---- the link --------------------------------------------------------------------------

  /** Open the link on this role's wire. Returns { sender, receiver, link, ready, closed, close }. */
  async open() {
    const limits = this.limits
    if (this.wire === 'stdio') {
      const wire = duplexWire(process.stdout, { input: process.stdin })
      return connectWire(wire, { name: 'stdio', ...limits, ...this.linkOptions })
    }
    if (this.wire === 'connect') {
      return asConn(await connect(this.address, { secret: this.secret, limits, timeout: GUARD_MS, ...this.linkOptions }))
    }
    if (this.wire === 'listen') {
      const s = await this.session()
      if (s.rejected) throw s.rejected
      return s.conn
    }
    throw new Error(`unknown wire ${this.wire}`)
  }

  /**
   * For a listening role: listen (once), announce the address on fd 3, and queue every client in
   * the order it came: linked ({ conn }) or turned away before it became a peer ({ rejected }).
   */
  async listening() {
    if (this.server) return
    const arrived = (s) => {
      const w = this.sessionWaiters.shift()
      if (w) w(s)
      else this.sessions.push(s)
    }
    this.server = await listen(this.address, {
      secret: this.secret,
      limits: this.limits,
      handshakeTimeoutMs: GUARD_MS,
      ...this.linkOptions,
      onReject: (error) => arrived({ rejected: error }),
    })
    this.emit({ listening: this.server.address })
    ;(async () => {
      for await (const peer of this.server) arrived({ conn: asConn(peer) })
    })().catch((e) => this.fail(`accepting clients: ${describe(e)}`))
  }

  /**
   * The next session: { conn } once linked, or { rejected: error } when the link failed before it was
   * up (connect() rejected; for a listening role, the client was turned away and never accepted).
   */
  async session() {
    if (this.wire !== 'listen') {
      try {
        return { conn: await this.open() }
      } catch (e) {
        return { rejected: e }
      }
    }
    await this.listening()
    if (this.sessions.length) return this.sessions.shift()
    return this.within(new Promise((resolve) => this.sessionWaiters.push(resolve)), 'the next client')
  }

  /** The common end: close the bootstrap sender, drain the mailbox to its orderly end, close the link. */
  async finish(conn, box) {
    conn.sender.close()
    const end = await this.within(box.ended, 'the peer to finish (its bootstrap sender to close)')
    this.check(end === 'orderly', `the bootstrap channel ends in order, got ${end}`)
    this.check(box.unread.length === 0, `no unexpected messages, got ${inspect(box.unread.map((m) => m.kind ?? m))}`)
    conn.close('done')
    await this.within(conn.closed, 'the link to close')
  }

  async closeServer() {
    if (this.server) await this.within(this.server.close(), 'the server to close')
  }
}

function asConn(peer) {
  return {
    sender: peer.sender,
    receiver: peer.receiver,
    link: peer.link,
    ready: Promise.resolve(),
    closed: peer.closed,
    close: (reason) => peer.close(reason),
  }
}

/**
 * The bootstrap mailbox: reads the bootstrap receiver and hands each message to whoever waits for
 * its `kind`. `ended` resolves with how the channel ended ('orderly', 'lost', or an error name).
 */
export function mailbox(role, receiver) {
  const queued = []
  const waiters = []
  let end = null
  let onEnd
  const ended = new Promise((r) => (onEnd = r))
  const deliver = () => {
    for (let i = 0; i < waiters.length; i++) {
      const w = waiters[i]
      const j = queued.findIndex((m) => m && m.kind === w.kind)
      if (j >= 0) {
        waiters.splice(i--, 1)
        w.resolve(queued.splice(j, 1)[0])
      } else if (end !== null) {
        waiters.splice(i--, 1)
        w.reject(new Error(`the bootstrap channel ended (${end}) before a '${w.kind}' message came`))
      }
    }
  }
  ;(async () => {
    for (;;) {
      try {
        queued.push(await receiver.recv())
      } catch (e) {
        end = ending(e)
        role.endError = e
        onEnd(end)
        deliver()
        return
      }
      deliver()
    }
  })()
  return {
    next(kind, what = `a '${kind}' message`) {
      return role.within(
        new Promise((resolve, reject) => {
          waiters.push({ kind, resolve, reject })
          deliver()
        }),
        what,
      )
    },
    ended,
    get unread() {
      return queued
    },
  }
}

/** The role's link, opened, with its bootstrap mailbox. */
export async function opened(role) {
  const conn = await role.open()
  return { conn, box: mailbox(role, conn.receiver) }
}

export { fromTagged, difference }
