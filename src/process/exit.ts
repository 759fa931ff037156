/** What a link reports when the process or thread on its other side ends. */
export interface ExitInfo {
  code: number | null
  signal: NodeJS.Signals | null
}

/** The cause carried by ConnectionLostError when a child ends: its exit status. */
export interface ExitCause extends ExitInfo {
  pid?: number
  threadId?: number
}

/** Wait up to `ms` for the exit status, so the link's loss can carry it as its cause. */
export function exitCause(exited: Promise<ExitInfo>, who: { pid?: number; threadId?: number }, ms = 2000): Promise<ExitCause | undefined> {
  let timer: NodeJS.Timeout
  return Promise.race([
    exited.then((e) => ({ ...who, ...e }), () => undefined),
    new Promise<undefined>((r) => {
      timer = setTimeout(() => r(undefined), ms)
      timer.unref()
    }),
  ]).finally(() => clearTimeout(timer))
}
