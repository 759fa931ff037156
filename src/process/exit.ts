import type { PeerEnd } from '../link/link.js'

/** What a link reports when the process or thread on its other side ends. */
export interface ExitInfo {
  code: number | null
  signal: NodeJS.Signals | null
}

/** The cause carried by ConnectionLostError (or, for exit code 0, DisconnectedError) when a child ends: its exit status. */
export interface ExitCause extends ExitInfo {
  pid?: number
  threadId?: number
  /** What the child said when it failed: its uncaught exception (`"uncaught exception: Error: boom"`). */
  reason?: string
}

/**
 * How a child's link ended, once its wire ended or it said it failed: exit code 0 (and no failure
 * said) is an orderly end; a non-zero code or a signal is a loss, carrying the exit status.
 * `killed`: why the parent ended the child itself (a worker terminated before its code ran exits
 * with code 0: that is a loss too, and the reason says so).
 */
export async function childEnd(
  exited: Promise<ExitInfo>,
  who: { pid?: number; threadId?: number },
  peerFailure: string | null,
  killed: string | null = null,
): Promise<PeerEnd | undefined> {
  const status = await exitCause(exited, who)
  if (!status) return undefined
  const clean = status.code === 0 && status.signal === null
  // The exit status says as much as a bare 'exited with code N'.
  if (peerFailure !== null && peerFailure !== `exited with code ${status.code}`) status.reason = peerFailure
  else if (killed !== null && clean) status.reason = killed
  return { cause: status, orderly: peerFailure === null && killed === null && clean }
}

/** Wait up to `ms` for the exit status, so the link's loss can carry it as its cause. */
function exitCause(exited: Promise<ExitInfo>, who: { pid?: number; threadId?: number }, ms = 2000): Promise<ExitCause | undefined> {
  let timer: NodeJS.Timeout
  return Promise.race([
    exited.then((e) => ({ ...who, ...e }), () => undefined),
    new Promise<undefined>((r) => {
      timer = setTimeout(() => r(undefined), ms)
      timer.unref()
    }),
  ]).finally(() => clearTimeout(timer))
}
