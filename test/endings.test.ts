/**
 * Nothing lost, nothing surprising: everything a child sent before it ended arrives, in order and
 * whole, however it ended; an orderly end (exit code 0, GOODBYE) ends channels as closed ones do,
 * and a loss (a failure, a signal) reports ConnectionLostError with the exit status and, for a
 * crash, the child's own error. Real processes, threads and sockets.
 */
import { spawn as spawnProcess } from 'node:child_process'
import os from 'node:os'
import path from 'node:path'
import { randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { ConnectionLostError, DisconnectedError, connect, fork, listen, spawn, spawnWorker, type Receiver } from 'ipfi'
import { within } from './support/async.js'
import { trackChildren } from './support/children.js'
import { expectOrderly } from './support/ends.js'

const GUARD = 60_000
const FIXTURE = fileURLToPath(new URL('./fixtures/send-then-end.mjs', import.meta.url))
const track = trackChildren(GUARD)
/** A fresh socket path in a private directory (listen() refuses a shared /tmp). */
const base = mkdtempSync(path.join(os.tmpdir(), 'ipfi-endings-'))
afterAll(() => rmSync(base, { recursive: true, force: true }))
const unixAddress = () => `unix:${path.join(base, randomUUID(), 'app.sock')}`

type Via = 'fork' | 'spawnWorker' | 'spawn + stdioLink' | 'connect'
type End = 'exit0' | 'exit3' | 'end' | 'throw' | 'reject' | 'hang'
const VIAS: Via[] = ['fork', 'spawnWorker', 'spawn + stdioLink', 'connect']

interface Started {
  receiver: Receiver<unknown>
  /** Ends the child the hard way (SIGKILL, or terminate() for a thread). */
  kill(): void
  /** The cause a loss should carry: the exit status for a child of ours; for a client, a message. */
  who: Record<string, number>
  done(): Promise<void>
}

/** Start the fixture over `via`; it sends `small` numbers, one array per size, 'last', then ends by `end`. */
async function start(via: Via, end: End, small: number, sizes: number[]): Promise<Started> {
  const args = [end, String(small), sizes.join(',')]
  if (via === 'fork') {
    const c = track(fork(FIXTURE, { args: ['fd', ...args], stdio: 'ignore' }))
    return { receiver: c.receiver, kill: () => c.kill('SIGKILL'), who: { pid: c.pid! }, done: () => c.exited.then(() => {}) }
  }
  if (via === 'spawnWorker') {
    const c = track(spawnWorker(FIXTURE, { argv: ['fd', ...args] }))
    return { receiver: c.receiver, kill: () => c.kill(), who: { threadId: c.threadId }, done: () => c.exited.then(() => {}) }
  }
  if (via === 'spawn + stdioLink') {
    const c = track(spawn(process.execPath, [FIXTURE, 'stdio', ...args], { stderr: 'ignore' }))
    return { receiver: c.receiver, kill: () => c.kill('SIGKILL'), who: { pid: c.pid! }, done: () => c.exited.then(() => {}) }
  }
  const server = await listen(unixAddress())
  const child = spawnProcess(process.execPath, [FIXTURE, 'connect', ...args, server.address], { stdio: 'ignore' })
  const exited = new Promise<void>((r) => child.once('exit', () => r()))
  const peer = await within(server.accept(), GUARD, 'the client to connect')
  return {
    receiver: peer.receiver,
    kill: () => child.kill('SIGKILL'),
    who: {},
    done: async () => {
      await exited
      await server.close()
    },
  }
}

/** Read until the channel ends: what arrived, and how it ended (null: the iteration ended normally). */
async function readAll(rx: Receiver<unknown>): Promise<{ got: unknown[]; end: unknown }> {
  const got: unknown[] = []
  try {
    for await (const m of rx) got.push(m)
    return { got, end: null }
  } catch (e) {
    return { got, end: e }
  }
}

/** Every message of the run, in order and whole. */
function expectRun(got: unknown[], small: number, sizes: number[]): void {
  expect(got.length, 'messages received').toBe(small + sizes.length + 1)
  for (let i = 0; i < small; i++) if (got[i] !== i) expect(got[i], `message ${i}`).toBe(i)
  sizes.forEach((size, k) => {
    const b = got[small + k] as Uint8Array
    expect(b).toBeInstanceOf(Uint8Array)
    expect(b.length).toBe(size)
    expect(b[0]).toBe(k + 1)
    expect(b[size - 1]).toBe(k + 1)
    expect(b.every((x) => x === k + 1)).toBe(true)
  })
  expect(got[got.length - 1]).toBe('last')
}

const MiB = 1024 * 1024

describe.each(VIAS)('a child over %s: what it sent before it ended arrives', (via) => {
  const small = 1000
  const sizes = [MiB]

  it.each(['exit0', 'end'] as const)('then %s: all of it, in order, and the channel ends as a closed one', async (end) => {
    const c = await start(via, end, small, sizes)
    const { got, end: how } = await within(readAll(c.receiver), GUARD, 'the run to arrive')
    expectRun(got, small, sizes)
    expect(how).toBeNull() // iteration ended normally
    const after = await c.receiver.recv().then(() => 'resolved', (e: unknown) => e)
    expectOrderly(after)
    expect((after as Error).message).toMatch(/exited with code 0/)
    expect(c.receiver.tryRecv()).toEqual({ ok: false, reason: 'disconnected' })
    await c.done()
  })

  it('then process.exit(3): all of it, then ConnectionLostError with the exit status', async () => {
    const c = await start(via, 'exit3', small, sizes)
    const { got, end } = await within(readAll(c.receiver), GUARD, 'the run to arrive')
    expectRun(got, small, sizes)
    expect(end).toBeInstanceOf(ConnectionLostError)
    expect((end as Error).message).toMatch(/exited with code 3/)
    if (via !== 'connect') expect((end as Error).cause).toEqual({ ...c.who, code: 3, signal: null })
    await c.done()
  })

  it.each([
    ['throw', 'uncaught exception: Error: thrown after sending'],
    ['reject', 'unhandled rejection: Error: rejected after sending'],
  ] as const)('then %s: all of it, then ConnectionLostError carrying the exit status and the error', async (end, said) => {
    const c = await start(via, end, small, sizes)
    const { got, end: how } = await within(readAll(c.receiver), GUARD, 'the run to arrive')
    expectRun(got, small, sizes)
    expect(how).toBeInstanceOf(ConnectionLostError)
    expect((how as Error).message).toContain(said.replace(/^\w+ \w+: /, ''))
    if (via !== 'connect') expect((how as Error).cause).toEqual({ ...c.who, code: 1, signal: null, reason: expect.stringContaining('after sending') })
    await c.done()
  })

  it('then SIGKILL (terminate() for a thread) after the run arrived: ConnectionLostError', async () => {
    const c = await start(via, 'hang', 10, [])
    for (let i = 0; i < 10; i++) expect(await within(c.receiver.recv(), GUARD, 'a message')).toBe(i)
    expect(await within(c.receiver.recv(), GUARD, 'the last message')).toBe('last')
    c.kill()
    const e = await within(c.receiver.recv().then(() => 'resolved', (x: unknown) => x), GUARD, 'the loss')
    expect(e).toBeInstanceOf(ConnectionLostError)
    if (via === 'fork' || via === 'spawn + stdioLink') expect((e as Error).cause).toEqual({ ...c.who, code: null, signal: 'SIGKILL' })
    if (via === 'spawnWorker') expect((e as Error).cause).toEqual({ ...c.who, code: 1, signal: null })
    await c.done()
  })
})

describe.each(VIAS)('large messages right before exit over %s', (via) => {
  it('1,000 small, 1 MiB, 50 MiB, then process.exit(0): all of it arrives', { timeout: 180_000 }, async () => {
    const sizes = [MiB, 50 * MiB]
    const c = await start(via, 'exit0', 1000, sizes)
    const { got, end } = await within(readAll(c.receiver), 120_000, 'the run to arrive')
    expectRun(got, 1000, sizes)
    expect(end).toBeNull()
    await c.done()
  })
})

describe('an orderly end is not an error', () => {
  it('a server loop over its peers needs no try/catch: a client that closes, and one that exits with code 0', async () => {
    const server = await listen<string, string>(unixAddress())
    const child = spawnProcess(process.execPath, [FIXTURE, 'connect', 'exit0', '3', '', server.address], { stdio: 'ignore' })
    const exited = new Promise((r) => child.once('exit', r))
    const seen: unknown[][] = []
    const serving = (async () => {
      for (let n = 0; n < 2; n++) {
        const peer = await server.accept()
        const got: unknown[] = []
        for await (const m of peer.receiver) got.push(m) // ends normally when the client goes in order
        seen.push(got)
      }
    })()
    const client = await connect<string, string>(server.address)
    await within(exited, GUARD, 'the child to exit')
    client.sender.send('from the client')
    client.close()
    await within(serving, GUARD, 'both peers to end')
    expect(seen.map((g) => g.join(' ')).sort()).toEqual(['0 1 2 last', 'from the client'])
    await server.close()
  })

  it('an orderly end and a loss, told apart by a DisconnectedError that is not a ConnectionLostError', async () => {
    const c = track(fork<never, number>(async ({ sender }) => sender.send(1)))
    expect(await c.receiver.recv()).toBe(1)
    const e = await c.receiver.recv().then(() => 'resolved', (x: unknown) => x)
    expect(e).toBeInstanceOf(DisconnectedError)
    expect(e).not.toBeInstanceOf(ConnectionLostError)
  })
})
