/**
 * The sending side's limit: bytes sent to a peer that does not read them wait in this process, up
 * to `maxUnsentBytes`; past it the link fails with LimitExceededError and what waited is dropped.
 * `sender.bufferedBytes` and `sender.drained()` let a producer keep under it. Real child processes
 * (stopped with SIGSTOP), no mocks.
 */
import { describe, expect, it } from 'vitest'
import { ConnectionLostError, LimitExceededError, channel, fork, type ChildProcessHandle } from 'ipfi'
import { within } from './support/async.js'
import { trackChildren } from './support/children.js'

const GUARD = 60_000
const MiB = 1024 * 1024
const track = trackChildren(GUARD)

/** A child that adds up the sizes of what it receives and sends the total once its receiver ends. */
function counter(options: { maxUnsentBytes?: number } = {}): ChildProcessHandle<Uint8Array, number> {
  return track(
    fork<Uint8Array, number>(
      async ({ receiver, sender }) => {
        let total = 0
        sender.send(0) // ready
        for await (const m of receiver) total += m.length
        sender.send(total)
      },
      { limits: options },
    ),
  )
}

/** Whether `p` settled by the time the event loop has turned `turns` times (not a timing assertion: a stopped peer never drains). */
async function settledSoon(p: Promise<unknown>, turns = 20): Promise<boolean> {
  let settled = false
  p.then(
    () => (settled = true),
    () => (settled = true),
  )
  for (let i = 0; i < turns && !settled; i++) await new Promise((r) => setTimeout(r, 5))
  return settled
}

describe('maxUnsentBytes: a peer that stopped reading cannot make this process hold unbounded memory', () => {
  it('a stopped child: sends pile up to the limit, then the link fails with LimitExceededError and drops them', async () => {
    const c = counter({ maxUnsentBytes: 16 * MiB })
    expect(await within(c.receiver.recv(), GUARD, 'the child to start')).toBe(0)
    process.kill(c.pid!, 'SIGSTOP')
    const block = new Uint8Array(MiB)
    let sent = 0
    let thrown: unknown = null
    try {
      for (; sent < 256; sent++) {
        c.sender.send(block)
        await new Promise((r) => setImmediate(r)) // let the batch go to the wire
      }
    } catch (e) {
      thrown = e
    }
    const cause = await within(c.link.closed, GUARD, 'the link to fail')
    expect(cause).toBeInstanceOf(LimitExceededError)
    expect((cause as Error).message).toMatch(/maxUnsentBytes/)
    expect(sent).toBeGreaterThanOrEqual(16)
    expect(sent).toBeLessThan(40)
    expect(thrown).toBeInstanceOf(ConnectionLostError) // the next send after the failure
    expect(c.link.unsentBytes).toBe(0) // what waited was dropped, not kept for a reader that never comes
    process.kill(c.pid!, 'SIGCONT')
  })

  it('the default limit (128 MiB) holds too: 256 MiB sent to a stopped child fail the link', { timeout: 120_000 }, async () => {
    const c = counter()
    expect(await within(c.receiver.recv(), GUARD, 'the child to start')).toBe(0)
    process.kill(c.pid!, 'SIGSTOP')
    const block = new Uint8Array(4 * MiB)
    try {
      for (let i = 0; i < 64; i++) {
        c.sender.send(block)
        await new Promise((r) => setImmediate(r))
      }
    } catch {
      /* the link failed */
    }
    expect(await within(c.link.closed, GUARD, 'the link to fail')).toBeInstanceOf(LimitExceededError)
    process.kill(c.pid!, 'SIGCONT')
  })
})

describe('sender.bufferedBytes and sender.drained()', () => {
  it('in process: nothing is ever buffered, drained() resolves at once', async () => {
    const [tx] = channel<number>()
    tx.send(1)
    expect(tx.bufferedBytes).toBe(0)
    await tx.drained()
  })

  it('a stopped child: bytes wait and drained() waits; once it runs again, they are written and drained() resolves', async () => {
    const c = counter()
    expect(await within(c.receiver.recv(), GUARD, 'the child to start')).toBe(0)
    process.kill(c.pid!, 'SIGSTOP')
    for (let i = 0; i < 8; i++) c.sender.send(new Uint8Array(MiB))
    const drained = c.sender.drained()
    expect(await settledSoon(drained)).toBe(false)
    expect(c.sender.bufferedBytes).toBeGreaterThan(4 * MiB) // a socket buffer holds far less than 8 MiB
    process.kill(c.pid!, 'SIGCONT')
    await within(drained, GUARD, 'drained() after the child runs again')
    expect(c.sender.bufferedBytes).toBe(0)
    c.sender.close()
    expect(await within(c.receiver.recv(), GUARD, 'the total')).toBe(8 * MiB)
  })

  it('a producer that waits for drained() past a mark of its own never reaches the limit, however much it sends', { timeout: 120_000 }, async () => {
    const c = counter({ maxUnsentBytes: 8 * MiB })
    expect(await within(c.receiver.recv(), GUARD, 'the child to start')).toBe(0)
    const block = new Uint8Array(256 * 1024)
    let peak = 0
    for (let i = 0; i < 800; i++) {
      // 200 MiB in all, 25 times the limit
      c.sender.send(block)
      peak = Math.max(peak, c.sender.bufferedBytes)
      if (c.sender.bufferedBytes > 2 * MiB) await c.sender.drained()
    }
    c.sender.close()
    expect(await within(c.receiver.recv(), GUARD, 'the total')).toBe(800 * block.length)
    expect(peak).toBeLessThan(8 * MiB)
    expect(c.link.cause).not.toBeInstanceOf(LimitExceededError) // open, or ended in order as the child exited
  })
})
