/**
 * Seeing what happens: `NODE_DEBUG=ipfi` lines, diagnostics_channel events (`ipfi:link:open`,
 * `ipfi:link:close`, `ipfi:message:sent`, `ipfi:message:received`, the TracingChannel `ipfi:call`),
 * and `link.traffic`. Over real worker threads and child processes.
 */
import { execFile } from 'node:child_process'
import * as dc from 'node:diagnostics_channel'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterEach, describe, expect, it } from 'vitest'
import { ConnectionLostError, channel, remote, spawnWorker, type Receiver, type CallTraceContext, type Endpoint, type LinkTraceEvent, type MessageTraceEvent } from 'ipfi'
import { rejection, until, within } from './support/async.js'
import { trackChildren } from './support/children.js'

const GUARD = 60_000
const track = trackChildren(GUARD)
const run = promisify(execFile)

/** A worker exposing echo, fail and count; its endpoint is its first message. */
function worker() {
  return track(
    spawnWorker<never, Endpoint>(async ({ sender, ipfi }) => {
      sender.send(
        ipfi.expose({
          echo: (x: unknown) => x,
          fail: () => {
            throw Object.assign(new Error('no such thing'), { code: 'E_NOPE' })
          },
          async *count(n: number) {
            for (let i = 0; i < n; i++) {
              yield i
              await new Promise((r) => setTimeout(r, 20)) // so the stream's end comes well after its first item
            }
          },
          hang: () => new Promise(() => {}),
        }),
      )
    }),
  )
}

const unsubscribe: (() => void)[] = []
afterEach(() => {
  for (const u of unsubscribe.splice(0)) u()
})
function listen<T>(name: string): T[] {
  const seen: T[] = []
  const f = (m: unknown) => seen.push(m as T)
  dc.subscribe(name, f)
  unsubscribe.push(() => dc.unsubscribe(name, f))
  return seen
}

describe('diagnostics_channel', () => {
  it('ipfi:link:open and ipfi:link:close tell each link opened (with the peer limits) and closed (with why, and whether in order)', async () => {
    const opened = listen<LinkTraceEvent>('ipfi:link:open')
    const closed = listen<LinkTraceEvent>('ipfi:link:close')
    const w = worker()
    await w.link.ready
    const mine = opened.find((e) => e.link === w.link)
    expect(mine).toBeDefined()
    expect(mine!.name).toBe(w.link.name)
    expect(mine!.peerLimits).toMatchObject({ maxFrameBytes: expect.any(Number), maxHandlesPerMessage: expect.any(Number) })
    expect(closed.filter((e) => e.link === w.link)).toEqual([])
    ;(await w.receiver.recv()).close() // the worker's endpoint: nothing else will come
    w.kill()
    await until(() => closed.some((e) => e.link === w.link), 10_000, 'the close event')
    const end = closed.filter((e) => e.link === w.link)
    expect(end).toHaveLength(1)
    expect(end[0]!.orderly).toBe(false)
    // A lost child's cause is its exit record (what handles on the link report inside their ConnectionLostError).
    expect(end[0]!.cause).toMatchObject({ threadId: w.threadId, signal: null })
    await expect(w.receiver.recv()).rejects.toBeInstanceOf(ConnectionLostError)
  })

  it('ipfi:message:sent and ipfi:message:received give one event per message, with its payload size and handles', async () => {
    const sent = listen<MessageTraceEvent>('ipfi:message:sent')
    const received = listen<MessageTraceEvent>('ipfi:message:received')
    const w = worker()
    const endpoint = await w.receiver.recv()
    const inbound = received.filter((e) => e.link === w.link)
    expect(inbound).toHaveLength(1)
    expect(inbound[0]!.handles).toBe(1) // the endpoint is a handle
    const api = remote<{ echo(x: unknown): unknown }>(endpoint)
    endpoint.close()
    const before = sent.filter((e) => e.link === w.link).length
    expect(await api.echo('x'.repeat(1000))).toHaveLength(1000)
    const out = sent.filter((e) => e.link === w.link).slice(before)
    expect(out.some((e) => e.bytes > 1000 && e.handles === 0)).toBe(true)
    api[Symbol.dispose]()
    await w[Symbol.asyncDispose]()
  })

  it('the TracingChannel ipfi:call sees a call start, end and settle, with its name and duration, and the error of a failed one', async () => {
    const events: [string, CallTraceContext][] = []
    const tc = dc.tracingChannel('ipfi:call')
    const handlers = Object.fromEntries(
      (['start', 'end', 'asyncStart', 'asyncEnd', 'error'] as const).map((k) => [k, (ctx: unknown) => events.push([k, { ...(ctx as CallTraceContext) }])]),
    ) as unknown as dc.TracingChannelSubscribers<object>
    tc.subscribe(handlers)
    unsubscribe.push(() => tc.unsubscribe(handlers))

    const w = worker()
    const endpoint = await w.receiver.recv()
    const api = remote<{ echo(x: number): number; fail(): void; count(n: number): AsyncIterable<number>; hang(): Promise<void> }>(endpoint)
    endpoint.close()
    expect(await api.echo(7)).toBe(7)
    expect(events.map(([k, c]) => [k, c.procedure])).toEqual([
      ['start', 'echo'],
      ['end', 'echo'],
      ['asyncStart', 'echo'],
      ['asyncEnd', 'echo'],
    ])
    const settled = events[2]![1]
    expect(settled.result).toBe(7)
    expect(settled.durationMs).toBeGreaterThanOrEqual(0)
    expect(settled.error).toBeUndefined()

    events.length = 0
    const e = await rejection(api.fail(), GUARD)
    expect(events.map(([k]) => k)).toEqual(['start', 'end', 'error', 'asyncStart', 'asyncEnd'])
    expect(events[2]![1].error).toBe(e)
    expect((e as { code?: string }).code).toBe('E_NOPE')

    // A stream settles when it has ended, not at its first item.
    events.length = 0
    const items: number[] = []
    for await (const i of api.count(3)) {
      if (items.push(i) === 1) expect(events.map(([k]) => k)).toEqual(['start', 'end'])
    }
    expect(items).toEqual([0, 1, 2])
    expect(events.map(([k]) => k)).toEqual(['start', 'end', 'asyncStart', 'asyncEnd'])

    // A call that times out is settled by the timeout, with its error.
    events.length = 0
    const t = await rejection(api.hang.with({ timeout: 50 })(), GUARD)
    expect(events.map(([k, c]) => [k, c.procedure])).toEqual([
      ['start', 'hang'],
      ['end', 'hang'],
      ['error', 'hang'],
      ['asyncStart', 'hang'],
      ['asyncEnd', 'hang'],
    ])
    expect(events[2]![1].error).toBe(t)
    api[Symbol.dispose]()
    await w[Symbol.asyncDispose]()
  })
})

describe('link.traffic', () => {
  it('counts frames, bytes and messages both ways (what one side sent, the other received), queued bytes and the channels that cross', async () => {
    const w = track(
      spawnWorker<unknown, unknown>(async ({ receiver, sender }) => {
        for await (const m of receiver) sender.send(m)
      }),
    )
    await w.link.ready
    const start = w.link.traffic
    for (let i = 0; i < 10; i++) w.sender.send({ i, pad: 'y'.repeat(100) })
    await w.link.drained()
    const sent = w.link.traffic
    expect(sent.messagesSent - start.messagesSent).toBe(10)
    expect(sent.bytesSent - start.bytesSent).toBeGreaterThan(1000)
    expect(sent.framesSent - start.framesSent).toBe(10)
    // The echoes come back and wait unread: they count as queued bytes until read.
    await until(() => w.link.traffic.messagesReceived - start.messagesReceived === 10, 10_000, 'the echoes to arrive')
    expect(w.link.traffic.queuedBytes).toBeGreaterThan(1000)
    for (let i = 0; i < 10; i++) expect(await within(w.receiver.recv(), GUARD, 'an echo')).toMatchObject({ i })
    expect(w.link.traffic.queuedBytes).toBe(0)
    // Bytes received here are what the worker sent: both ends agree on the frames that crossed.
    const got = w.link.traffic
    expect(got.bytesReceived - start.bytesReceived).toBe(sent.bytesSent - start.bytesSent)
    // A channel that crosses is counted while it crosses, and no more once it is gone.
    const [tx, rx] = channel<number>()
    w.sender.send(rx)
    const back = (await w.receiver.recv()) as Receiver<number>
    expect(w.link.traffic.channels).toBe(start.channels + 1)
    back.close()
    tx.close()
    await until(() => w.link.traffic.channels === start.channels, 10_000, 'the channel to leave the tables')
    await w[Symbol.asyncDispose]()
  })
})

describe('NODE_DEBUG=ipfi', () => {
  const script = fileURLToPath(new URL('./fixtures/trace-debug.mjs', import.meta.url))

  it('prints the link opening with the limits, frames in and out (kind, target, bytes, never contents), calls started and settled, and the close with why', async () => {
    const { stderr, stdout } = await within(run(process.execPath, [script], { env: { ...process.env, NODE_DEBUG: 'ipfi' } }), GUARD, 'the traced program')
    expect(stdout.trim()).toBe('done')
    const lines = stderr.split('\n').filter((l) => l.startsWith('IPFI '))
    const has = (re: RegExp) => expect(lines.some((l) => re.test(l)), `a line matching ${re} in:\n${lines.join('\n')}`).toBe(true)
    has(/: open; the peer accepts frames of up to \d+ bytes and \d+ handles a message/)
    has(/: sent HELLO \(\d+ bytes\)/)
    has(/: received HELLO \(\d+ bytes\)/)
    has(/: sent MSG to export \d+ \(\d+ bytes(, \d+ handles?)?\)/)
    has(/: received MSG for export \d+ \(\d+ bytes, \d+ handles?\)/)
    has(/call 0 to "echo" started/)
    has(/call 0 to "echo" succeeded after [\d.]+ ms/)
    has(/call 1 to "fail" failed: Error: refused on purpose after [\d.]+ ms/)
    has(/: closed in order: /)
    // Payload contents are never printed.
    expect(stderr).not.toContain('secret-payload')
  })

  it('prints nothing without NODE_DEBUG', async () => {
    const env = { ...process.env }
    delete env.NODE_DEBUG
    const { stderr, stdout } = await within(run(process.execPath, [script], { env }), GUARD, 'the untraced program')
    expect(stdout.trim()).toBe('done')
    expect(stderr).not.toMatch(/^IPFI /m)
  })
})
