/**
 * spawnWorker(): a worker thread linked over a dedicated MessagePort (transferred at start-up), so
 * the worker's own `parentPort` and `workerData` stay the application's.
 */
import { MessageChannel, Worker, type ResourceLimits } from 'node:worker_threads'
import { pathToFileURL } from 'node:url'
import { isAbsolute, resolve } from 'node:path'
import { LinkImpl } from '../link/link.js'
import type { LinkLimits } from '../link/limits.js'
import { messagePortWire } from '../wire/message-port.js'
import { offerEnds } from './bootstrap.js'
import { disposeChild, type Child, type ChildFunction } from './child.js'
import { childEnd, type ExitInfo } from './exit.js'
import { selfEntryUrl, shipSource } from './ship.js'

export const WORKER_BOOT = '__ipfiWorkerBoot'

export interface WorkerOptions {
  /** Data the worker gets from `parent()` (or `ctx.data`), sent over the link. Default: undefined. */
  data?: unknown
  /** The worker's own `workerData` (untouched by ipfi). Default: undefined. */
  workerData?: unknown
  /** Appended to the worker's `process.argv`, as `new Worker`'s `argv`. Default: none. */
  argv?: unknown[]
  /** Node options for the worker, as `new Worker`'s `execArgv`. Default: the parent's. */
  execArgv?: string[]
  /** The worker's `process.env`, as `new Worker`'s `env`. Default: a copy of the parent's. */
  env?: NodeJS.ProcessEnv | typeof import('node:worker_threads').SHARE_ENV
  /** Heap and stack limits, as `new Worker`'s `resourceLimits`. Default: Node's. */
  resourceLimits?: ResourceLimits
  /** The thread's name (in inspectors and `worker.threadName`). Default: none. */
  name?: string
  /** Give the worker a `process.stdin` fed from `handle.worker.stdin`, as `new Worker`'s `stdin`. Default: false. */
  stdin?: boolean
  /** Keep the worker's stdout on `handle.worker.stdout` instead of this process's stdout, as `new Worker`'s `stdout`. Default: false. */
  stdout?: boolean
  /** Keep the worker's stderr on `handle.worker.stderr` instead of this process's stderr, as `new Worker`'s `stderr`. Default: false. */
  stderr?: boolean
  /**
   * Terminate the worker when this signal aborts (as `child_process` kills a child): pending
   * receives and calls then fail with `ConnectionLostError`. Default: none.
   */
  signal?: AbortSignal
  /** Limits for the link to the worker. Default: `DEFAULT_LIMITS`. */
  limits?: Partial<LinkLimits>
}

export interface WorkerHandle<ToChild, ToParent> extends Child<ToChild, ToParent> {
  readonly worker: Worker
  readonly threadId: number
}

export interface WorkerBoot {
  port: import('node:worker_threads').MessagePort
  module: string | null
  fn: string | null
  workerData: unknown
}

export function spawnWorker<ToChild, ToParent, Data = unknown>(
  module: string | URL | ChildFunction<ToChild, ToParent, Data>,
  options: WorkerOptions & { data?: Data } = {},
): WorkerHandle<ToChild, ToParent> {
  const { port1, port2 } = new MessageChannel()
  const boot: WorkerBoot = {
    port: port2,
    module: typeof module === 'function' ? null : moduleUrl(module),
    fn: typeof module === 'function' ? shipSource(module, false) : null,
    workerData: options.workerData,
  }
  const code = `import(${JSON.stringify(selfEntryUrl())}).then((m) => m.__ipfiBootWorker())`
  const worker = new Worker(code, {
    eval: true,
    workerData: { [WORKER_BOOT]: boot },
    transferList: [port2],
    argv: options.argv,
    execArgv: options.execArgv,
    env: options.env,
    resourceLimits: options.resourceLimits,
    name: options.name,
    stdin: options.stdin,
    stdout: options.stdout,
    stderr: options.stderr,
  })
  // Node sets threadId to -1 once the thread has exited: keep it from the start.
  const threadId = worker.threadId
  const exited = new Promise<ExitInfo>((r) => worker.once('exit', (code) => r({ code, signal: null })))
  /** Set when this side ended the worker (kill(), or `signal`): its end is then a loss, whatever its code. */
  const ended = { by: null as string | null }
  const signal = options.signal
  if (signal) {
    const stop = () => {
      ended.by ??= 'terminated: the signal given to spawnWorker() aborted'
      void worker.terminate()
    }
    if (signal.aborted) stop()
    else {
      signal.addEventListener('abort', stop, { once: true })
      void exited.then(() => signal.removeEventListener('abort', stop))
    }
  }
  const link = new LinkImpl(messagePortWire(port1), {
    name: `worker thread ${threadId}`,
    ...options.limits,
    onWireEnd: (_, failure) => childEnd(exited, { threadId }, failure, ended.by),
  })
  worker.on('error', (err) => {
    // An uncaught error ends the thread, as it would a process: say so, as a crashing child's stderr would.
    process.stderr.write(`ipfi: worker thread ${threadId} crashed: ${(err as Error)?.stack ?? err}\n`)
  })
  const { sender, receiver } = offerEnds<ToChild, ToParent>(link, options.data)
  const handle: WorkerHandle<ToChild, ToParent> = {
    sender,
    receiver,
    exited,
    link,
    worker,
    threadId,
    kill() {
      ended.by ??= 'terminated by kill()'
      void worker.terminate()
    },
    [Symbol.asyncDispose]() {
      return disposeChild(this) // not a closure over `handle`: one would keep it (and its ends) alive from the link
    },
  }
  return handle
}

function moduleUrl(m: string | URL): string {
  if (m instanceof URL) return m.href
  if (m.startsWith('file:')) return m
  return pathToFileURL(isAbsolute(m) ? m : resolve(m)).href
}
