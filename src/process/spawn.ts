/**
 * spawn(): any executable, linked over its stdin and stdout (stderr passes through). The program
 * may be written in any language: it speaks docs/PROTOCOL.md on its stdio, and takes its two ends
 * as docs/PROTOCOL.md Appendix A describes (a Node program calls `stdioLink()`).
 */
import { spawn as spawnProcess } from 'node:child_process'
import type { Duplex } from 'node:stream'
import type { LinkLimits } from '../link/limits.js'
import { duplexWire } from '../wire/duplex.js'
import { linkChildProcess, type ChildProcessHandle } from './child-process.js'

export interface SpawnOptions {
  /** The child's environment. Default: the parent's `process.env`. */
  env?: NodeJS.ProcessEnv
  /** The child's working directory. Default: the parent's. */
  cwd?: string
  /** The child's stderr: `'inherit'`, `'pipe'` or `'ignore'`. Default `'inherit'`. */
  stderr?: 'inherit' | 'pipe' | 'ignore'
  /** Data the child gets with its ends (`stdioLink().data` in Node), sent over the link. Default: undefined. */
  data?: unknown
  /** Limits for the link to the child. Default: `DEFAULT_LIMITS`. */
  limits?: Partial<LinkLimits>
  /** Kill the child when this signal aborts, with `killSignal`, as `child_process` does. Default: none. */
  signal?: AbortSignal
  /** The signal `signal` kills the child with. Default `'SIGTERM'`. */
  killSignal?: NodeJS.Signals | number
}

export function spawn<ToChild, ToParent>(command: string, args: readonly string[] = [], options: SpawnOptions = {}): ChildProcessHandle<ToChild, ToParent> {
  const child = spawnProcess(command, args, {
    stdio: ['pipe', 'pipe', options.stderr ?? 'inherit'],
    env: options.env,
    cwd: options.cwd,
    signal: options.signal,
    killSignal: options.killSignal,
  })
  child.stdin!.on('error', () => {}) // EPIPE once the child is gone: the link reports the loss
  const wire = duplexWire(child.stdin as unknown as Duplex, { input: child.stdout as unknown as NodeJS.ReadableStream & Duplex })
  return linkChildProcess<ToChild, ToParent>(child, wire, `${command} (process ${child.pid ?? 'not started'}, over stdio)`, options)
}
