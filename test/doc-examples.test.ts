/**
 * The examples in the doc comments of src/ run as they are: each ```js block inside a /** comment
 * is run with the package's exports in scope, and what it prints must match the `// value` comments
 * on its console.log lines (the text before the first ':' of the comment, commas separating lines).
 */
import { execFile } from 'node:child_process'
import { readFileSync, readdirSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'

const root = fileURLToPath(new URL('..', import.meta.url))
const src = join(root, 'src')
const files = (dir: string): string[] =>
  readdirSync(dir).flatMap((n) => (statSync(join(dir, n)).isDirectory() ? files(join(dir, n)) : n.endsWith('.ts') ? [join(dir, n)] : []))

interface Example {
  where: string
  code: string
  expected: string[]
}

const examples: Example[] = files(src).flatMap((f) =>
  [...readFileSync(f, 'utf8').matchAll(/^ *\* ```js\n([\s\S]*?)^ *\* ```/gm)].map((m) => {
    const code = m[1]!.replace(/^ *\* ?/gm, '')
    const expected = [...code.matchAll(/console\.log\(.*\)\s*\/\/ ([^:\n]*)/g)].flatMap((c) => c[1]!.split(',').map((s) => s.trim()))
    return { where: relative(root, f), code, expected }
  }),
)

describe('doc comment examples', () => {
  it('the API carries examples: channel(), fork(), expose(), remote()', () => {
    const where = examples.map((e) => e.where)
    for (const f of ['src/channel/channel.ts', 'src/process/fork.ts', 'src/procedures/expose.ts', 'src/procedures/remote.ts']) expect(where).toContain(f)
  })

  for (const e of examples) {
    it(`${e.where}: ${e.code.split('\n')[0]}`, async () => {
      const program = `import { channel, fork, spawnWorker, expose, remote, transfer } from 'ipfi'\n${e.code}`
      const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', program], { cwd: root, timeout: 30_000 })
      expect(stdout.trim().split('\n')).toEqual(e.expected)
    })
  }
})
