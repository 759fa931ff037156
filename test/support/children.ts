/**
 * For tests that start real children: a hang guard for any wait, and tracking of the children a
 * test starts, so that every one still alive when the test ends is killed and awaited.
 */
import { afterEach } from 'vitest'
import type { ChildProcessHandle, WorkerHandle } from 'ipfi'

/** `p`, or a rejection naming `what` if it takes longer than `ms`. */
export function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const error = new Error(`hang guard: ${what} did not happen within ${ms} ms`) // made here: its stack shows the wait
  const guard = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(error), ms)
  })
  return Promise.race([p, guard]).finally(() => clearTimeout(timer))
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyChild = ChildProcessHandle<any, any> | WorkerHandle<any, any>

/**
 * Registers an afterEach that kills (SIGKILL, or terminate for a worker) and awaits every tracked
 * child; returns `track`. Hooks registered after this one run before it.
 */
export function trackChildren(guardMs: number): <C extends AnyChild>(c: C) => C {
  const live = new Set<AnyChild>()
  afterEach(async () => {
    const children = [...live]
    live.clear()
    await Promise.all(
      children.map(async (c) => {
        if ('process' in c) c.kill('SIGKILL')
        else c.kill()
        await within(c.exited, guardMs, 'a child to end in cleanup').catch(() => {})
      }),
    )
  })
  return (c) => {
    live.add(c)
    return c
  }
}
