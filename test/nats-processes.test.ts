/**
 * Links over NATS with real processes: a NATS link holds a process open no more than a socket link
 * does (an idle client exits; one waiting for a message or listening does not), and a listener
 * process killed with SIGKILL mid-call fails its clients' pending calls with ConnectionLostError
 * while new clients go to the listeners that remain.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { connect, ConnectionLostError, expose, fork, listen, remote, type Endpoint, type Peer } from 'ipfi'
import { rejection, sleep, within } from './support/async.js'
import { trackChildren } from './support/children.js'
import { startNatsServer } from './support/nats-server.js'

const SHORT = 15_000
const FIXTURE = fileURLToPath(new URL('./fixtures/nats-exit.mjs', import.meta.url))

let nats: Awaited<ReturnType<typeof startNatsServer>>
let names = 0
const address = () => `nats://${nats.hostPort}/procs.p${process.pid}.n${names++}`

beforeAll(async () => {
  nats = await startNatsServer()
})
afterAll(async () => {
  await nats?.close()
})

const spawned = new Set<ChildProcess>()
afterEach(() => {
  for (const c of spawned) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL')
  spawned.clear()
})

/** The fixture in `mode` at `at`: its lines as they come, and its exit. */
function run(mode: string, at: string) {
  const c = spawn(process.execPath, [FIXTURE, mode, at], { stdio: ['ignore', 'pipe', 'pipe'] })
  spawned.add(c)
  let out = ''
  let err = ''
  const waiters: { line: string; resolve: () => void }[] = []
  c.stdout!.on('data', (d) => {
    out += d
    for (const w of [...waiters]) if (out.split('\n').includes(w.line)) w.resolve()
  })
  c.stderr!.on('data', (d) => (err += d))
  const exited = new Promise<{ code: number | null; signal: string | null }>((r) => c.once('exit', (code, signal) => r({ code, signal })))
  return {
    child: c,
    exited,
    said: (line: string) =>
      within(
        new Promise<void>((resolve) => {
          if (out.split('\n').includes(line)) resolve()
          else waiters.push({ line, resolve })
        }),
        SHORT,
        `the child to say ${JSON.stringify(line)} (stdout: ${out}, stderr: ${err})`,
      ),
    output: () => ({ out, err }),
  }
}

describe('a NATS link holds the process open no more than a socket link does', () => {
  it.each(['nats', 'unix'] as const)('over %s: a client whose main code is done exits with the link open', async (kind) => {
    const server = await listen<string, never>(kind === 'nats' ? address() : `unix:${path.join(mkdtempSync(path.join(os.tmpdir(), 'ipfi-nats-exit-')), 's.sock')}`)
    const c = run('idle', server.address)
    const peer = await within(server.accept(), SHORT, 'the child to connect')
    peer.sender.send('one')
    await c.said('got one')
    expect(await within(c.exited, SHORT, `the idle client to exit (${JSON.stringify(c.output())})`)).toEqual({ code: 0, signal: null })
    await server.close()
  })

  it('a client waiting for a message stays alive until it comes, then exits', async () => {
    const server = await listen<string, never>(address())
    const c = run('waiting', server.address)
    const peer = await within(server.accept(), SHORT, 'the child to connect')
    await c.said('waiting')
    await sleep(1500) // had the wait not held it, it would have exited meanwhile (code 13: a top-level await never settled)
    expect(c.child.exitCode).toBe(null)
    peer.sender.send('late')
    await c.said('got late')
    expect(await within(c.exited, SHORT, 'the client to exit')).toEqual({ code: 0, signal: null })
    await server.close()
  })

  it('a listener stays alive while it listens, and exits once closed', async () => {
    const at = address()
    const c = run('listener', at)
    await c.said('listening')
    await sleep(1500)
    expect(c.child.exitCode).toBe(null)
    const peer = await connect<string, string>(at)
    expect(await within(peer.receiver.recv(), SHORT, 'the greeting')).toBe('hi')
    await sleep(500)
    expect(c.child.exitCode).toBe(null) // its client's link open, the listener too
    peer.sender.send('close')
    await c.said('closed')
    expect(await within(c.exited, SHORT, `the closed listener to exit (${JSON.stringify(c.output())})`)).toEqual({ code: 0, signal: null })
    peer.close()
  })

  it('a listener whose client closed its link and exited at once exits once closed (the unanswered end of the link holds nothing)', async () => {
    const at = address()
    const listener = run('serve-one', at)
    await listener.said('listening')
    const client = run('close-and-exit', at)
    expect(await within(client.exited, SHORT, 'the client to exit')).toEqual({ code: 0, signal: null })
    await listener.said('closed')
    expect(await within(listener.exited, SHORT, `the listener to exit (${JSON.stringify(listener.output())})`)).toEqual({ code: 0, signal: null })
  })
})

const track = trackChildren(SHORT)

describe('a listener process killed with SIGKILL mid-call', () => {
  it("its clients' pending calls fail with ConnectionLostError, the others' complete, and new clients go to the listeners that remain", { timeout: 90_000 }, async () => {
    const at = address()
    const listeners = [0, 1, 2].map(() =>
      track(
        fork<string, string>(
          async ({ data, ipfi: lib, sender }) => {
            const ipfi = lib as unknown as typeof import('ipfi')
            const server = await ipfi.listen<unknown, unknown>((data as { at: string }).at)
            const held: (() => void)[] = []
            sender.send('listening')
            for await (const peer of server) {
              peer.sender.send(
                ipfi.expose({
                  who: () => process.pid,
                  hold: (n: number) => new Promise<number>((r) => held.push(() => r(n))),
                  release: () => held.splice(0).forEach((f) => f()),
                  async *count(n: number) {
                    for (let i = 0; i < n; i++) {
                      yield i
                      if (i === 9) await new Promise<void>((r) => held.push(r)) // mid-stream until released
                    }
                  },
                }),
              )
            }
          },
          { data: { at } },
        ),
      ),
    )
    for (const l of listeners) expect(await within(l.receiver.recv(), SHORT, 'a listener to listen')).toBe('listening')
    type Api = { who(): number; hold(n: number): number; release(): void; count(n: number): AsyncIterable<number> }
    const open = async () => {
      const peer = await connect<never, Endpoint<never>>(at, { idleTimeoutMs: 3000, timeout: SHORT })
      const api = remote<Api>((await within(peer.receiver.recv(), SHORT, 'the endpoint')) as never)
      return { peer, api, pid: await api.who() }
    }
    const clients: { peer: Peer<never, Endpoint<never>>; api: ReturnType<typeof remote<Api>>; pid: number }[] = []
    for (let i = 0; i < 15; i++) clients.push(await open())
    const byPid = new Map<number, number>()
    for (const c of clients) byPid.set(c.pid, (byPid.get(c.pid) ?? 0) + 1)
    const victim = listeners.find((l) => (byPid.get(l.pid!) ?? 0) > 0)!
    const survivors = listeners.filter((l) => l !== victim).map((l) => l.pid!)

    // Each client: 5 calls held by the listener, and a stream stopped after 10 items.
    const outcomes = clients.map((c) => {
      const calls = [0, 1, 2, 3, 4].map((n) =>
        c.api.hold(n).then(
          (v) => ({ ok: true as const, v }),
          (e: unknown) => ({ ok: false as const, e }),
        ),
      )
      const items: number[] = []
      const stream = (async () => {
        try {
          for await (const i of c.api.count(20)) items.push(i)
          return { ok: true as const }
        } catch (e) {
          return { ok: false as const, e }
        }
      })()
      return { c, calls, stream, items }
    })
    // Every held call and the stream's first 10 items have reached their listener.
    await within(
      (async () => {
        while (outcomes.some((o) => o.items.length < 10)) await sleep(20)
      })(),
      SHORT,
      'every stream to reach item 10',
    )
    await sleep(200)
    victim.kill('SIGKILL')
    await within(victim.exited, SHORT, 'the victim to die')

    const onVictim = outcomes.filter((o) => o.c.pid === victim.pid)
    const others = outcomes.filter((o) => o.c.pid !== victim.pid)
    let failed = 0
    let said = ''
    for (const o of onVictim) {
      for (const r of await within(Promise.all(o.calls), SHORT, "a killed listener's client's calls to settle")) {
        expect(r.ok).toBe(false)
        expect((r as { e: unknown }).e).toBeInstanceOf(ConnectionLostError)
        said = ((r as { e: Error }).e).message
        failed++
      }
      const s = await within(o.stream, SHORT, "a killed listener's client's stream to settle")
      expect(s.ok).toBe(false)
      expect((s as { e: unknown }).e).toBeInstanceOf(ConnectionLostError)
      expect(o.items).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]) // what came, once, in order
      failed++
      expect(await rejection(o.c.api.who(), SHORT)).toBeInstanceOf(ConnectionLostError)
    }
    // The other listeners' clients: still linked; once released, every call answers and every stream ends.
    let completed = 0
    for (const o of others) {
      await o.c.api.release()
      await o.c.api.release() // the stream's hold may come after the calls'
    }
    for (const o of others) {
      const rs = await within(Promise.all(o.calls), SHORT, "a surviving listener's calls")
      expect(rs).toEqual([0, 1, 2, 3, 4].map((v) => ({ ok: true, v })))
      expect(await within(o.stream, SHORT, "a surviving listener's stream")).toEqual({ ok: true })
      expect(o.items).toEqual(Array.from({ length: 20 }, (_, i) => i))
      completed += 6
    }
    // New clients: all to the listeners that remain.
    const fresh: number[] = []
    for (let i = 0; i < 12; i++) {
      const c = await open()
      fresh.push(c.pid)
      c.peer.close()
    }
    expect(fresh.every((p) => survivors.includes(p))).toBe(true)
    expect(new Set(fresh).size).toBe(2)
    console.log(
      `listener killed mid-call: ${onVictim.length} of ${clients.length} clients on it, ${failed} calls and streams failed with ConnectionLostError, ` +
        `${completed} on the other listeners completed, none hung; ${fresh.length} new clients all went to the two that remain (${survivors.map((p) => fresh.filter((f) => f === p).length).join(' + ')}); the error: ${said}`,
    )
    for (const c of clients) c.peer.close()
  })
})
