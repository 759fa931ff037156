import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { ConnectionLostError, LimitExceededError, ProtocolError, remote, spawn, type Endpoint } from 'ipfi'

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url))

describe('spawn() and stdioLink(): a peer over stdin/stdout', () => {
  it('links to any executable over its stdio: channels, data, procedures and a stream; console.log does not corrupt the wire', { timeout: 30_000 }, async () => {
    const child = spawn<string, unknown>(process.execPath, [fixture('stdio-peer.mjs')], { data: { n: 7 }, stderr: 'pipe' })
    let stderr = ''
    child.process.stderr!.on('data', (d) => (stderr += d))
    const endpoint = (await child.receiver.recv()) as Endpoint<{ add(a: number, b: number): number; count(n: number): AsyncGenerator<number> }>
    expect(await child.receiver.recv()).toEqual({ data: { n: 7 } })
    const calc = remote(endpoint)
    expect(await calc.add(2, 3)).toBe(5)
    const got: number[] = []
    for await (const i of calc.count(500)) got.push(i)
    expect(got).toEqual(Array.from({ length: 500 }, (_, i) => i))
    child.sender.send('hello')
    expect(await child.receiver.recv()).toBe('HELLO')
    child.sender.close()
    calc[Symbol.dispose]()
    endpoint.close()
    expect((await child.exited).code).toBe(0)
    expect(stderr).toContain('this line goes to stderr, not into the wire')
  })

  it('a program that writes to stdout behind the link breaks the framing: the link closes with a clear ProtocolError', { timeout: 30_000 }, async () => {
    const child = spawn<never, string>(process.execPath, [fixture('stdio-corrupt.mjs')])
    expect(await child.receiver.recv()).toBe('before')
    const e = await child.receiver.recv().catch((err: unknown) => err)
    expect(e).toBeInstanceOf(ConnectionLostError)
    const cause = await child.link.closed
    // The stray bytes read as a frame header: a frame kind that is not one, or a length over the limit.
    expect(cause instanceof ProtocolError || cause instanceof LimitExceededError).toBe(true)
    expect(String((cause as Error).message)).toMatch(/over stdio/)
    child.kill('SIGKILL')
    await child.exited
  })

  it('a command that cannot start rejects `exited` and every receive', { timeout: 10_000 }, async () => {
    const child = spawn('/nonexistent/ipfi-no-such-program')
    await expect(child.exited).rejects.toThrow(/ENOENT/)
    await expect(child.receiver.recv()).rejects.toBeInstanceOf(Error)
  })
})
