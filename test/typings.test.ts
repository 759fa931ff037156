// The built typings, type-checked the way consumers' projects load them: for each project set-up
// in the matrix below, a tiny consumer in a temporary folder imports 'ipfi' (a symlink to this
// package in its node_modules, so resolution goes through package.json's exports, main and types)
// and the repo's own tsc checks it with skipLibCheck off, so an error inside dist/index.d.ts or
// dist/index.d.cts is reported like one in the consumer. Each consumer holds one deliberate type
// error, which must be the only one reported: that proves the typings were loaded and typed.
// Then @arethetypeswrong/cli checks the packed package (resolution of every entry point under
// node10, node16 from CJS and from ESM, and bundler: CJS typings for ESM code, missing types, ...);
// it reads the local tarball only. Needs the built package (`npm test` runs tsup first).
import { execFile } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const root = fileURLToPath(new URL('..', import.meta.url))
const tsc = join(root, 'node_modules/typescript/bin/tsc')

interface Fixture {
  name: string
  compilerOptions: Record<string, unknown>
  /** The consumer's file name: its extension decides ESM or CJS under node16/nodenext. */
  file: 'index.ts' | 'index.mts' | 'index.cts'
  /** How the consumer loads the whole package, besides its named imports. */
  namespace: 'require' | 'import'
  /** The typings file of ipfi that this set-up must resolve to. */
  typings: 'index.d.ts' | 'index.d.cts'
}

const common = { target: 'ES2022', strict: true, skipLibCheck: false, noEmit: true }
const fixtures: Fixture[] = [
  { name: 'module commonjs, moduleResolution node10', compilerOptions: { module: 'commonjs', moduleResolution: 'node10' }, file: 'index.ts', namespace: 'require', typings: 'index.d.ts' },
  { name: 'module commonjs, moduleResolution node10, esModuleInterop', compilerOptions: { module: 'commonjs', moduleResolution: 'node10', esModuleInterop: true }, file: 'index.ts', namespace: 'require', typings: 'index.d.ts' },
  { name: 'module node16, ESM consumer (.mts)', compilerOptions: { module: 'node16' }, file: 'index.mts', namespace: 'import', typings: 'index.d.ts' },
  { name: 'module node16, CJS consumer (.cts)', compilerOptions: { module: 'node16' }, file: 'index.cts', namespace: 'require', typings: 'index.d.cts' },
  { name: 'module nodenext, ESM consumer (.mts)', compilerOptions: { module: 'nodenext' }, file: 'index.mts', namespace: 'import', typings: 'index.d.ts' },
  { name: 'module nodenext, CJS consumer (.cts)', compilerOptions: { module: 'nodenext' }, file: 'index.cts', namespace: 'require', typings: 'index.d.cts' },
  { name: 'module nodenext, CJS consumer (.cts), esModuleInterop off', compilerOptions: { module: 'nodenext', esModuleInterop: false }, file: 'index.cts', namespace: 'require', typings: 'index.d.cts' },
  { name: 'module esnext, moduleResolution bundler', compilerOptions: { module: 'esnext', moduleResolution: 'bundler' }, file: 'index.ts', namespace: 'import', typings: 'index.d.ts' },
]

const consumer = (f: Fixture) => `import {
  channel, expose, fork, listen, remote,
  Sender, Receiver, Endpoint, Server,
  type ForkOptions, type ChildProcessHandle, type ListenOptions, type Remote,
} from 'ipfi'
${f.namespace === 'require' ? "import ipfi = require('ipfi')" : "import * as ipfi from 'ipfi'"}

const [tx, rx] = channel<number>()
const sender: Sender<number> = tx
const receiver: Receiver<number> = rx
export const next: Promise<number> = receiver.recv()
export const strings: [ipfi.Sender<string>, ipfi.Receiver<string>] = ipfi.channel<string>()

const api = {
  add: (a: number, b: number) => a + b,
  async *count(n: number) { for (let i = 1; i <= n; i++) yield i },
}
const endpoint: Endpoint<typeof api> = expose(api)
const proxy: Remote<typeof api> = remote(endpoint)
export const sum: Promise<number> = proxy.add(1, 2)
export const counted: AsyncIterableIterator<number> = proxy.count(3)

const options: ForkOptions = { args: ['--flag'], stdio: 'pipe', limits: { maxFrameBytes: 1 << 20 } }
export const start = (): ChildProcessHandle<string, number> => fork<string, number>('./child.js', options)
const tls: ListenOptions['tls'] = { rejectUnauthorized: true, minVersion: 'TLSv1.3' }
export const serve = (): Promise<Server<string, number>> => listen<string, number>('tls://127.0.0.1:0', { tls })

sender.send(1)
sender.send('not a number') // the deliberate error: the only one tsc may report
`
/** 1-based line of the deliberate error in every consumer. */
const errorLine = consumer(fixtures[0]!).split('\n').findIndex((l) => l.includes('the deliberate error')) + 1

let dir: string
beforeAll(() => {
  for (const t of ['index.d.ts', 'index.d.cts']) {
    if (!existsSync(join(root, 'dist', t))) throw new Error(`dist/${t} is missing: build first (npx tsup)`)
  }
  dir = mkdtempSync(join(tmpdir(), 'ipfi-typings-'))
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** A consumer project in its own folder, with ipfi and @types/node linked into its node_modules. */
function makeProject(f: Fixture, index: number): string {
  const project = join(dir, `consumer-${index}`)
  mkdirSync(join(project, 'node_modules/@types'), { recursive: true })
  symlinkSync(root, join(project, 'node_modules/ipfi'), 'dir')
  symlinkSync(join(root, 'node_modules/@types/node'), join(project, 'node_modules/@types/node'), 'dir')
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: `consumer-${index}`, private: true }))
  writeFileSync(join(project, 'tsconfig.json'), JSON.stringify({ compilerOptions: { ...common, ...f.compilerOptions }, files: [f.file] }, null, 2))
  writeFileSync(join(project, f.file), consumer(f))
  return project
}

async function check(project: string): Promise<{ errors: string[]; files: string[] }> {
  const out = await promisify(execFile)(process.execPath, [tsc, '-p', project, '--pretty', 'false', '--listFiles'], {
    cwd: project,
    timeout: 120_000,
  }).then(
    (r) => r.stdout,
    (e: { stdout?: string }) => e.stdout ?? String(e),
  )
  const lines = out.split('\n').filter((l) => l.trim() !== '')
  return { errors: lines.filter((l) => /error TS\d+/.test(l)), files: lines.filter((l) => !/error TS\d+/.test(l) && !l.startsWith(' ')) }
}

describe('the built typings type-check in consumers of every module set-up, skipLibCheck off', () => {
  fixtures.forEach((f, i) => {
    it(f.name, async () => {
      const { errors, files } = await check(makeProject(f, i))
      // Only the deliberate error, where it was put, and nothing in ipfi's typings.
      expect(errors).toEqual([expect.stringMatching(new RegExp(`^${f.file.replace('.', '\\.')}\\(${errorLine},\\d+\\): error TS2345: `))])
      // Resolved through package.json to the typings meant for this kind of consumer.
      const ipfiTypings = files.filter((p) => p.includes(`${root.replace(/\/$/, '')}/dist/`))
      expect(ipfiTypings.map((p) => p.slice(p.lastIndexOf('/') + 1))).toEqual([f.typings])
    })
  })
})

describe('the packed package, checked by @arethetypeswrong/cli', () => {
  it('has no problem in any resolution mode', async () => {
    const packed = join(dir, 'packed')
    mkdirSync(packed)
    // npm is the one on PATH (run with its own Node): only npm pack, no registry.
    const { stdout } = await promisify(execFile)('npm', ['pack', '--json', '--pack-destination', packed], { cwd: root, timeout: 120_000 })
    const [tarball] = readdirSync(packed)
    // What is published: the built package and the docs pages, never the generated API reference.
    const paths = (JSON.parse(stdout) as { files: { path: string }[] }[])[0]!.files.map((f) => f.path)
    expect(paths).toEqual(expect.arrayContaining(['dist/index.d.ts', 'dist/index.d.cts', 'docs/PROTOCOL.md']))
    expect(paths.filter((p) => p.startsWith('docs/api'))).toEqual([])
    const attw = join(root, 'node_modules/@arethetypeswrong/cli/dist/index.js')
    const result = await promisify(execFile)(process.execPath, [attw, join(packed, tarball!), '--format', 'json', '--no-definitely-typed'], {
      timeout: 120_000,
    }).then(
      (r) => ({ code: 0, stdout: r.stdout }),
      (e: { code?: number; stdout?: string }) => ({ code: e.code, stdout: e.stdout ?? String(e) }),
    )
    const report = JSON.parse(result.stdout) as { problems?: Record<string, unknown>; analysis: { types: unknown; entrypoints: Record<string, unknown> } }
    expect(report.problems ?? {}).toEqual({})
    expect(report.analysis.types).not.toBe(false)
    expect(Object.keys(report.analysis.entrypoints)).toEqual(['.', './package.json'])
    expect(result.code).toBe(0)
  })
})
