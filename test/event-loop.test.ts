/**
 * Links hold the event loop only while someone waits (src/link/event-loop.ts): one handle, ref'ed
 * while a recv or select is pending and a link is open. A wait begins and ends per message
 * received, so that must cost nothing per link: the wires are never ref'ed or unref'ed per message
 * (with 1,000 links open, ref'ing each cost ~0.5 ms a message).
 */
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { setImmediate as turn } from 'node:timers/promises'
import { afterEach, describe, expect, it } from 'vitest'
import { channel, connectWire, memoryWirePair, type Connection } from 'ipfi'

const root = fileURLToPath(new URL('..', import.meta.url))
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

/** Run `body` (an ES module importing ipfi) in a process of its own: its exit code and output. */
function run(body: string): Promise<{ code: number | null; stdout: string }> {
  return new Promise((resolve) => {
    const p = execFile(process.execPath, ['--input-type=module', '--no-warnings', '-e', body], { cwd: root, timeout: 20_000 }, (_, stdout) =>
      resolve({ code: p.exitCode, stdout }),
    )
  })
}

/** A module that opens a link over memory wires. */
const LINK = `import { channel, connectWire, memoryWirePair } from 'ipfi'
  const openLink = () => { const [a, b] = memoryWirePair(); return [connectWire(a), connectWire(b)] }
  const [tx, rx] = channel()
  // A timer that holds nothing itself: only a wait can keep the process alive until it fires.
  setTimeout(() => tx.send('late'), 300).unref()
`

describe('links hold the event loop while someone waits', () => {
  it('1,000 receives that each wait, with 100 links open, touch no wire: each is unref\'ed once, when its link opens', async () => {
    const calls = countedLinks(50) // 100 wires
    expect(calls).toEqual({ ref: 0, unref: 100 })
    await turn()
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
    expect(calls).toEqual({ ref: 0, unref: 100 })
  })

  it('a pending recv keeps the process alive while a link is open; once it is answered, the process exits with the link still open', async () => {
    const r = await run(`${LINK}
      const link = openLink()
      console.log(await rx.recv())`)
    expect(r).toEqual({ code: 0, stdout: 'late\n' })
  })

  it('without any link, a recv on an in-process channel holds nothing (as a promise would not)', async () => {
    const r = await run(`${LINK}
      console.log(await rx.recv())`)
    expect(r.stdout).toBe('')
    expect(r.code).toBe(13) // Node's exit code for a top-level await that can never finish
  })

  it('a link that opens while a recv waits holds the process from then on; closing the last link lets it go', async () => {
    const opened = await run(`${LINK}
      const waiting = rx.recv()
      await new Promise((r) => setTimeout(r, 50)) // held by this timer alone
      const link = openLink() // now the pending recv holds the process
      console.log(await waiting)`)
    expect(opened).toEqual({ code: 0, stdout: 'late\n' })
    const closed = await run(`${LINK}
      const link = openLink()
      const waiting = rx.recv()
      setTimeout(() => { for (const c of link) c.close() }, 50)
      console.log(await waiting)`)
    expect(closed.stdout).toBe('')
    expect(closed.code).toBe(13)
  })

  it('a link whose wire ends as it starts holds nothing afterwards', async () => {
    const r = await run(`${LINK}
      const dead = { write() {}, close() {}, ref() {}, unref() {}, start(onData, onEnd) { onEnd(new Error('gone at once')) } }
      const link = connectWire(dead)
      console.log(await rx.recv())`)
    expect(r.stdout).toBe('')
    expect(r.code).toBe(13)
  })
})
