/** The handle a parent holds on a child process or worker thread. */
import type { Receiver, ReceiverSet, Sender, channel } from '../channel/index.js'
import type * as errors from '../errors.js'
import type { Link } from '../link/link.js'
import type { callback, currentCall, expose, remote, RemoteError } from '../procedures/index.js'
import type { ExitInfo } from './exit.js'

export interface Child<ToChild, ToParent> {
  /** Messages to the child (it receives them on `parent().receiver`). */
  readonly sender: Sender<ToChild>
  /** Messages from the child (it sends them on `parent().sender`). */
  readonly receiver: Receiver<ToParent>
  /** Resolves when the child has ended, with its exit code or the signal that ended it. */
  readonly exited: Promise<ExitInfo>
  /** The link to the child. */
  readonly link: Link
  /** End the child (a signal for a process, `terminate()` for a thread). */
  kill(signal?: NodeJS.Signals): void
  /** Close our ends, end the child if it is still running, and wait for it. */
  [Symbol.asyncDispose](): Promise<void>
}

/** Function children get this context. The function closes over nothing: use `ctx.ipfi` for the API. */
export interface ChildContext<ToChild, ToParent, Data = unknown> {
  receiver: Receiver<ToChild>
  sender: Sender<ToParent>
  data: Data
  /** This package's exports, as loaded in the child (the function can't import anything itself). */
  ipfi: IpfiExports & Record<string, unknown>
}

export type ChildFunction<ToChild, ToParent, Data> = (ctx: ChildContext<ToChild, ToParent, Data>) => unknown

export async function disposeChild(c: { sender: Sender<unknown>; receiver: Receiver<unknown>; exited: Promise<ExitInfo>; kill(): void }, graceMs = 2000): Promise<void> {
  c.sender.close()
  c.receiver.close()
  let timer: NodeJS.Timeout | undefined
  const graceful = await Promise.race([
    c.exited.then(() => true, () => true),
    new Promise<false>((r) => (timer = setTimeout(() => r(false), graceMs))),
  ])
  clearTimeout(timer)
  if (!graceful) {
    c.kill()
    await c.exited.catch(() => {})
  }
}

/**
 * The part of the package a shipped function most often needs, typed; the rest is there too.
 * @inline
 */
export interface IpfiExports {
  channel: typeof channel
  Sender: typeof Sender
  Receiver: typeof Receiver
  ReceiverSet: typeof ReceiverSet
  DisconnectedError: typeof errors.DisconnectedError
  ConnectionLostError: typeof errors.ConnectionLostError
  TimeoutError: typeof errors.TimeoutError
  expose: typeof expose
  remote: typeof remote
  callback: typeof callback
  currentCall: typeof currentCall
  RemoteError: typeof RemoteError
}
