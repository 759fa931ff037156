import { describe, expect, it } from 'vitest'
import { Fifo } from '../src/link/fifo.js'
import { channel } from '../src/index.js'

const EMPTY = Symbol('empty')

describe('Fifo (a home port\'s queue)', () => {
  it('gives values back in order across chunk boundaries, pushed all at once', () => {
    const q = new Fifo<number>()
    for (let i = 0; i < 10_000; i++) q.push(i)
    expect(q.size).toBe(10_000)
    for (let i = 0; i < 10_000; i++) expect(q.shift(EMPTY)).toBe(i)
    expect(q.shift(EMPTY)).toBe(EMPTY)
    expect(q.size).toBe(0)
  })

  it('keeps order with pushes and shifts interleaved at every phase of the chunks', () => {
    const q = new Fifo<number>()
    let next = 0
    let expected = 0
    // Bursts of changing sizes, each drained only in part, so that reads and writes cross chunk ends at different points.
    for (let round = 0; round < 400; round++) {
      const burst = (round * 37) % 301
      for (let i = 0; i < burst; i++) q.push(next++)
      const take = (round * 53) % 257
      let wrong = 0
      for (let i = 0; i < take && q.size > 0; i++) if (q.shift(EMPTY) !== expected++) wrong++
      expect(wrong).toBe(0)
      expect(q.size).toBe(next - expected)
    }
    while (q.size > 0) expect(q.shift(EMPTY)).toBe(expected++)
    expect(expected).toBe(next)
    expect(q.shift(EMPTY)).toBe(EMPTY)
  })

  it('holds undefined as a value, told apart from empty by the sentinel', () => {
    const q = new Fifo<unknown>()
    q.push(undefined)
    q.push(null)
    expect(q.size).toBe(2)
    expect(q.shift(EMPTY)).toBe(undefined)
    expect(q.shift(EMPTY)).toBe(null)
    expect(q.shift(EMPTY)).toBe(EMPTY)
  })

  it('takeAll returns everything queued in order and leaves it empty; it fills again after', () => {
    const q = new Fifo<number>()
    for (let i = 0; i < 5000; i++) q.push(i)
    for (let i = 0; i < 1000; i++) q.shift(EMPTY)
    const all = q.takeAll()
    expect(all).toEqual(Array.from({ length: 4000 }, (_, i) => i + 1000))
    expect(q.size).toBe(0)
    expect(q.shift(EMPTY)).toBe(EMPTY)
    expect(q.takeAll()).toEqual([])
    q.push(7)
    expect(q.shift(EMPTY)).toBe(7)
  })

  it('an emptied queue keeps a small chunk for the next values and lets go of a large one', () => {
    const q = new Fifo<number>()
    const chunk = () => (q as unknown as { head: object | null }).head
    for (let i = 0; i < 10; i++) q.push(i)
    const small = chunk()
    while (q.size > 0) q.shift(EMPTY)
    expect(chunk()).toBe(small) // filled and emptied again: no new allocation
    q.push(1)
    expect(chunk()).toBe(small)
    q.shift(EMPTY)
    for (let i = 0; i < 5000; i++) q.push(i)
    while (q.size > 0) q.shift(EMPTY)
    expect(chunk()).toBe(null) // its last chunk held 2048 slots: let go
    q.push(9)
    expect(q.shift(EMPTY)).toBe(9)
  })

  it('a channel with 100,000 messages queued before the first receive gives them back in order', async () => {
    const [tx, rx] = channel<number>()
    for (let i = 0; i < 100_000; i++) tx.send(i)
    expect(rx.size).toBe(100_000)
    const got: number[] = []
    for (let i = 0; i < 50_000; i++) got.push(await rx.recv())
    for (let i = 100_000; i < 150_000; i++) tx.send(i)
    for (let i = 50_000; i < 150_000; i++) {
      const r = rx.tryRecv()
      got.push(r.ok ? r.value : -1)
    }
    expect(got).toEqual(Array.from({ length: 150_000 }, (_, i) => i))
    expect(rx.tryRecv()).toEqual({ ok: false, reason: 'empty' })
    tx.close()
    rx.close()
  })
})
