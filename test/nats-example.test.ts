/**
 * README's "Across hosts" section and examples/across-hosts/ as a user runs them: the commands the
 * section gives, against a real nats-server (started here on a free loopback port, NATS_URL naming
 * it), the server and two workers each a node process of its own.
 */
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { within } from './support/async.js'
import { startNatsServer } from './support/nats-server.js'

const root = fileURLToPath(new URL('..', import.meta.url))
const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8')
const section = readme.slice(readme.indexOf('\n## Across hosts\n'), readme.indexOf('\n## ', readme.indexOf('\n## Across hosts\n') + 5))
const GUARD = 60_000

let nats: Awaited<ReturnType<typeof startNatsServer>>
beforeAll(async () => {
  nats = await startNatsServer()
})
afterAll(async () => {
  await nats?.close()
})

/** `node <args>` as README says, with NATS_URL pointing at the test's server: its lines and exit code. */
function node(args: string[]) {
  const c = spawn(process.execPath, args, { cwd: root, env: { ...process.env, NATS_URL: `nats://${nats.hostPort}` }, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  c.stdout.on('data', (d) => (out += d))
  c.stderr.on('data', (d) => (err += d))
  const exited = new Promise<{ code: number | null; lines: string[]; err: string }>((r) => c.once('exit', (code) => r({ code, lines: out.trimEnd().split('\n'), err })))
  return { exited, said: () => out, kill: () => c.kill('SIGKILL') }
}

describe('README: Across hosts', () => {
  it('says how to start nats-server and install the client, and runs the example with these commands', () => {
    expect(section).toContain('apt-get install -y nats-server')
    expect(section).toContain('nats-server -a 127.0.0.1 -p 4222')
    expect(section).toContain('npm install @nats-io/transport-node')
    for (const cmd of ['node examples/across-hosts/server.mjs', 'node examples/across-hosts/worker.mjs w1', 'node examples/across-hosts/worker.mjs w2']) expect(section).toContain(`\n${cmd}\n`)
    expect(section).not.toContain('BENCH_FIGURES')
  })

  it('examples/across-hosts: a server and two workers on a local nats-server share the jobs, and all exit 0', { timeout: GUARD + 10_000 }, async () => {
    const commands = [...section.matchAll(/^node (examples\/across-hosts\/\S+)( \S+)?$/gm)].map((m) => [m[1]!, ...(m[2] ? [m[2].trim()] : [])])
    expect(commands).toHaveLength(3)
    const server = node(commands[0]!)
    try {
      await within(
        (async () => {
          while (!server.said().includes('waiting for 2 workers')) await new Promise((r) => setTimeout(r, 20))
        })(),
        GUARD,
        'the server to listen',
      )
      const workers = commands.slice(1).map((c) => node(c))
      const [w1, w2] = await within(Promise.all(workers.map((w) => w.exited)), GUARD, 'the workers to finish')
      const s = await within(server.exited, GUARD, 'the server to finish')
      for (const r of [s, w1!, w2!]) expect(r.code, r.err).toBe(0)
      expect(s.lines[0]).toBe(`server: listening on nats://${nats.hostPort}/ipfi-example.jobs, waiting for 2 workers`)
      expect(s.lines.filter((l) => l.startsWith('server: worker ')).sort()).toEqual(['server: worker w1 connected', 'server: worker w2 connected'])
      const jobs = s.lines.map((l) => /^server: job (\d+) = (\d+) \(by (w[12])\)$/.exec(l)).filter((m) => m !== null)
      expect(jobs.map((m) => Number(m[1])).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]) // each job once
      for (const m of jobs) expect(Number(m[2])).toBe(Number(m[1]) ** 2)
      const count = (w: string) => jobs.filter((m) => m[3] === w).length
      expect(count('w1') + count('w2')).toBe(8)
      expect(w1!.lines).toEqual([`worker w1: ${count('w1')} jobs done`])
      expect(w2!.lines).toEqual([`worker w2: ${count('w2')} jobs done`])
      expect(s.lines.slice(-2)).toEqual([expect.stringMatching(/^server: 8 jobs done \(w[12] \d, w[12] \d\)$/), 'server: closed'])
    } finally {
      server.kill()
    }
  })
})
