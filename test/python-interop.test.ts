/**
 * JavaScript to Python: a real Python process (python/tests/fixtures/py_peer.py, serving
 * `ipfi.stdio_link()` of the Python package in python/) started with `spawn()`. Every value of the
 * codec's table goes there and back; senders and receivers move both ways; the child's endings
 * (exit 0, exit 3, an uncaught exception, SIGKILL) arrive as they must. Needs `python3` on PATH:
 * without it these tests fail, they are never skipped.
 */
import { fileURLToPath, pathToFileURL } from 'node:url'
import { describe, expect, it } from 'vitest'
import { channel, ConnectionLostError, DisconnectedError, HandleError, Receiver, Sender, spawn, type ChildProcessHandle, type ExitCause } from 'ipfi'
import { rejection, within } from './support/async.js'
import { trackChildren } from './support/children.js'

const GUARD = 20_000
const peerScript = fileURLToPath(new URL('../python/tests/fixtures/py_peer.py', import.meta.url))
const tableModule = pathToFileURL(fileURLToPath(new URL('../python/tests/fixtures/values_table.mjs', import.meta.url))).href
const track = trackChildren(GUARD)

interface Table {
  table: Record<string, unknown>
  matches(name: string, v: unknown): boolean
}

type Py = ChildProcessHandle<any, any>

async function python(data?: unknown): Promise<{ py: Py; hello: any; stderr: () => string }> {
  const py = track(spawn<any, any>('python3', [peerScript], { data, stderr: 'pipe' }))
  let err = ''
  py.process.stderr!.on('data', (d) => (err += d))
  const hello = await within(py.receiver.recv(), GUARD, 'the Python child to greet')
  return { py, hello, stderr: () => err }
}

async function ask(py: Py, m: unknown): Promise<any> {
  py.sender.send(m)
  return within(py.receiver.recv(), GUARD, `an answer to ${JSON.stringify((m as { op: string }).op)}`)
}

async function collect<T>(rx: Receiver<T>): Promise<T[]> {
  const out: T[] = []
  for await (const v of rx) out.push(v)
  return out
}

describe('a Python peer over stdio (spawn of python3 running ipfi.stdio_link())', () => {
  it('greets with the data it was given; print() goes to stderr, not into the wire', async () => {
    const { py, hello, stderr } = await python({ n: 7, big: 2n ** 70n })
    expect(hello).toEqual({ hello: 'from python', data: { n: 7, big: 2n ** 70n }, pid: py.pid })
    expect(await ask(py, { op: 'print' })).toBe('printed')
    py.sender.close()
    expect((await within(py.exited, GUARD, 'the child to exit')).code).toBe(0)
    expect(stderr()).toContain('this line goes to stderr, not into the wire')
  })

  it('every value of the codec table goes to Python and comes back as itself', async () => {
    const { table, matches } = (await import(tableModule)) as Table
    const { py } = await python()
    for (const [name, value] of Object.entries(table)) {
      const back = await ask(py, { op: 'echo', value })
      expect(matches(name, back), name).toBe(true)
    }
    await py[Symbol.asyncDispose]()
  })

  it('moves senders both ways', async () => {
    const { py } = await python()
    const [tx, rx] = channel<string>()
    py.sender.send({ op: 'reply', to: tx, value: 'pong' })
    expect(() => tx.send('x')).toThrow(HandleError)
    expect(await within(rx.recv(), GUARD, 'the reply')).toBe('pong')
    const end = await rejection(rx.recv(), GUARD)
    expect(end).toBeInstanceOf(DisconnectedError)
    expect(end).not.toBeInstanceOf(ConnectionLostError)

    const { tx: toPython } = await ask(py, { op: 'give-sender' })
    expect(toPython).toBeInstanceOf(Sender)
    toPython.send(1)
    toPython.send({ nested: new Map([[1, new Set(['a'])]]) })
    toPython.close()
    expect((await within(py.receiver.recv(), GUARD, 'the report')).collected).toEqual({ got: [1, { nested: new Map([[1, new Set(['a'])]]) }], end: 'disconnected' })
    await py[Symbol.asyncDispose]()
  })

  it('moves receivers both ways, with their queues, and later messages follow', async () => {
    const { py } = await python()
    const [tx, rx] = channel<unknown>()
    const [outTx, outRx] = channel<unknown>()
    tx.send('q1')
    tx.send({ q: 2 })
    py.sender.send({ op: 'drain', from: rx, to: outTx })
    tx.send('a1')
    tx.close()
    expect(await within(collect(outRx), GUARD, 'the drained messages')).toEqual(['q1', { q: 2 }, 'a1', { end: 'disconnected' }])

    const { rx: fromPython } = await ask(py, { op: 'give-receiver', before: [1, 'two'], after: [{ three: 3 }] })
    expect(fromPython).toBeInstanceOf(Receiver)
    expect(await within(collect(fromPython as Receiver<unknown>), GUARD, 'the moved queue')).toEqual([1, 'two', { three: 3 }])
    await py[Symbol.asyncDispose]()
  })

  it('a sender sent back home is local again, and a receiver sent to a holder of its sender loses nothing', async () => {
    const { py } = await python()
    const before = py.link.stats
    const pyBefore = await ask(py, { op: 'stats' })
    const [tx, rx] = channel<string>()
    const { returned } = await ask(py, { op: 'return', handle: tx })
    returned.send('home')
    expect(rx.tryRecv()).toEqual({ ok: true, value: 'home' }) // delivered in process: no detour through Python
    returned.close()

    const [tx2, rx2] = channel<string>()
    expect(await ask(py, { op: 'hold', value: tx2.clone() })).toBe('held')
    tx2.send('q1')
    const [outTx, outRx] = channel<unknown>()
    py.sender.send({ op: 'drain', from: rx2, to: outTx })
    expect(await ask(py, { op: 'send-held', value: 'from python' })).toBe('sent')
    expect(await ask(py, { op: 'release-held' })).toBe('released')
    tx2.send('a1')
    tx2.close()
    const got = await within(collect(outRx), GUARD, 'the drained messages')
    expect(got[0]).toBe('q1')
    expect(new Set(got.slice(1, 3))).toEqual(new Set(['a1', 'from python']))
    expect(got.slice(3)).toEqual([{ end: 'disconnected' }])
    // Both sides' tables are back to what the link began with (the releases may still be on their way).
    for (let i = 0; i < 100; i++) {
      const now = await ask(py, { op: 'stats' })
      if (JSON.stringify(now) === JSON.stringify(pyBefore) && JSON.stringify(py.link.stats) === JSON.stringify(before)) break
      await new Promise((r) => setTimeout(r, 20))
    }
    expect(await ask(py, { op: 'stats' })).toEqual(pyBefore)
    expect(py.link.stats).toEqual(before)
    await py[Symbol.asyncDispose]()
  })

  it('a child that exits with code 0 ends its channels in order; code 3 and an uncaught exception lose them', async () => {
    let { py } = await python()
    py.sender.send({ op: 'exit', code: 0 })
    expect(await within(collect(py.receiver), GUARD, 'the end')).toEqual([])
    expect((await py.exited).code).toBe(0)

    ;({ py } = await python())
    py.sender.send({ op: 'exit', code: 3 })
    let e = await rejection(py.receiver.recv(), GUARD)
    expect(e).toBeInstanceOf(ConnectionLostError)
    expect((e.cause as ExitCause).code).toBe(3)

    ;({ py } = await python())
    py.sender.send({ op: 'echo', value: 'last words' })
    py.sender.send({ op: 'crash' })
    expect(await within(py.receiver.recv(), GUARD, 'what was sent before the crash')).toBe('last words')
    e = await rejection(py.receiver.recv(), GUARD)
    expect(e).toBeInstanceOf(ConnectionLostError)
    expect((e.cause as ExitCause).code).toBe(1)
    expect((e.cause as ExitCause).reason).toBe('uncaught exception: ValueError: boom')
  })

  it('kill -9: a pending receive fails with ConnectionLostError naming the signal; senders into the child fail too', async () => {
    const { py } = await python()
    const { tx } = await ask(py, { op: 'give-sender' })
    const pending = py.receiver.recv()
    py.sender.send({ op: 'kill-self' })
    const e = await rejection(pending, GUARD)
    expect(e).toBeInstanceOf(ConnectionLostError)
    expect((e.cause as ExitCause).signal).toBe('SIGKILL')
    await py.link.closed
    expect(() => tx.send(1)).toThrow(ConnectionLostError)
  })
})
