/**
 * Streams people already use: a Receiver as a web ReadableStream or a Node Readable, a Sender as a
 * WritableStream (or, through Writable.fromWeb, a Node Writable) that waits for room; procedures
 * taking and giving web and Node streams, paced by their credit window. Through a real worker
 * thread and a real child process.
 */
import { createHash, randomBytes } from 'node:crypto'
import { createReadStream, createWriteStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { gunzipSync } from 'node:zlib'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable, Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { ConnectionLostError, channel, fork, remote, spawnWorker, type Endpoint } from 'ipfi'
import { collect, rejection, turn, within } from './support/async.js'
import { trackChildren } from './support/children.js'

const GUARD = 60_000
const track = trackChildren(GUARD)
const dir = mkdtempSync(join(tmpdir(), 'ipfi-streams-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex')

/** `n` chunks of `size` random bytes, as a Node Readable, and their digest. */
function source(n: number, size: number): { stream: Readable; digest: string; produced: () => number } {
  const chunks = Array.from({ length: n }, () => randomBytes(size))
  let produced = 0
  const stream = Readable.from(
    (function* () {
      for (const c of chunks) {
        produced++
        yield c
      }
    })(),
  )
  return { stream, digest: sha256(Buffer.concat(chunks)), produced: () => produced }
}

describe('channels as streams', () => {
  it('in process: a ReadableStream piped into a WritableStream, closing at the end', async () => {
    const [tx, rx] = channel<number>()
    const [tx2, rx2] = channel<number>()
    for (let i = 0; i < 5; i++) tx.send(i)
    tx.close()
    await rx.readable().pipeTo(tx2.writable())
    expect(await collect(rx2, GUARD)).toEqual([0, 1, 2, 3, 4])
  })

  it('a readable reads nothing ahead: a message is received only when the reader asks', async () => {
    const [tx, rx] = channel<number>()
    tx.send(1)
    tx.send(2)
    const reader = rx.readable().getReader()
    await turn()
    expect(rx.size).toBe(2) // nothing taken before the first read
    expect(await reader.read()).toEqual({ value: 1, done: false })
    await turn()
    expect(rx.size).toBe(1)
    await reader.cancel() // cancelling closes the receiver: the sender learns it
    expect(tx.isDisconnected).toBe(true)
  })

  it('web streams through a worker thread: piped out, transformed, piped back, in order and whole', async () => {
    const w = track(spawnWorker<Uint8Array, string>(async ({ receiver, sender }) => {
      for await (const chunk of receiver) sender.send(Buffer.from(chunk).toString('hex'))
      sender.close()
    }))
    const src = source(200, 4096)
    const out: string[] = []
    await within(
      Promise.all([
        Readable.toWeb(src.stream).pipeTo(w.sender.writable() as WritableStream<unknown> as WritableStream<Uint8Array>),
        w.receiver.readable().pipeTo(new WritableStream({ write: (s) => void out.push(s) })),
      ]),
      GUARD,
      'the round through the worker',
    )
    expect(sha256(Buffer.from(out.join(''), 'hex'))).toBe(src.digest)
  })

  it('Node streams through a child process: pipeline(Readable, Writable.fromWeb(tx.writable())) and Readable.from(rx) back', async () => {
    const c = track(fork<Uint8Array, Uint8Array>(fileURLToPath(new URL('./fixtures/echo.mjs', import.meta.url))))
    const src = source(256, 64 * 1024) // 16 MiB
    const back: Buffer[] = []
    await within(
      Promise.all([
        pipeline(src.stream, Writable.fromWeb(c.sender.writable() as WritableStream<unknown>, { objectMode: true })),
        pipeline(Readable.from(c.receiver), new Writable({ objectMode: true, write: (b, _, done) => (back.push(Buffer.from(b)), done()) })),
      ]),
      GUARD,
      'the round through the child',
    )
    expect(sha256(Buffer.concat(back))).toBe(src.digest)
  })

  it("a writable waits for room: a producer piped to a child that stopped reading stays within the link's buffers", async () => {
    // The child blocks its only thread right after saying so: it reads nothing from its socket.
    const c = track(fork<Uint8Array, string>(async ({ sender }) => {
      sender.send('blocking')
      await new Promise((r) => setTimeout(r, 50)) // the message is out
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0)
    }))
    expect(await within(c.receiver.recv(), GUARD, 'the child about to block')).toBe('blocking')
    const mark = 1024 * 1024
    const writer = c.sender.writable({ highWaterMark: mark }).getWriter()
    const chunk = Buffer.alloc(256 * 1024)
    let produced = 0
    let pending: Promise<void> | null = null
    let settled = false
    // Write until a write waits; at most 512 MiB (the link would fail at maxUnsentBytes, 128 MiB, first).
    while (produced < 512 * 1024 * 1024) {
      const w = writer.write(chunk)
      produced += chunk.length
      settled = false
      void w.then(() => (settled = true), () => (settled = true))
      await turn()
      if (!settled) {
        pending = w
        break
      }
    }
    expect(pending).not.toBeNull()
    // It waits, and stays waiting while the child reads nothing (the link did not fail).
    for (let i = 0; i < 20; i++) await turn()
    expect(settled).toBe(false)
    expect(c.link.isClosed).toBe(false)
    // What was taken is what the socket and the link hold: past the mark, within the kernel's buffers.
    expect(produced).toBeGreaterThan(mark)
    expect(produced).toBeLessThan(64 * 1024 * 1024)
    c.kill('SIGKILL')
    await rejection(pending!, GUARD, 'the waiting write once the child is gone').catch(() => {})
  })

  it("a readable errors with ConnectionLostError when the sender's process is killed, and closes at an orderly end", async () => {
    const c = track(fork<never, number>(async ({ sender }) => {
      sender.send(1)
      setInterval(() => {}, 1000)
    }))
    const reader = c.receiver.readable().getReader()
    expect(await within(reader.read(), GUARD, 'the first message')).toEqual({ value: 1, done: false })
    c.kill('SIGKILL')
    expect(await rejection(reader.read(), GUARD, 'a read after the kill')).toBeInstanceOf(ConnectionLostError)
    const [tx, rx] = channel<number>()
    tx.close()
    expect(await rx.readable().getReader().read()).toEqual({ value: undefined, done: true })
  })
})

describe('procedures with streams, paced by the credit window', () => {
  const window = 8
  async function fileProcedures() {
    const c = track(fork<never, Endpoint<unknown>>(fileURLToPath(new URL('./fixtures/file-procedures.mjs', import.meta.url))))
    const ep = await within(c.receiver.recv(), GUARD, 'the endpoint')
    return remote<{
      digest(chunks: AsyncIterable<Uint8Array>): AsyncIterable<{ consumed: number } | { sha256: string }>
      download(path: string, chunkBytes: number): AsyncIterable<Uint8Array>
      readAhead(): number
      gzip(chunks: AsyncIterable<Uint8Array>): AsyncIterable<Uint8Array>
    }>(ep, { window })
  }

  it('a Node Readable as a streamed argument, to a slow consumer in a child: never more than the window ahead', async () => {
    const r = await fileProcedures()
    const src = source(300, 16 * 1024)
    let worst = 0
    let digest = ''
    for await (const m of r.digest(src.stream)) {
      if ('consumed' in m) worst = Math.max(worst, src.produced() - m.consumed)
      else digest = m.sha256
    }
    expect(digest).toBe(src.digest)
    // Ahead of what the child consumed: at most the window in flight plus one the source has made;
    // a report of what it consumed comes back through the result stream, which may hold up to its
    // own window of them on the way. Without the credit it would be the whole source (300).
    expect(worst).toBeLessThanOrEqual(2 * window + 1)
    expect(worst).toBeGreaterThan(0)
  })

  it('a Node Readable returned by a procedure, read as a web ReadableStream by a slow reader: the file is read at most the window ahead', async () => {
    const r = await fileProcedures()
    const chunk = 16 * 1024
    const bytes = randomBytes(4 * 1024 * 1024)
    const path = join(dir, 'download.bin')
    writeFileSync(path, bytes)
    const got: Buffer[] = []
    let worst = 0
    const reader = ReadableStream.from(r.download(path, chunk)).getReader()
    for (;;) {
      const { value, done } = await reader.read()
      if (done) break
      got.push(Buffer.from(value))
      if (got.length % 16 === 0) {
        await new Promise((res) => setTimeout(res, 5)) // a slow reader
        const ahead = (await r.readAhead()) / chunk - got.length
        worst = Math.max(worst, ahead)
      }
    }
    expect(sha256(Buffer.concat(got))).toBe(sha256(bytes))
    // The window, plus what the file stream buffers (its highWaterMark: one chunk) and one in hand.
    expect(worst).toBeLessThanOrEqual(window + 2)
  })

  it("README's example: a file through a procedure in a child and back, gzipped, with pipeline()", async () => {
    const r = await fileProcedures()
    const input = join(dir, 'big.log')
    const output = join(dir, 'big.log.gz')
    writeFileSync(input, Buffer.from('a line of a log\n'.repeat(100_000)))
    await within(pipeline(Readable.from(r.gzip(createReadStream(input))), createWriteStream(output)), GUARD, 'the gzip round')
    expect(gunzipSync(readFileSync(output)).equals(readFileSync(input))).toBe(true)
  })

  it('a file piped through a procedure and back with pipeline(): a web stream in, a Node stream out', async () => {
    const r = await fileProcedures()
    const path = join(dir, 'roundtrip.bin')
    writeFileSync(path, randomBytes(2 * 1024 * 1024))
    const web = Readable.toWeb(createReadStream(path)) as unknown as AsyncIterable<Uint8Array>
    let sha = ''
    let reports = 0
    await pipeline(
      Readable.from(r.digest(web)),
      new Writable({ objectMode: true, write: (m: { consumed?: number; sha256?: string }, _, done) => ((m.sha256 ? (sha = m.sha256) : reports++), done()) }),
    )
    expect(sha).toBe(sha256(readFileSync(path)))
    expect(reports).toBeGreaterThan(0)
  })
})
