/**
 * The examples run as users run them (`node examples/...` against the built package, imported by
 * name) and type-check with their JSDoc types, so they cannot rot.
 */
import { execFile } from 'node:child_process'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'

const root = fileURLToPath(new URL('..', import.meta.url))
const run = promisify(execFile)

async function node(script: string): Promise<string[]> {
  const { stdout } = await run(process.execPath, [script], { cwd: root, timeout: 60_000 })
  return stdout.trimEnd().split('\n')
}

describe('examples', () => {
  it('worker-pool: jobs fanned out over forked workers, progress, one job cancelled, clean shutdown', async () => {
    const lines = await node('examples/worker-pool/main.mjs')
    const text = lines.join('\n')
    expect(lines[0]).toMatch(/^pool: 3 workers up \(pids \d+, \d+, \d+\)$/)
    for (const job of [1, 2, 3, 5, 6]) {
      expect(lines).toContain(`job ${job}: 50%`)
      expect(lines).toContain(`job ${job}: 100%`)
      expect(text).toMatch(new RegExp(`^job ${job}: done by worker [123], result \\d+$`, 'm'))
    }
    // The cancelled job: its progress reached the caller, the caller's call rejected with the
    // abort reason, and the worker running it saw currentCall().signal abort.
    expect(lines).toContain('job 4: 50%')
    expect(lines).toContain('job 4: rejected here with "job 4 is not needed any more"')
    expect(text).toMatch(/^ {2}worker [123]: job 4 cancelled \(currentCall\(\)\.signal aborted: AbortError\)$/m)
    expect(text).not.toMatch(/job 4: (100%|done)/)
    expect(lines).toContain('pool: 5 of 6 jobs done, 1 cancelled')
    expect(lines.at(-1)).toBe('pool: workers exited with codes 0, 0, 0')
  }, 90_000)

  it('command-handler: typed commands with a server context, in a forked child', async () => {
    const lines = await node('examples/command-handler.mjs')
    // What the server prints itself comes from the child (same stdout).
    expect(lines).toContain('  server: print "hello" (stack [1,2,3])')
    expect(lines.filter((l) => !l.startsWith('  server:'))).toEqual([
      'add 2 40 -> sum 42',
      'push 1 -> stack [1]',
      'push 2 -> stack [1,2]',
      'push 3 -> stack [1,2,3]',
      'print -> printed true',
      'script -> [{"stack":[1,2,3,4]},{"sum":2}]',
      'push -1 -> RangeError (E_BAD_ARG): push takes a non-negative integer, got -1',
      'server exited with code 0',
    ])
  }, 90_000)

  it('python-parent: a Node parent and a Python child call each other and pass a channel (needs python3)', async () => {
    expect(await node('examples/python-parent.mjs')).toEqual([
      'HI FROM NODE',
      'word: a',
      'word: stream',
      'word: of',
      'word: words',
      'from Python: tick 0',
      'from Python: tick 1',
      'from Python: tick 2',
      'progress 0.5',
      'progress 1',
      'done',
      'hello, Ada, from Node',
      'python exited with code 0',
    ])
  }, 90_000)

  it('type-check (tsc -p tsconfig.examples.json)', async () => {
    const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc')
    const result = await run(process.execPath, [tsc, '-p', 'tsconfig.examples.json'], { cwd: root, timeout: 120_000 }).then(
      ({ stdout }) => ({ ok: true, stdout }),
      (e: { stdout?: string; message: string }) => ({ ok: false, stdout: e.stdout ?? e.message }),
    )
    expect(result.stdout.trim()).toBe('')
    expect(result.ok).toBe(true)
  }, 150_000)
})
