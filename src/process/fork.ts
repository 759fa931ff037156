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
  /** stdin, stdout and stderr of the child: `'inherit'`, `'pipe'` (then on `handle.process`) or `'ignore'`. Default `'inherit'`. */
  stdio?: 'inherit' | 'pipe' | 'ignore'
  /** Data the child gets from `parent()` (or `ctx.data` for a function), sent over the link. Default: undefined. */
  data?: unknown
  /** Limits for the link to the child. Default: `DEFAULT_LIMITS`. */
  limits?: Partial<LinkLimits>
}

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
  const s = options.stdio ?? 'inherit'
  const stdio: StdioOptions = [s, s, s, 'pipe']
  const child = spawn(process.execPath, argv, { stdio, env, cwd: options.cwd })

  const socket = child.stdio[3] as net.Socket
  return linkChildProcess<ToChild, ToParent>(child, duplexWire(socket), `child process ${child.pid ?? '(not started)'}`, options)
}
