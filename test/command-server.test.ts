import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, describe, expect, it } from 'vitest'
import { DisconnectedError, LimitExceededError, RemoteError, commandClient, commandServer, fork, sendCommand, type CommandSender } from 'ipfi'

type Commands = { type: 'print'; text: string } | { type: 'add'; a: number; b: number } | { type: 'push'; value: number } | { type: 'fail' } | { type: 'later'; ms: number }
type Responses = { print: null; add: number; push: number[]; fail: never; later: string }
type Context = { stack: number[]; printed: string[] }

const base = mkdtempSync(join(tmpdir(), 'ipfi-commands-test-'))
let n = 0
const address = () => `unix:${join(base, `s${n++}`, 'cmd.sock')}`
afterAll(() => rmSync(base, { recursive: true, force: true }))

const handlers = {
  print(c: { text: string }, ctx: Context) {
    ctx.printed.push(c.text)
    return null
  },
  add: (c: { a: number; b: number }) => c.a + c.b,
  push(c: { value: number }, ctx: Context) {
    ctx.stack.push(c.value)
    return [...ctx.stack]
  },
  fail(): never {
    throw Object.assign(new RangeError('no such luck'), { code: 'E_LUCK' })
  },
  later: (c: { ms: number }) => new Promise<string>((r) => setTimeout(() => r(`after ${c.ms} ms`), c.ms)),
}

const turns = async (k: number) => {
  for (let i = 0; i < k; i++) await new Promise((r) => setImmediate(r))
}

describe('the lazy command server', () => {
  it('nothing is handled until poll(context); then every queued command is, in order, with that context', { timeout: 20_000 }, async () => {
    const server = await commandServer<Commands, Responses, Context>(address(), handlers)
    const send: CommandSender<Commands, Responses> = commandClient(server.address)
    let answered = 0
    const replies = [
      send({ type: 'push', value: 1 }),
      send({ type: 'print', text: 'hi' }),
      send({ type: 'add', a: 2, b: 3 }),
    ].map((p) => p.then((v) => (answered++, v)))
    // wait until all three are queued: the server does nothing with them meanwhile
    for (let i = 0; i < 500 && server.pending < 3; i++) await turns(1)
    expect(server.pending).toBe(3)
    await turns(20)
    expect(answered).toBe(0)
    const ctx: Context = { stack: [], printed: [] }
    expect(server.poll(ctx)).toBe(3)
    expect(server.pending).toBe(0)
    const [pushed, printed, sum] = await Promise.all(replies)
    expect(sum).toBe(5)
    expect(printed).toBeNull()
    expect(pushed).toEqual([1])
    expect(ctx).toEqual({ stack: [1], printed: ['hi'] })
    expect(server.poll(ctx)).toBe(0)
    await server.close()
  })

  it('clients in other processes; payloads far past 1,024 bytes; an async handler answers when it settles', { timeout: 30_000 }, async () => {
    const server = await commandServer<Commands, Responses, Context>(address(), handlers)
    const child = fork<never, string>(
      async ({ sender, data, ipfi }) => {
        const { sendCommand } = ipfi as unknown as typeof import('ipfi')
        const big = 'x'.repeat(1024 * 1024)
        await sendCommand(data as string, { type: 'print', text: big })
        const later = await sendCommand(data as string, { type: 'later', ms: 30 })
        sender.send(String(later))
      },
      { data: server.address },
    )
    const ctx: Context = { stack: [], printed: [] }
    const timer = setInterval(() => server.poll(ctx), 10)
    try {
      expect(await child.receiver.recv()).toBe('after 30 ms')
      expect(ctx.printed[0]!.length).toBe(1024 * 1024)
      expect((await child.exited).code).toBe(0)
    } finally {
      clearInterval(timer)
      await server.close()
    }
  })

  it('a handler that throws, an unknown command and prototype names answer with clear errors; the server goes on', { timeout: 20_000 }, async () => {
    const server = await commandServer<Commands, Responses, Context>(address(), handlers)
    const ctx: Context = { stack: [], printed: [] }
    const timer = setInterval(() => server.poll(ctx), 5)
    try {
      const failed = await sendCommand<Commands, Responses>(server.address, { type: 'fail' }).catch((e: unknown) => e)
      expect(failed).toBeInstanceOf(RangeError)
      expect(failed).toBeInstanceOf(RemoteError)
      expect((failed as Error & { code: string }).code).toBe('E_LUCK')
      for (const type of ['nope', '__proto__', 'constructor', 'toString', 'hasOwnProperty']) {
        const e = await sendCommand(server.address, { type } as unknown as Commands).catch((err: unknown) => err)
        expect(e).toBeInstanceOf(TypeError)
        expect((e as Error & { code: string }).code).toBe('ERR_IPFI_NO_SUCH_PROCEDURE')
      }
      const notACommand = await sendCommand(server.address, 42 as unknown as Commands).catch((err: unknown) => err)
      expect(notACommand).toBeInstanceOf(TypeError)
      expect(await sendCommand<Commands, Responses>(server.address, { type: 'add', a: 1, b: 1 })).toBe(2)
    } finally {
      clearInterval(timer)
      await server.close()
    }
  })

  it('more than maxQueued waiting commands: the extra ones are refused at once with LimitExceededError', { timeout: 20_000 }, async () => {
    const server = await commandServer<Commands, Responses, Context>(address(), handlers, { maxQueued: 2 })
    const send: CommandSender<Commands, Responses> = commandClient(server.address)
    const results = [1, 2, 3, 4].map((v) => send({ type: 'push', value: v }).then((r) => r, (e: unknown) => e))
    // Two are queued; the other two are refused without waiting for a poll.
    const settled: unknown[] = []
    results.forEach((p) => void p.then((x) => settled.push(x)))
    for (let i = 0; i < 1000 && settled.length < 2; i++) await turns(1)
    expect(settled.length).toBe(2)
    for (const e of settled) expect(e).toBeInstanceOf(LimitExceededError)
    expect(server.pending).toBe(2)
    expect(server.poll({ stack: [], printed: [] })).toBe(2)
    const all = await Promise.all(results)
    expect(all.filter((x) => x instanceof LimitExceededError).length).toBe(2)
    expect(all.filter((x) => Array.isArray(x)).length).toBe(2)
    await server.close()
  })

  it('close() with commands still queued: their clients get DisconnectedError, nothing hangs', { timeout: 20_000 }, async () => {
    const server = await commandServer<Commands, Responses, Context>(address(), handlers)
    const send: CommandSender<Commands, Responses> = commandClient(server.address)
    const pending = send({ type: 'add', a: 1, b: 2 }).then((v) => v, (e: unknown) => e)
    for (let i = 0; i < 1000 && server.pending < 1; i++) await turns(1)
    expect(server.pending).toBe(1)
    await server.close()
    expect(await pending).toBeInstanceOf(DisconnectedError)
  })

  it('examples/command-server runs: three client processes, commands handled only at the loop\'s polls', { timeout: 60_000 }, async () => {
    const { stdout } = await promisify(execFile)(process.execPath, ['examples/command-server/server.mjs'], { cwd: new URL('..', import.meta.url), timeout: 50_000 })
    expect(stdout).toMatch(/\[server\] tick 1: handled \d+ command/)
    for (const name of ['1', '2', '3']) expect(stdout).toContain(`[${name}] print -> null, add -> 41, push -> stack of`)
    expect(stdout).toContain('[server] stack at the end: 3 values, printed 3 lines')
  })
})
