/**
 * Links hold the event loop only while someone waits (src/link/event-loop.ts). A wait begins and
 * ends per message received; the wires of every link in the process must not be ref'ed and
 * unref'ed each time (with 1,000 links open that cost ~0.5 ms per message), only when waiting
 * starts while none are held, and once nobody has waited for a moment (about a millisecond).
 */
import { setImmediate as turn, setTimeout as sleep } from 'node:timers/promises'
import { afterEach, describe, expect, it } from 'vitest'
import { channel, connectWire, memoryWirePair, type Connection } from 'ipfi'

const open: Connection<unknown, unknown>[] = []
afterEach(async () => {
  for (const c of open.splice(0)) c.close()
  await turn()
})

/** `k` linked pairs over memory wires whose ref() and unref() calls are counted. */
function countedLinks(k: number) {
  const calls = { ref: 0, unref: 0 }
  for (let i = 0; i < k; i++) {
    for (const w of memoryWirePair()) {
      const ref = w.ref!.bind(w)
      const unref = w.unref!.bind(w)
      w.ref = () => (calls.ref++, ref())
      w.unref = () => (calls.unref++, unref())
      open.push(connectWire(w))
    }
  }
  return calls
}

describe('links hold the event loop while someone waits', () => {
  it('1,000 receives that each wait, in one stretch of traffic, ref every wire once, and unref them once after', async () => {
    const calls = countedLinks(50) // 100 wires
    await turn()
    const base = { ...calls }
    const [tx, rx] = channel<number>()
    const [backTx, backRx] = channel<number>()
    const echo = (async () => {
      for (;;) {
        let m: number
        try {
          m = await rx.recv()
        } catch {
          return backTx.close()
        }
        backTx.send(m)
      }
    })()
    for (let i = 0; i < 1000; i++) {
      tx.send(i)
      expect(await backRx.recv()).toBe(i) // each waits: the echo answers in a later microtask
    }
    tx.close()
    await echo
    expect(calls.ref - base.ref).toBe(100)
    await sleep(30)
    expect(calls.unref - base.unref).toBe(100) // let go once nothing waited for a moment
  })

  it('a wait that begins in a later turn refs the wires again; one left pending keeps them held', async () => {
    const calls = countedLinks(2)
    await turn()
    const [tx, rx] = channel<string>()
    const before = calls.ref
    const pending = rx.recv()
    expect(calls.ref - before).toBe(4)
    const unrefs = calls.unref
    await sleep(30)
    expect(calls.unref).toBe(unrefs) // still waiting: nothing let go
    tx.send('x')
    expect(await pending).toBe('x')
    await sleep(30)
    expect(calls.unref - unrefs).toBe(4)
  })
})
