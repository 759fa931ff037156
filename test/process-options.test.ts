/**
 * fork(), spawn() and spawnWorker() take the options Node's child_process and Worker take, and mean
 * the same by them: stdio as an array (with Node's IPC beside ipfi's link), execPath, signal and
 * killSignal, uid/gid, detached; a worker's stdin/stdout/stderr and signal. Real children only.
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Readable } from 'node:stream'
import { afterAll, describe, expect, it } from 'vitest'
import { ConnectionLostError, fork, spawn, spawnWorker } from 'ipfi'
import { rejection, within } from './support/async.js'
import { trackChildren } from './support/children.js'

const GUARD = 30_000
const track = trackChildren(GUARD)
const dir = mkdtempSync(join(tmpdir(), 'ipfi-options-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** Everything a stream gives until it ends. */
async function readAll(stream: Readable | null | undefined): Promise<string> {
  let s = ''
  for await (const chunk of stream!) s += chunk
  return s
}

describe('fork() options', () => {
  it("stdio as an array, as child_process.fork's: pipes on fds 0-2 and Node's IPC on fd 4, beside the ipfi link on fd 3", async () => {
    const c = track(
      fork<string, string>(
        async ({ receiver, sender }) => {
          process.stdout.write('out\n')
          process.stderr.write('err\n')
          process.send!({ over: 'ipc' })
          let input = ''
          for await (const chunk of process.stdin) input += chunk
          sender.send(`${await receiver.recv()} / stdin: ${input}`)
          process.disconnect!()
        },
        { stdio: ['pipe', 'pipe', 'pipe', null, 'ipc'] },
      ),
    )
    const ipc = new Promise((resolve) => c.process.once('message', resolve))
    const out = readAll(c.process.stdout)
    const err = readAll(c.process.stderr)
    c.process.stdin!.end('typed in')
    c.sender.send('over ipfi')
    expect(await within(c.receiver.recv(), GUARD, 'the answer over the link')).toBe('over ipfi / stdin: typed in')
    expect(await within(ipc, GUARD, 'the IPC message')).toEqual({ over: 'ipc' })
    expect(await within(out, GUARD, 'stdout')).toBe('out\n')
    expect(await within(err, GUARD, 'stderr')).toBe('err\n')
    expect(await within(c.exited, GUARD, 'exit')).toEqual({ code: 0, signal: null })
  })

  it('refuses, before starting anything, a stdio that would take fd 3 or is not one Node knows', () => {
    const child = async () => {}
    expect(() => fork(child, { stdio: ['inherit', 'inherit', 'inherit', 'pipe'] })).toThrow(/stdio\[3\] must be left out: fd 3 is the ipfi link/)
    expect(() => fork(child, { stdio: ['ipc', 'inherit', 'inherit', null, 'ipc'] })).toThrow(/'ipc' once/)
    expect(() => fork(child, { stdio: 'piped' as 'pipe' })).toThrow(TypeError)
  })

  it('execPath runs another Node binary (here: a wrapper script that marks the environment)', async () => {
    const wrapper = join(dir, 'node-wrapper.sh')
    writeFileSync(wrapper, `#!/bin/sh\nIPFI_WRAPPED=yes exec ${JSON.stringify(process.execPath)} "$@"\n`)
    chmodSync(wrapper, 0o755)
    const c = track(fork<never, string>(async ({ sender }) => sender.send(process.env.IPFI_WRAPPED ?? 'no'), { execPath: wrapper }))
    expect(await within(c.receiver.recv(), GUARD, 'the wrapped child')).toBe('yes')
  })

  for (const killSignal of [undefined, 'SIGKILL'] as const) {
    it(`signal: aborting kills the child with ${killSignal ?? 'SIGTERM (the default)'}, and what waited on it fails with ConnectionLostError`, async () => {
      const ac = new AbortController()
      const c = track(fork<never, string>(async ({ sender }) => {
        sender.send('up')
        setInterval(() => {}, 1000) // alive until killed
      }, { signal: ac.signal, killSignal }))
      expect(await within(c.receiver.recv(), GUARD, 'the child up')).toBe('up')
      const pending = c.receiver.recv()
      ac.abort()
      const e = await rejection(pending, GUARD, 'the receive from the killed child')
      expect(e).toBeInstanceOf(ConnectionLostError)
      expect(e.cause).toMatchObject({ pid: c.pid, code: null, signal: killSignal ?? 'SIGTERM' })
      expect(await within(c.exited, GUARD, 'exit')).toEqual({ code: null, signal: killSignal ?? 'SIGTERM' })
    })
  }

  it('a signal already aborted kills the child at once', async () => {
    const c = track(fork(async ({ sender }) => sender.send('ran'), { signal: AbortSignal.abort() }))
    expect((await within(c.exited, GUARD, 'exit')).signal).toBe('SIGTERM')
  })

  it('detached starts the child as the leader of a process group of its own', async () => {
    const c = track(fork<never, { pid: number; pgrp: number }>(fileURLToPath(new URL('./fixtures/report-pgrp.mjs', import.meta.url)), { detached: true }))
    const { pid, pgrp } = await within(c.receiver.recv(), GUARD, 'the detached child')
    expect(pgrp).toBe(pid)
    const ours = readFileSync('/proc/self/stat', 'utf8')
    expect(Number(ours.slice(ours.lastIndexOf(')') + 2).split(' ')[2])).not.toBe(pid)
  })

  it('uid and gid run the child as another user (as root), or fail to start it with EPERM (as anyone else)', async () => {
    const nobody = 65534
    const c = track(fork<never, number[]>(async ({ sender }) => sender.send([process.getuid!(), process.getgid!()]), { uid: nobody, gid: nobody }))
    if (process.getuid!() === 0) {
      expect(await within(c.receiver.recv(), GUARD, 'the child as nobody')).toEqual([nobody, nobody])
    } else {
      expect(await rejection(c.exited, GUARD, 'a child that may not start')).toMatchObject({ code: 'EPERM' })
    }
  })
})

describe('spawn() options', () => {
  it('signal: aborting kills the spawned program; what waited on it fails with ConnectionLostError', async () => {
    const ac = new AbortController()
    // A program that never speaks ipfi: the point is the kill.
    const c = track(spawn<string, string>('sleep', ['60'], { signal: ac.signal, killSignal: 'SIGKILL' }))
    const pending = c.receiver.recv()
    ac.abort()
    expect(await rejection(pending, GUARD, 'the receive from the killed program')).toBeInstanceOf(ConnectionLostError)
    expect(await within(c.exited, GUARD, 'exit')).toEqual({ code: null, signal: 'SIGKILL' })
  })
})

describe('spawnWorker() options', () => {
  it("stdin, stdout and stderr: true keep the worker's stdio on handle.worker, as new Worker's do", async () => {
    const w = track(spawnWorker<never, string>(async ({ sender }) => {
      let input = ''
      for await (const chunk of process.stdin) input += chunk
      process.stdout.write(`out: ${input}`)
      process.stderr.write('err')
      sender.send('done')
    }, { stdin: true, stdout: true, stderr: true }))
    const out = readAll(w.worker.stdout)
    const err = readAll(w.worker.stderr)
    w.worker.stdin!.end('typed in')
    expect(await within(w.receiver.recv(), GUARD, 'the worker done')).toBe('done')
    expect(await within(out, GUARD, 'stdout')).toBe('out: typed in')
    expect(await within(err, GUARD, 'stderr')).toBe('err')
  })

  it('signal: aborting terminates the worker; what waited on it fails with ConnectionLostError', async () => {
    const ac = new AbortController()
    const w = track(spawnWorker<never, string>(async ({ sender }) => {
      sender.send('up')
      setInterval(() => {}, 1000) // alive until terminated
    }, { signal: ac.signal }))
    expect(await within(w.receiver.recv(), GUARD, 'the worker up')).toBe('up')
    const pending = w.receiver.recv()
    ac.abort()
    expect(await rejection(pending, GUARD, 'the receive from the terminated worker')).toBeInstanceOf(ConnectionLostError)
    expect((await within(w.exited, GUARD, 'exit')).code).toBe(1)
  })

  it('a signal already aborted terminates the worker at once', async () => {
    const w = track(spawnWorker<never, never>(async () => void setInterval(() => {}, 1000), { signal: AbortSignal.abort() }))
    // Terminated before its code ran, the thread exits with code 0: still a loss, and said so.
    const e = await rejection(w.receiver.recv(), GUARD, 'a receive from the terminated worker')
    expect(e).toBeInstanceOf(ConnectionLostError)
    expect(e.cause).toMatchObject({ threadId: w.threadId, reason: 'terminated: the signal given to spawnWorker() aborted' })
    await within(w.exited, GUARD, 'exit')
  })
})
