/**
 * Nothing leaks, and a peer costs only what it sends. Each test repeats a life cycle (a link, a
 * server client, a child) many times and measures the heap after forced garbage collection: after a
 * warm-up, a line fitted through the samples must be flat (its slope bounded in bytes per cycle, far
 * below what a leaked link costs, far above the noise of a busy machine). Memory is measured, never
 * time. Needs --expose-gc (vitest.config.ts).
 */
import net from 'node:net'
import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { DisconnectedError, OneShotServer, Sender, connect, connectWire, duplexWire, fork, listen, memoryWirePair, spawnWorker, type Connection } from 'ipfi'
import { within } from './support/async.js'
import { hello } from './support/raw-peer.js'

const gc = (globalThis as { gc?: () => void }).gc
const GUARD = 30_000
const KiB = 1024
const MiB = 1024 * KiB
const base = mkdtempSync(join(tmpdir(), 'ipfi-leaks-test-'))
afterAll(() => rmSync(base, { recursive: true, force: true }))

/** Heap in use once everything unreachable is gone: finalizers run between collections and free more. */
async function heapAfterGC(): Promise<number> {
  for (let i = 0; i < 4; i++) {
    gc!()
    await new Promise((r) => setTimeout(r, 5))
  }
  return process.memoryUsage().heapUsed
}

/** Least-squares slope of `ys` against `xs`. */
function slope(xs: number[], ys: number[]): number {
  const n = xs.length
  const mx = xs.reduce((a, b) => a + b, 0) / n
  const my = ys.reduce((a, b) => a + b, 0) / n
  let num = 0
  let den = 0
  for (let i = 0; i < n; i++) {
    num += (xs[i]! - mx) * (ys[i]! - my)
    den += (xs[i]! - mx) ** 2
  }
  return num / den
}

/**
 * Heap growth per cycle: `warmup` cycles first (code, caches and pools settle), then `samples`
 * samples `every` cycles apart. Returns the fitted slope in bytes per cycle, with the samples.
 */
async function growthPerCycle(cycle: () => Promise<void>, o: { warmup: number; every: number; samples: number }): Promise<{ perCycle: number; heap: string }> {
  for (let i = 0; i < o.warmup; i++) await cycle()
  const xs: number[] = []
  const ys: number[] = []
  for (let s = 0; s < o.samples; s++) {
    if (s > 0) for (let i = 0; i < o.every; i++) await cycle()
    xs.push(s * o.every)
    ys.push(await heapAfterGC())
  }
  return { perCycle: slope(xs, ys), heap: ys.map((y) => `${(y / MiB).toFixed(2)}`).join(' ') + ' MiB' }
}

describe.runIf(gc)('nothing leaks', () => {
  it('connectWire(): conn.close() on both sides frees both links (bootstrap sender and receiver left open)', { timeout: 120_000 }, async () => {
    const cycle = async () => {
      const [wa, wb] = memoryWirePair()
      const a: Connection<unknown, unknown> = connectWire(wa)
      const b: Connection<unknown, unknown> = connectWire(wb)
      await Promise.all([a.ready, b.ready])
      a.close('done')
      b.close()
      await Promise.all([a.closed, b.closed])
    }
    // A leaked link costs about 4 KiB of heap (and its 64 KiB write slab outside it): 8 KiB a cycle.
    const { perCycle, heap } = await growthPerCycle(cycle, { warmup: 300, every: 300, samples: 8 })
    expect(perCycle, `heap ${heap}`).toBeLessThan(1 * KiB)
  })

  it('listen()/connect(): Peer.close() on the server side frees the peer, its link, the client and the server', { timeout: 120_000 }, async () => {
    let i = 0
    const cycle = async () => {
      const server = await listen(`unix:${join(base, `s${i++ % 4}.sock`)}`)
      const client = await connect(server.address)
      const peer = await server.accept()
      peer.close('done')
      await Promise.all([peer.closed, client.closed])
      await server.close()
    }
    // A leaked server peer costs about 9 KiB a cycle (its link, and the Server its socket keeps).
    const { perCycle, heap } = await growthPerCycle(cycle, { warmup: 150, every: 50, samples: 8 })
    expect(perCycle, `heap ${heap}`).toBeLessThan(2 * KiB)
  })

  it('OneShotServer: once its one channel is gone on both sides, the link closes: no heap, no file descriptors left', { timeout: 120_000 }, async () => {
    const fds = () => readdirSync('/proc/self/fd').length
    const cycle = async () => {
      const server = await OneShotServer.create<string>()
      const tx = await Sender.connect<string>(server.name)
      tx.send('hi')
      const [rx, first] = await server.accept()
      if (first !== 'hi') throw new Error(`got ${first}`)
      tx.close()
      const end = await rx.recv().then(() => null, (e: unknown) => e)
      if (!(end instanceof DisconnectedError)) throw new Error(`the channel did not end: ${end}`)
      rx.close()
      await server.close()
    }
    for (let i = 0; i < 50; i++) await cycle()
    await heapAfterGC()
    const before = fds()
    // A leaked one-shot connection costs about 11 KiB and two file descriptors.
    const { perCycle, heap } = await growthPerCycle(cycle, { warmup: 50, every: 50, samples: 8 })
    await new Promise((r) => setTimeout(r, 50))
    expect(fds() - before, 'file descriptors left open').toBeLessThan(10)
    expect(perCycle, `heap ${heap}`).toBeLessThan(2 * KiB)
  })

  const child = fileURLToPath(new URL('./fixtures/send-one-and-return.mjs', import.meta.url))
  it.each([
    ['fork()', () => fork<never, string>(child)],
    ['spawnWorker()', () => spawnWorker<never, string>(child)],
  ])('%s: a child that exits while the parent never closes its ends leaves nothing behind', { timeout: 180_000 }, async (_, start) => {
    const cycle = async () => {
      const c = start() // not tracked: the tracking set would keep every handle alive
      try {
        expect(await c.receiver.recv({ timeout: GUARD })).toBe('work done')
        await within(c.exited, GUARD, 'the child to exit on its own')
        await within(c.link.closed, GUARD, 'the link to the child to close')
      } catch (e) {
        c.kill('SIGKILL')
        throw e
      }
    }
    // A leaked child costs about 10 KiB.
    const { perCycle, heap } = await growthPerCycle(cycle, { warmup: 20, every: 16, samples: 7 })
    expect(perCycle, `heap ${heap}`).toBeLessThan(3 * KiB)
  })
})

describe.runIf(gc)('a peer costs what it sends', () => {
  it('16 links each sent a header declaring 64 MiB and 1 byte of it hold kilobytes, not 1 GiB', { timeout: 60_000 }, async () => {
    const links: Connection<unknown, unknown>[] = []
    const server = net.createServer((socket) => links.push(connectWire(duplexWire(socket))))
    const path = join(base, 'headers.sock')
    await new Promise<void>((r) => server.listen(path, r))
    const bare = Buffer.from([0x04, 0, 0, 0, 0x02]) // length 64 MiB, then the first body byte
    const before = process.memoryUsage()
    const sockets: net.Socket[] = []
    try {
      for (let i = 0; i < 16; i++) {
        const s = net.connect(path)
        sockets.push(s)
        await new Promise((r) => s.once('connect', r))
        s.write(Buffer.concat([hello(), bare]))
      }
      await within(Promise.all(links.map((l) => l.ready)).then(() => links.length === 16 || Promise.reject(new Error('not 16 links'))), GUARD, '16 handshakes')
      await new Promise((r) => setTimeout(r, 200)) // let the headers in
      await heapAfterGC()
      const after = process.memoryUsage()
      // Untouched pages of an allocation are not resident: arrayBuffers counts what was allocated.
      const allocated = after.arrayBuffers - before.arrayBuffers
      const resident = after.rss - before.rss
      expect(links.every((l) => !l.link.isClosed)).toBe(true) // the frames are legal, only unfinished
      expect({ allocated: allocated < 32 * MiB, resident: resident < 256 * MiB }, `allocated ${(allocated / MiB).toFixed(1)} MiB, resident ${(resident / MiB).toFixed(1)} MiB`).toEqual({
        allocated: true,
        resident: true,
      })
    } finally {
      for (const s of sockets) s.destroy()
      for (const l of links) l.close()
      await new Promise((r) => server.close(r))
    }
  })
})
