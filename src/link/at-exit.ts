/**
 * When this process (or worker thread) exits, each open link writes what it has queued, at once and
 * synchronously (Node runs no I/O after `exit`), ending with a GOODBYE: an orderly one for exit code
 * 0, one that names the failure otherwise (an uncaught exception's message, or the exit code).
 */

export interface ExitingLink {
  /** Write what is queued and a GOODBYE now, saying `reason`, and whether this end is a failure. */
  atExit(reason: string, failed: boolean, deadline: number): void
}

/** How long an exiting process waits for its peers to take what it wrote last. */
export const EXIT_FLUSH_MS = 10_000

const links = new Set<ExitingLink>()
let installed = false
/** The last uncaught exception or unhandled rejection, as a line of text. */
let crash: string | null = null

export function watchExit(link: ExitingLink): void {
  links.add(link)
  if (!installed) install()
}

export function unwatchExit(link: ExitingLink): void {
  links.delete(link)
}

function install(): void {
  installed = true
  // The monitor only watches: the process still dies (or not) as it would without it.
  process.on('uncaughtExceptionMonitor', (err, origin) => noteCrash(err, origin === 'unhandledRejection' ? 'unhandled rejection' : 'uncaught exception'))
  process.on('exit', (code) => {
    const failure = code === 0 ? null : (crash ?? `exited with code ${code}`)
    const deadline = Date.now() + EXIT_FLUSH_MS
    for (const link of [...links]) link.atExit(failure ?? 'exited with code 0', failure !== null, deadline)
  })
}

/** Remember why this process is about to fail (the boot code of a child reports its module's error here). */
export function noteCrash(err: unknown, how: string): void {
  crash = `${how}: ${describe(err)}`
}

function describe(err: unknown): string {
  try {
    return err instanceof Error ? `${err.name}: ${err.message}` : String(err)
  } catch {
    return 'a value that cannot be printed'
  }
}
