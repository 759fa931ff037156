/**
 * Smoke test of the benchmark suite (bench/run.mjs): run it with --quick --tiny (a handful of
 * iterations) and check that it exits 0 and reports every scenario with positive numbers. It asserts
 * nothing about speed: timing on shared machines is noise, and that is the benchmark's job.
 */
import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const root = fileURLToPath(new URL('..', import.meta.url))

// Every scenario the suite defines, by its own list: a new scenario is covered without editing this.
// @ts-expect-error plain JS, no declarations
const { scenarios, pinnedIds } = (await import('../bench/scenarios/index.mjs')) as {
  scenarios: { id: string; type: 'echo' | 'oneway' | 'payload'; kind: string; compareWith?: string[]; open?: unknown; raw?: string | null; needs?: string }[]
  pinnedIds: string[]
}
const ECHO_SCENARIOS = scenarios.filter((s) => s.type === 'echo').map((s) => s.id)
const ONEWAY_SCENARIOS = scenarios.filter((s) => s.type === 'oneway').map((s) => s.id)
const PAYLOAD_SCENARIOS = scenarios.filter((s) => s.type === 'payload').map((s) => s.id)
// @ts-expect-error plain JS, no declarations
const { METRICS } = (await import('../bench/lib/measure/summary.mjs')) as { METRICS: Record<string, string[]> }
const RATIO_PAIRS = scenarios.flatMap((s) => (s.compareWith ?? []).map((b) => `${s.id}/${b}`))
// The Python implementation's scenarios (bench/scenarios/python.mjs); grpcio's only where it imports.
// @ts-expect-error plain JS, no declarations
const { HAS_GRPCIO } = (await import('../bench/lib/open/python.mjs')) as { HAS_GRPCIO: boolean }
const PYTHON_ECHO = ['py-raw-unix', 'py-ipfi-unix', 'js-py-ipfi-unix', 'py-js-ipfi-unix', 'py-ipfi-proc-unix', 'js-py-proc-unix', ...(HAS_GRPCIO ? ['grpcio-unary-unix'] : [])]
const PYTHON_ONEWAY = ['py-raw-unix-oneway', 'py-ipfi-unix-oneway', 'ipfi-unix-socket-oneway', 'js-py-ipfi-unix-oneway']

interface Run {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

function runBench(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['bench/run.mjs', ...args], { cwd: root, timeout: 210_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      const e = err as (Error & { code?: number | string; signal?: NodeJS.Signals }) | null
      resolve({ code: e ? (typeof e.code === 'number' ? e.code : null) : 0, signal: e?.signal ?? null, stdout, stderr })
    })
  })
}

const positive = (x: unknown) => typeof x === 'number' && Number.isFinite(x) && x > 0

describe('benchmark suite (smoke)', () => {
  // The suite opens some 50 workers and children: allow it time on a loaded 2-vCPU machine.
  it('runs --quick --tiny, exits 0, and reports every scenario with positive numbers, then the pinned pass', { timeout: 240_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ipfi-bench-smoke-'))
    try {
      // --out FILE.md: the tables there, every figure in FILE.json, the chart in FILE.svg.
      const run = await runBench(['--quick', '--tiny', '--out', join(dir, 'result.md')])
      expect(run.stderr).not.toMatch(/bench failed/)
      expect({ code: run.code, signal: run.signal }).toEqual({ code: 0, signal: null })
      expect(run.stdout).toContain('| transport |')

      const r = JSON.parse(readFileSync(join(dir, 'result.json'), 'utf8'))
      expect(r.mode).toBe('tiny')
      expect(Number.isNaN(Date.parse(r.date))).toBe(false)
      expect(r.node).toBe(process.version)
      expect(positive(r.cpus)).toBe(true)
      expect(r.rounds).toBe(3)

      // The NATS scenarios ran (nats-server is installed where the tests run: .ci/run installs it),
      // and the report gives their targets' ratios.
      expect(r.unavailable).toBeNull()
      expect(scenarios.filter((s) => s.needs === 'nats-server').map((s) => s.id)).toEqual(
        expect.arrayContaining(['raw-nats-request', 'raw-nats-oneway', 'raw-nats-request-1mib', 'ipfi-nats-channel', 'ipfi-proc-nats', 'ipfi-nats-1mib', 'ipfi-nats-oneway']),
      )
      expect(run.stdout).toContain('NATS targets (issue 15)')
      expect(run.stdout.match(/^\| (channels one way|procedures, RT\/s with 100 in flight|1 MiB payload)[^|]*\|/gm)).toHaveLength(3)
      expect(Object.keys(r.scenarios).sort()).toEqual([...ECHO_SCENARIOS, ...ONEWAY_SCENARIOS, ...PAYLOAD_SCENARIOS].sort())
      // Python beside JS on the same Unix socket, each Python peer against the raw Python baseline.
      expect(ECHO_SCENARIOS).toEqual(expect.arrayContaining(PYTHON_ECHO))
      expect(ECHO_SCENARIOS.includes('grpcio-unary-unix')).toBe(HAS_GRPCIO)
      expect(ONEWAY_SCENARIOS).toEqual(expect.arrayContaining(PYTHON_ONEWAY))
      expect(r.scenarios['py-ipfi-unix'].raw).toBe('py-raw-unix')
      // Python procedure calls beside grpcio unary calls on the same socket (where grpcio imports).
      if (HAS_GRPCIO) expect(RATIO_PAIRS).toContain('py-ipfi-proc-unix/grpcio-unary-unix')
      expect(r.scenarios['py-ipfi-unix-oneway'].raw).toBe('py-raw-unix-oneway')
      for (const id of ECHO_SCENARIOS) {
        const s = r.scenarios[id]
        expect(s.rounds, id).toHaveLength(3)
        for (const k of METRICS.echo) {
          expect(positive(s.median[k]), `${id} ${k} = ${s.median[k]}`).toBe(true)
          for (const round of s.rounds) expect(positive(round[k]), `${id} ${k} in a round`).toBe(true)
        }
        expect(s.median.p99Us).toBeGreaterThanOrEqual(s.median.p50Us)
        // Slow scenarios run fewer iterations, marked ¹ in the report with their note.
        if (s.note) {
          expect(s.iterations.latency, `${id} latency iterations`).toBeLessThan(r.iterations.latency)
          expect(run.stdout).toContain(`| ${s.label} ¹ |`)
          expect(run.stdout).toContain(`¹ ${s.label}: ${s.note};`)
        }
      }
      for (const id of ONEWAY_SCENARIOS) {
        const s = r.scenarios[id]
        expect(s.rounds, id).toHaveLength(3)
        expect(positive(s.median.msgsPerSec), `${id} msgsPerSec`).toBe(true)
      }

      for (const id of PAYLOAD_SCENARIOS) {
        const s = r.scenarios[id]
        expect(s.rounds, id).toHaveLength(3)
        expect(positive(s.median.mibPerSec), `${id} mibPerSec`).toBe(true)
        expect(positive(s.median.parentPeakRss), `${id} parentPeakRss`).toBe(true)
        // A child process reports its peak RSS; a worker thread shares this process.
        if (s.kind === 'process') expect(positive(s.median.childPeakRss), `${id} childPeakRss`).toBe(true)
        else expect(s.median.childPeakRss).toBeNull()
        expect(positive(s.iterations.payloadBytes), `${id} payloadBytes`).toBe(true)
        expect(s.median.parentPeakRssPerPayload).toBeCloseTo(s.median.parentPeakRss / s.iterations.payloadBytes)
        expect(typeof s.median.parentRssGrowth, `${id} parentRssGrowth`).toBe('number')
      }
      // --tiny shrinks the "50 MiB" payload to 2 MiB; the other is 1 MiB.
      expect([...new Set(PAYLOAD_SCENARIOS.map((id) => r.scenarios[id].iterations.payloadBytes))].sort((a, b) => a - b)).toEqual([1 << 20, 2 << 20])
      expect(run.stdout).toContain('| payload transport |')
      expect(run.stdout).toContain('| measure |')

      // Every figure is also a ratio to the raw transport of its kind, where the scenario has one.
      for (const s of Object.values(r.scenarios) as { id: string; type: string; raw: string | null; vsRaw: Record<string, number> | null }[]) {
        if (!s.raw) {
          expect(s.vsRaw, s.id).toBeNull()
          continue
        }
        expect(r.scenarios[s.raw], `${s.id}: raw ${s.raw}`).toBeDefined()
        for (const k of METRICS[s.type]) expect(positive(s.vsRaw?.[k]), `${s.id} vs raw ${k}`).toBe(true)
      }

      // The wires that count their bytes give a cost per byte; the one-byte wire is among them.
      expect(r.costPerByte.map((c: { id: string }) => c.id)).toContain('ipfi-memory-chunk1')
      for (const c of r.costPerByte) {
        for (const k of ['wireBytesPerRt', 'usPerByte', 'bytesPerSec1InFlight', 'bytesPerSec100InFlight']) expect(positive(c[k]), `${c.id} ${k}`).toBe(true)
      }
      expect(run.stdout).toContain('| wire | bytes per round trip |')

      expect(r.ratios.map((x: { ipfi: string; baseline: string }) => `${x.ipfi}/${x.baseline}`).sort()).toEqual([...RATIO_PAIRS].sort())
      for (const x of r.ratios) {
        expect(x.type).toBe(r.scenarios[x.ipfi].type)
        for (const k of METRICS[x.type]) expect(positive(x[k]), `${x.ipfi}/${x.baseline} ${k}`).toBe(true)
      }

      // The tables printed are the tables written, followed by where the JSON and the chart are.
      const md = readFileSync(join(dir, 'result.md'), 'utf8')
      const tables = md.slice(0, md.indexOf('\n\nWritten by bench/run.mjs'))
      expect(tables).toContain('| transport |')
      expect(run.stdout).toContain(tables)
      expect(md).toContain('[result.json](result.json)')
      expect(md).toContain('[result.svg](result.svg)')

      // The ratio chart, one bar per ratio.
      const svg = readFileSync(join(dir, 'result.svg'), 'utf8')
      expect(svg).toMatch(/^<svg /)
      expect(svg.match(/<rect /g)?.length).toBe(1 + r.ratios.length)

      // Every child process and worker thread ended by itself, with code 0: one per worker or child
      // (or server) a scenario opens, once for the whole run.
      expect(r.children.length).toBe(scenarios.filter((s) => s.open && s.kind !== 'in-process').length)
      for (const c of r.children) expect(c, c.what).toMatchObject({ code: 0, signal: null, forced: false })

      // The streams both ways are there: result, argument and bidirectional; fast and slow consumers.
      for (const id of ['ipfi-proc-stream', 'ipfi-proc-stream-slow', 'ipfi-proc-argstream', 'ipfi-proc-argstream-slow', 'ipfi-proc-bidi']) {
        expect(ONEWAY_SCENARIOS, id).toContain(id)
      }
      expect(r.scenarios['ipfi-proc-argstream-slow'].consumerLimitPerSec).toBeGreaterThan(0)
      // The loop styles beside the plain `await recv()` loops.
      for (const id of ['ipfi-worker-for-await', 'ipfi-worker-tuned', 'ipfi-fork-for-await']) expect(ECHO_SCENARIOS, id).toContain(id)

      // Then the pinned latency pass, by default: its own files beside --out (FILE-pinned.*), the
      // pinned scenarios only (one call in flight: procedures against birpc and comlink), or a
      // plain statement that this machine cannot pin.
      expect(run.stdout).toContain('Pinned latency pass')
      if (/The pinned latency pass did not run: this machine cannot pin/.test(run.stdout)) return
      const p = JSON.parse(readFileSync(join(dir, 'result-pinned.json'), 'utf8'))
      expect(p.pinned).toBe(true)
      expect(p.pinnedPass).toBe(true)
      expect(p.mode).toBe('tiny')
      expect(Object.keys(p.scenarios).sort()).toEqual([...pinnedIds].sort())
      for (const id of pinnedIds) {
        expect(p.scenarios[id].rounds, id).toHaveLength(3)
        for (const k of METRICS.echo) expect(positive(p.scenarios[id].median[k]), `pinned ${id} ${k}`).toBe(true)
      }
      const pinnedPairs = scenarios
        .filter((s) => pinnedIds.includes(s.id))
        .flatMap((s) => (s.compareWith ?? []).filter((b) => pinnedIds.includes(b)).map((b) => `${s.id}/${b}`))
      expect(p.ratios.map((x: { ipfi: string; baseline: string }) => `${x.ipfi}/${x.baseline}`).sort()).toEqual(pinnedPairs.sort())
      for (const pair of ['ipfi-proc-worker/birpc-worker', 'ipfi-proc-worker/comlink-worker', 'ipfi-proc-fork/birpc-fork']) expect(pinnedPairs).toContain(pair)
      expect(p.children.length).toBe(scenarios.filter((s) => pinnedIds.includes(s.id) && s.open && s.kind !== 'in-process').length)
      for (const c of p.children) expect(c, c.what).toMatchObject({ code: 0, signal: null, forced: false })
      expect(readFileSync(join(dir, 'result-pinned.md'), 'utf8')).toContain('pinned to one CPU')
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
