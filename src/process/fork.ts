/**
 * fork(): a Node child process linked over an extra stdio pipe on fd 3 (a Unix socketpair) with
 * ipfi's own framing. That wire is measured faster than Node's IPC channel (see bench/), and it
 * leaves the child's stdin, stdout, stderr and IPC channel to the application.
 */
import { spawn, type StdioOptions } from 'node:child_process'
import type * as net from 'node:net'
import { fileURLToPath } from 'node:url'
import type { LinkLimits } from '../link/limits.js'
import { duplexWire } from '../wire/duplex.js'
import type { ChildFunction } from './child.js'
import { linkChildProcess, type ChildProcessHandle } from './child-process.js'
import { FD_ENV, FN_ENV, selfEntryUrl, shipSource } from './ship.js'

export interface ForkOptions {
  /** Arguments after the module path (the child's `process.argv.slice(2)`). Default: none. */
  args?: string[]
  /** Node options for the child. Default: none (not the parent's `process.execArgv`). */
  execArgv?: string[]
  /** The child's environment. Default: the parent's `process.env`. */
  env?: NodeJS.ProcessEnv
  /** The child's working directory. Default: the parent's. */
  cwd?: string
  /**
   * The child's stdio, as `child_process.fork`'s: one of `'inherit'`, `'pipe'` (then on
   * `handle.process`), `'ignore'` or `'overlapped'` for fds 0, 1 and 2; or an array with an entry
   * per fd (`'pipe'`, `'inherit'`, `'ignore'`, `'ipc'`, a stream, an fd number, or null/undefined
   * for the default `'inherit'`). Entry 3 must be left out (null/undefined): fd 3 is ipfi's link.
   * An `'ipc'` entry (at fd 0–2 or 4 and up) gives Node's own IPC channel beside it
   * (`handle.process.send`). Default `'inherit'`.
   */
  stdio?: 'inherit' | 'pipe' | 'ignore' | 'overlapped' | readonly ForkStdioEntry[]
  /** The Node binary to run. Default: this one (`process.execPath`). */
  execPath?: string
  /**
   * Kill the child when this signal aborts, with `killSignal`, as `child_process` does: pending
   * receives and calls then fail with `ConnectionLostError` (its cause: the signal the child died
   * of). Default: none.
   */
  signal?: AbortSignal
  /** The signal `signal` kills the child with. Default `'SIGTERM'`. */
  killSignal?: NodeJS.Signals | number
  /** Run the child as this user id (POSIX). Default: this process's. */
  uid?: number
  /** Run the child as this group id (POSIX). Default: this process's. */
  gid?: number
  /** Start the child as the leader of a new process group (POSIX), as `child_process`'s `detached`. Default: false. */
  detached?: boolean
  /** Data the child gets from `parent()` (or `ctx.data` for a function), sent over the link. Default: undefined. */
  data?: unknown
  /** Limits for the link to the child. Default: `DEFAULT_LIMITS`. */
  limits?: Partial<LinkLimits>
}

/** One entry of `ForkOptions.stdio` as an array (Node's `StdioOptions` entries). */
export type ForkStdioEntry = Exclude<StdioOptions, string>[number]

export type { ChildProcessHandle }

/**
 * Start a Node child process running `module` (a path or URL that calls `parent()`, or a function
 * that closes over nothing), linked over an extra socketpair on fd 3.
 *
 * ```js
 * const child = fork(async ({ receiver, sender }) => {
 *   for await (const n of receiver) sender.send(n * 2)
 * })
 * child.sender.send(21)
 * console.log(await child.receiver.recv()) // 42
 * await child[Symbol.asyncDispose]()
 * ```
 */
export function fork<ToChild, ToParent, Data = unknown>(
  module: string | URL | ChildFunction<ToChild, ToParent, Data>,
  options: ForkOptions & { data?: Data } = {},
): ChildProcessHandle<ToChild, ToParent> {
  const env: NodeJS.ProcessEnv = { ...(options.env ?? process.env), [FD_ENV]: '3' }
  const execArgv = options.execArgv ?? []
  let argv: string[]
  if (typeof module === 'function') {
    env[FN_ENV] = shipSource(module, true)
    const boot = `import(${JSON.stringify(selfEntryUrl())}).then((m) => m.__ipfiBootChild())`
    argv = [...execArgv, '--input-type=module', '-e', boot, ...(options.args ?? [])]
  } else {
    const path = module instanceof URL || module.startsWith('file:') ? fileURLToPath(module) : module
    argv = [...execArgv, path, ...(options.args ?? [])]
  }
  const child = spawn(options.execPath ?? process.execPath, argv, {
    stdio: stdioWithLink(options.stdio),
    env,
    cwd: options.cwd,
    signal: options.signal,
    killSignal: options.killSignal,
    uid: options.uid,
    gid: options.gid,
    detached: options.detached,
  })

  const socket = child.stdio[3] as net.Socket
  return linkChildProcess<ToChild, ToParent>(child, duplexWire(socket), `child process ${child.pid ?? '(not started)'}`, options)
}

/** The child's stdio with ipfi's socketpair at fd 3. */
function stdioWithLink(stdio: ForkOptions['stdio']): StdioOptions {
  const s = stdio ?? 'inherit'
  if (typeof s === 'string') {
    if (!['inherit', 'pipe', 'ignore', 'overlapped'].includes(s)) throw new TypeError(`fork(): stdio must be 'inherit', 'pipe', 'ignore', 'overlapped' or an array, got ${JSON.stringify(s)}`)
    return [s, s, s, 'pipe']
  }
  if (!Array.isArray(s)) throw new TypeError('fork(): stdio must be a string or an array')
  if (s[3] !== undefined && s[3] !== null) throw new TypeError('fork(): stdio[3] must be left out: fd 3 is the ipfi link to the child')
  if (s.filter((e) => e === 'ipc').length > 1) throw new TypeError("fork(): stdio may hold 'ipc' once")
  const out: ForkStdioEntry[] = [0, 1, 2].map((fd) => s[fd] ?? 'inherit')
  out.push('pipe', ...s.slice(4))
  return out
}
