import { beforeAll, describe, expect, it } from 'vitest'
import { channel, connectWire, fork, memoryWirePair, type Receiver, type Sender } from 'ipfi'

const tick = () => new Promise((r) => setImmediate(r))

/**
 * Two sides of a link inside this process (each side has its own ports, as two processes would).
 * `reuse`: the wires deliver through one buffer they write over (what the link keeps, it copies).
 */
let reuse = false
function pair(chunk?: number) {
  const [wa, wb] = memoryWirePair({ chunk, reuse })
  return [connectWire<unknown, unknown>(wa), connectWire<unknown, unknown>(wb)] as const
}

async function settle(n = 20) {
  for (let i = 0; i < n; i++) await tick()
}

describe.each([false, true])('route shortening with embargoes (wire reuses its buffer: %s)', (reused) => {
  beforeAll(() => {
    reuse = reused
  })

  it('a receiver arriving where its sender lives makes that sender local, keeping order', async () => {
    const [a, b] = pair()
    const [tx, rx] = channel<number>()
    a.sender.send(tx) // B now sends to A over the link
    const s = (await b.receiver.recv()) as Sender<number>
    let n = 0
    const sending = (async () => {
      while (n < 300) {
        s.send(n++)
        if (n % 7 === 0) await tick()
      }
    })()
    await tick()
    a.sender.send(rx) // the receiver moves to B while B keeps sending
    const moved = (await b.receiver.recv()) as Receiver<number>
    await sending
    const got: number[] = []
    for (let i = 0; i < 300; i++) got.push(await moved.recv({ timeout: 5000 }))
    expect(got).toEqual(Array.from({ length: 300 }, (_, i) => i))
    await settle()
    // Nothing routes through A any more: only the bootstrap entries remain in A's tables.
    expect(a.link.stats).toEqual({ exports: 1, imports: 1, inbound: 0, outbound: 0, embargoed: 0 })
    expect(b.link.stats).toMatchObject({ imports: 1, inbound: 0, outbound: 0, embargoed: 0 })
    s.send(999)
    expect(await moved.recv()).toBe(999)
    a.close()
    s.send(1000) // the link is gone, the channel is local now
    expect(await moved.recv()).toBe(1000)
  })

  it('large messages in flight when the receiver moves are forwarded intact, in order', async () => {
    const [a, b] = pair(59_000)
    const [tx, rx] = channel<{ n: number; pad: string }>()
    a.sender.send(tx)
    const s = (await b.receiver.recv()) as Sender<{ n: number; pad: string }>
    const pad = (n: number) => String.fromCharCode(97 + (n % 26)).repeat(20_000)
    for (let n = 0; n < 40; n++) s.send({ n, pad: pad(n) })
    a.sender.send(rx) // these 40 are on their way to A, which forwards them back to B
    const moved = (await b.receiver.recv()) as Receiver<{ n: number; pad: string }>
    for (let n = 40; n < 60; n++) s.send({ n, pad: pad(n) })
    for (let n = 0; n < 60; n++) {
      const m = await moved.recv({ timeout: 5000 })
      expect(m.n).toBe(n)
      expect(m.pad === pad(n)).toBe(true)
    }
    a.close()
  })

  it('a receiver coming back to where it was forwards from keeps order, then needs no route', async () => {
    const [a, b] = pair(3)
    const [tx, rx] = channel<number>()
    let n = 0
    const sending = (async () => {
      while (n < 300) {
        tx.send(n++)
        if (n % 5 === 0) await tick()
      }
    })()
    a.sender.send(rx) // A -> B: A forwards to B
    const atB = (await b.receiver.recv()) as Receiver<number>
    const first = await atB.recv()
    b.sender.send(atB) // B -> A: back home, while A still sends
    const back = (await a.receiver.recv()) as Receiver<number>
    await sending
    const got = [first]
    for (let i = 1; i < 300; i++) got.push(await back.recv({ timeout: 5000 }))
    expect(got).toEqual(Array.from({ length: 300 }, (_, i) => i))
    await settle()
    expect(a.link.stats).toEqual({ exports: 1, imports: 1, inbound: 0, outbound: 0, embargoed: 0 })
    expect(b.link.stats).toEqual({ exports: 1, imports: 1, inbound: 0, outbound: 0, embargoed: 0 })
    b.close()
    tx.send(7)
    expect(await back.recv()).toBe(7)
    tx.close()
    await expect(back.recv()).rejects.toThrow(/every sender/)
  })

  it('once both ends of a channel are here, the process that handed them over may die', async () => {
    const middle = fork<string, { tx?: Sender<number>; rx?: Receiver<number> }>(async ({ receiver, sender, ipfi }) => {
      const [tx, rx] = ipfi.channel<number>()
      sender.send({ tx })
      await receiver.recv() // the parent has sent on tx meanwhile
      sender.send({ rx })
      await new Promise(() => setInterval(() => {}, 1000))
    })
    try {
      const { tx } = await middle.receiver.recv()
      tx!.send(1)
      tx!.send(2)
      middle.sender.send('go')
      const { rx } = await middle.receiver.recv()
      tx!.send(3)
      expect([await rx!.recv(), await rx!.recv(), await rx!.recv()]).toEqual([1, 2, 3])
      await settle()
      middle.kill('SIGKILL')
      await middle.exited
      await settle()
      expect(tx!.isDisconnected).toBe(false)
      tx!.send(4)
      expect(await rx!.recv()).toBe(4)
      tx!.close()
      await expect(rx!.recv()).rejects.toThrow(/every sender/)
    } finally {
      middle.kill('SIGKILL')
    }
  })
})
