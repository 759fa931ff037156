/**
 * Every wait ipfi offers takes `{ timeout, signal }` and means the same by it: `recv`, `select`,
 * `Server.accept`, `OneShotServer.accept`. Giving up loses nothing (what comes later goes to the
 * next wait), leaves no listener on the signal, and an already aborted signal rejects at once.
 */
import { getEventListeners } from 'node:events'
import { afterAll, describe, expect, it } from 'vitest'
import { OneShotServer, ReceiverSet, Sender, TimeoutError, channel, connect, listen, type Server } from 'ipfi'
const GUARD = 15_000
import { rejection, sleep, within } from './support/async.js'

/** One kind of wait: `wait(options)` waits; `arrive()` makes the thing waited for come; `check(v)` says it came. */
interface Wait {
  wait(options?: { timeout?: number; signal?: AbortSignal }): Promise<unknown>
  arrive(): Promise<void>
  check(v: unknown): void
}

const cleanup: (() => unknown)[] = []
afterAll(async () => {
  for (const f of cleanup.reverse()) await f()
})

const waits: [string, () => Promise<Wait>][] = [
  [
    'recv',
    async () => {
      const [tx, rx] = channel<string>()
      return { wait: (o) => rx.recv(o), arrive: async () => tx.send('late'), check: (v) => expect(v).toBe('late') }
    },
  ],
  [
    'select',
    async () => {
      const [tx, rx] = channel<string>()
      const set = new ReceiverSet<string>()
      const id = set.add(rx)
      return { wait: (o) => set.select(o), arrive: async () => tx.send('late'), check: (v) => expect(v).toEqual([{ id, kind: 'message', value: 'late' }]) }
    },
  ],
  [
    'accept',
    async () => {
      const server: Server<unknown, unknown> = await listen('tcp://127.0.0.1:0')
      cleanup.push(() => server.close())
      return {
        wait: (o) => server.accept(o),
        arrive: async () => {
          const c = await connect(server.address)
          cleanup.push(() => c.close())
        },
        check: (v) => expect(v).toHaveProperty('link'),
      }
    },
  ],
  [
    'accept',
    async () => {
      const server = await OneShotServer.create<string>()
      cleanup.push(() => server.close())
      return {
        wait: (o) => server.accept(o),
        arrive: async () => {
          const tx = await Sender.connect<string>(server.name)
          tx.send('first')
          cleanup.push(() => tx.close())
        },
        check: (v) => expect((v as unknown[])[1]).toBe('first'),
      }
    },
  ],
]

describe.each(waits.map(([what, make], i) => ({ what, make, where: ['Receiver', 'ReceiverSet', 'Server', 'OneShotServer'][i] })))('$where.$what', ({ what, make }) => {
  it('times out with TimeoutError naming the wait, and what comes later goes to the next wait', async () => {
    const w = await make()
    const e = await rejection(w.wait({ timeout: 20 }), GUARD, `${what} with a timeout`)
    expect(e).toBeInstanceOf(TimeoutError)
    expect(e.message).toBe(`${what} timed out after 20 ms`)
    await w.arrive()
    w.check(await within(w.wait({ timeout: GUARD }), GUARD, `the next ${what}`))
  })

  it('ends with signal.reason when aborted, leaving no listener, and loses nothing', async () => {
    const w = await make()
    const ac = new AbortController()
    const pending = w.wait({ signal: ac.signal })
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(1)
    ac.abort('stop')
    expect(await rejection(pending, GUARD, `an aborted ${what}`)).toBe('stop')
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0)
    await w.arrive()
    w.check(await within(w.wait(), GUARD, `the next ${what}`))
  })

  it('rejects at once with the reason of a signal already aborted, without waiting', async () => {
    const w = await make()
    expect(await rejection(w.wait({ signal: AbortSignal.abort('before'), timeout: GUARD }), 1000, `a ${what} aborted before`)).toBe('before')
  })

  it('a wait that ended on its own lets go of its timer and its signal', async () => {
    const w = await make()
    const ac = new AbortController()
    const pending = w.wait({ signal: ac.signal, timeout: 60_000 })
    await w.arrive()
    w.check(await within(pending, GUARD, what))
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0)
    ac.abort('too late') // nothing to end any more
  })
})

describe('OneShotServer.accept', () => {
  it('one timeout covers the client connecting and its first message (it does not start again in between)', async () => {
    const server = await OneShotServer.create<string>()
    cleanup.push(() => server.close())
    const pending = server.accept({ timeout: 400 })
    await sleep(300)
    const tx = await Sender.connect<string>(server.name) // connected, with 100 ms of the timeout left
    cleanup.push(() => tx.close())
    const e = await rejection(pending, GUARD, 'the accept')
    expect(e).toBeInstanceOf(TimeoutError)
    expect(e.message).toBe('accept timed out after 400 ms')
    tx.send('first') // after the timeout: it goes to the next accept
    expect((await within(server.accept(), GUARD, 'the next accept'))[1]).toBe('first')
  })
})
