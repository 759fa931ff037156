/**
 * spawn(): any executable, linked over its stdin and stdout (stderr passes through). The program
 * may be written in any language: it speaks docs/PROTOCOL.md on its stdio, and takes its two ends
 * as §11 describes (a Node program calls `stdioLink()`).
 */
import { spawn as spawnProcess } from 'node:child_process'
import type { Duplex } from 'node:stream'
import { Link } from '../link/link.js'
import type { LinkLimits } from '../link/limits.js'
import { duplexWire } from '../wire/duplex.js'
import { offerEnds } from './bootstrap.js'
import { disposeChild } from './child.js'
import { exitCause, type ExitInfo } from './exit.js'
import type { ChildProcessHandle } from './fork.js'

export interface SpawnOptions {
  env?: NodeJS.ProcessEnv
  cwd?: string
  /** The child's stderr: 'inherit' (default), 'pipe' or 'ignore'. */
  stderr?: 'inherit' | 'pipe' | 'ignore'
  /** Data the child gets with its ends (`stdioLink().data` in Node). */
  data?: unknown
  /** Limits for the link to the child. */
  limits?: Partial<LinkLimits>
}

export function spawn<ToChild, ToParent>(command: string, args: readonly string[] = [], options: SpawnOptions = {}): ChildProcessHandle<ToChild, ToParent> {
  const child = spawnProcess(command, args, { stdio: ['pipe', 'pipe', options.stderr ?? 'inherit'], env: options.env, cwd: options.cwd })
  const exited = new Promise<ExitInfo>((resolve, reject) => {
    child.once('exit', (code, signal) => resolve({ code, signal }))
    child.once('error', (err) => {
      if (child.pid === undefined) reject(err) // failed to start; 'exit' will not come
    })
  })
  exited.catch(() => {})
  child.stdin!.on('error', () => {}) // EPIPE once the child is gone: the link reports the loss
  const wire = duplexWire(child.stdin as unknown as Duplex, { input: child.stdout as unknown as NodeJS.ReadableStream & Duplex })
  const link = new Link(wire, {
    name: `${command} (process ${child.pid ?? 'not started'}, over stdio)`,
    ...options.limits,
    onWireEnd: () => exitCause(exited, { pid: child.pid }),
  })
  exited.catch((err) => link.fail(err))
  const { sender, receiver } = offerEnds<ToChild, ToParent>(link, options.data)
  const handle: ChildProcessHandle<ToChild, ToParent> = {
    sender,
    receiver,
    exited,
    link,
    process: child,
    pid: child.pid,
    kill(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
    },
    [Symbol.asyncDispose]: () => disposeChild(handle),
  }
  return handle
}
