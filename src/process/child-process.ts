/** What fork() and spawn() share: a started child process, linked over a wire, as a handle. */
import type { ChildProcess } from 'node:child_process'
import { LinkImpl } from '../link/link.js'
import type { LinkLimits } from '../link/limits.js'
import type { Wire } from '../wire/wire.js'
import { offerEnds } from './bootstrap.js'
import { disposeChild, type Child } from './child.js'
import { childEnd, type ExitInfo } from './exit.js'

export interface ChildProcessHandle<ToChild, ToParent> extends Child<ToChild, ToParent> {
  /** The Node ChildProcess (for its pid, and stdio when `stdio: 'pipe'`). */
  readonly process: ChildProcess
  readonly pid: number | undefined
}

/**
 * Link to `child` over `wire` and hand it its ends. When the wire ends, the link's loss carries the
 * child's exit status; if the child never started, `exited` rejects and so does everything on it.
 */
export function linkChildProcess<ToChild, ToParent>(
  child: ChildProcess,
  wire: Wire,
  name: string,
  options: { data?: unknown; limits?: Partial<LinkLimits> },
): ChildProcessHandle<ToChild, ToParent> {
  const exited = new Promise<ExitInfo>((resolve, reject) => {
    child.once('exit', (code, signal) => resolve({ code, signal }))
    child.on('error', (err) => {
      // Failed to start: 'exit' will not come. Otherwise (an aborted `signal`, a failed kill) the
      // exit that follows tells the link what happened.
      if (child.pid === undefined) reject(err)
    })
  })
  exited.catch(() => {})
  const link = new LinkImpl(wire, { name, ...options.limits, onWireEnd: (_, failure) => childEnd(exited, { pid: child.pid }, failure) })
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
    [Symbol.asyncDispose]() {
      return disposeChild(this) // not a closure over `handle`: one would keep it (and its ends) alive from the link
    },
  }
  return handle
}
