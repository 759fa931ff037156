/**
 * For tests that start real children: tracking of the children a test starts, so that every one
 * still alive when the test ends is killed and awaited (the hang guard is `within`, support/async.ts).
 */
import { afterEach } from 'vitest'
import type { ChildProcessHandle, WorkerHandle } from 'ipfi'
import { within } from './async.js'

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
