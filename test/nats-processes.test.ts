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
})
