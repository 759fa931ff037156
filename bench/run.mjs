#!/usr/bin/env node
/**
 * ipfi benchmark suite. `npm run bench` builds and runs it; it imports the package by name.
 *
 *   node bench/run.mjs [--quick] [--tiny] [--pin] [--only ID,ID] [--out FILE] [--no-pinned-pass]
 *
 * After the unpinned run, a pinned latency pass follows by default (a second run.mjs, --pinned-pass:
 * the scenarios of `pinnedIds` in bench/scenarios/index.mjs, the whole process tree on CPU 0, quick
 * iterations; tiny with --tiny), written beside the results as pinned.* (or FILE-pinned.*). If the
 * machine cannot pin, the output says so and no pinned figures are written. Not after --pin, --only
 * or --no-pinned-pass.
 *
 *   --quick   fewer iterations (under 2 minutes)
 *   --tiny    a handful of iterations and a 2 MiB "large" payload, for the smoke test (also IPFI_BENCH_TINY=1)
 *   --pin     pin the whole process tree to CPU 0 first (taskset -a -p 1 PID), for stable latency
 *   --only    run only these scenarios (ids as in bench/scenarios/index.mjs), e.g. for profiling:
 *             node --cpu-prof --cpu-prof-dir bench/results bench/run.mjs --quick --only ipfi-worker
 *             then node bench/profile-summary.mjs bench/results/*.cpuprofile
 *   --out     where to write the results: FILE.md the tables, FILE.json every figure, FILE.svg the
 *             ratio chart (a .md or .json ending of FILE is dropped first). Default bench/results/latest,
 *             or bench/results/pinned with --pin; with --only, nothing unless given. The tables also go
 *             to stdout.
 *
 * Every transport (echo, payload, and one-way scenarios with open()) is opened once, then measured
 * in rounds: one warm-up round (a quarter of the iterations), then 3 measured rounds, every
 * scenario once per round (order reversed every other round), so raw baselines, ipfi and the peer
 * libraries see the same machine conditions. Figures are medians over the rounds
 * (bench/lib/measure/summary.mjs). What one round measures: bench/lib/measure/round.mjs. Every reply is checked,
 * and each echo transport first echoes a unique probe.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { performance } from 'node:perf_hooks'

const here = dirname(fileURLToPath(import.meta.url))

function parseArgs(argv) {
  const o = { quick: false, tiny: process.env.IPFI_BENCH_TINY === '1', pin: false, only: null, out: null, pinnedPass: false, noPinnedPass: false }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (a === '--quick') o.quick = true
    else if (a === '--tiny') o.tiny = true
    else if (a === '--pin') o.pin = true
    else if (a === '--pinned-pass') o.pinnedPass = o.pin = o.quick = true
    else if (a === '--no-pinned-pass') o.noPinnedPass = true
    else if (a === '--out') o.out = outBase(argv[++i])
    else if (a.startsWith('--out=')) o.out = outBase(a.slice(6))
    else if (a === '--only') o.only = (argv[++i] ?? '').split(',').filter(Boolean)
    else if (a.startsWith('--only=')) o.only = a.slice(7).split(',').filter(Boolean)
    else if (a === '--help' || a === '-h') {
      console.log('usage: node bench/run.mjs [--quick] [--tiny] [--pin] [--only ID,ID] [--out FILE] [--no-pinned-pass]')
      process.exit(0)
    } else throw new Error(`unknown argument ${a} (try --help)`)
  }
  if (!o.only || o.pinnedPass) o.out ??= resolve(here, o.pin ? 'results/pinned' : 'results/latest')
  return o
}

/** --out FILE: the path the three files share, FILE without a .md or .json ending. */
function outBase(file) {
  if (!file) throw new Error('--out needs a file name (try --help)')
  return resolve(file).replace(/\.(md|json)$/, '')
}

const CONFIG = {
  full: { latency: 10_000, throughput: 100_000, oneway: 500_000, payload: 128, payloadLarge: 5, largeBytes: 50 << 20 },
  quick: { latency: 1_500, throughput: 12_000, oneway: 60_000, payload: 24, payloadLarge: 2, largeBytes: 50 << 20 },
  // The smoke test's size: the "50 MiB" payload scenarios carry 2 MiB (their labels say so).
  tiny: { latency: 100, throughput: 1_000, oneway: 2_000, payload: 4, payloadLarge: 2, largeBytes: 2 << 20 },
}
const PAYLOAD_BYTES = 1 << 20 // the payload size, but for scenarios marked `large` (largeBytes)
const WINDOW = 100
const WARMUP_ROUNDS = 1
const WARMUP_SCALE = 0.25 // the warm-up round runs this share of each scenario's iterations
const ROUNDS = 3
const PHASE_TIMEOUT_MS = 120_000

const scaled = (n, scale, min) => Math.max(min, Math.round(n * (scale ?? 1)))

/** A scenario's iterations per round in this mode (iterScale, throughputScale, large). */
function iterationsOf(s, iters) {
  if (s.type === 'echo') return { latency: scaled(iters.latency, s.iterScale, 20), throughput: scaled(iters.throughput, s.throughputScale ?? s.iterScale, 2 * WINDOW) }
  if (s.type === 'payload') return { payload: scaled(s.large ? iters.payloadLarge : iters.payload, s.iterScale, 1), payloadBytes: s.large ? iters.largeBytes : PAYLOAD_BYTES }
  return { oneway: scaled(iters.oneway, s.iterScale, 100) }
}

const warmupIterations = (it) => ({
  ...it,
  ...(it.latency && { latency: scaled(it.latency, WARMUP_SCALE, 20), throughput: scaled(it.throughput, WARMUP_SCALE, 2 * WINDOW) }),
  ...(it.payload && { payload: scaled(it.payload, WARMUP_SCALE, 1) }),
  ...(it.oneway && { oneway: scaled(it.oneway, WARMUP_SCALE, 100) }),
})

async function main() {
  const t0 = performance.now()
  const args = parseArgs(process.argv.slice(2))
  const mode = args.tiny ? 'tiny' : args.quick ? 'quick' : 'full'
  const iters = CONFIG[mode]

  // Pin before anything starts a thread or a process: they inherit the CPU mask.
  const { pinToOneCpu, allowedCpus } = await import('./lib/measure/pin.mjs')
  const pin = args.pin ? pinToOneCpu() : { pinned: false, note: null }
  if (args.pin && !pin.pinned) console.error(`note: ${pin.note}`)
  if (args.pinnedPass && !pin.pinned) {
    // Unpinned, this pass would only repeat the run before it: say so plainly, write nothing.
    console.log(`\nThe pinned latency pass did not run: this machine cannot pin (${pin.note}).`)
    return
  }

  const { scenarios: all, pinnedIds } = await import('./scenarios/index.mjs')
  if (args.pinnedPass) args.only = pinnedIds
  const unknown = (args.only ?? []).filter((id) => !all.some((s) => s.id === id))
  if (unknown.length) throw new Error(`unknown scenario ${unknown.join(', ')}; known: ${all.map((s) => s.id).join(', ')}`)
  const { withoutUnavailable } = await import('./lib/open/nats-server.mjs')
  const { scenarios, note: unavailable } = withoutUnavailable(args.only ? all.filter((s) => args.only.includes(s.id)) : all, args.only)
  if (unavailable) console.error(`note: ${unavailable}`)
  const { makeSink, probe, makePayload, askUsage } = await import('./lib/measure/echo.mjs')
  const { STATS_REQUEST, isUsage } = await import('./lib/peers/usage.mjs')
  const { measureRound } = await import('./lib/measure/round.mjs')
  const { summarizeResults, rawIdOf } = await import('./lib/measure/summary.mjs')
  const { writeRatioChart } = await import('./lib/report/chart.mjs')
  const { markdown, resultsFile } = await import('./lib/report/markdown.mjs')
  const { natsSection } = await import('./lib/report/nats.mjs')

  const payloads = new Map() // bytes -> the payload Buffer, made once
  const ctx = {
    window: WINDOW,
    timeoutMs: PHASE_TIMEOUT_MS,
    payloadData: (bytes) => payloads.get(bytes) ?? payloads.set(bytes, makePayload(bytes)).get(bytes),
  }
  const open = new Map() // id -> { t, sink, childRssAtOpen }
  const children = []
  const results = {}
  for (const s of scenarios) {
    const iterations = iterationsOf(s, iters)
    results[s.id] = {
      id: s.id,
      label: s.type === 'payload' ? `${s.label}, ${iterations.payloadBytes / 1048576} MiB` : s.label,
      impl: s.impl,
      kind: s.kind,
      type: s.type,
      note: s.note ?? null,
      raw: rawIdOf(s),
      compareWith: s.compareWith ?? [],
      ...(s.pipelined && { pipelined: true }),
      ...(s.consumerLimitPerSec && { consumerLimitPerSec: s.consumerLimitPerSec }),
      ...(s.bytesReference && { bytesReference: s.bytesReference }),
      iterations,
      rounds: [],
      seconds: 0,
    }
  }

  const closeAll = async () => {
    const errors = []
    for (const [id, { t }] of [...open].reverse()) {
      open.delete(id)
      try {
        const exits = await t.close()
        for (const e of exits) children.push({ scenario: id, ...e })
      } catch (e) {
        errors.push(e)
        console.error(`bench: closing ${id} failed:`, e)
      }
    }
    return errors
  }

  try {
    // Everything with open() is opened once, up front; one-way scenarios with only run(n) start
    // afresh every round.
    for (const s of scenarios) {
      if (!s.open) continue
      const sink = makeSink(s.id)
      const t = await s.open(sink)
      const entry = { t, sink, childRssAtOpen: null }
      open.set(s.id, entry)
      if (s.type === 'oneway') continue
      await probe(s.id, t, sink)
      if (s.type === 'payload' && s.kind === 'process') entry.childRssAtOpen = (await askUsage(s.id, t, sink, STATS_REQUEST, isUsage)).rss
    }

    for (let round = 0; round < WARMUP_ROUNDS + ROUNDS; round++) {
      const measured = round >= WARMUP_ROUNDS
      const order = round % 2 ? [...scenarios].reverse() : scenarios
      for (const s of order) {
        const r = results[s.id]
        const it = measured ? r.iterations : warmupIterations(r.iterations)
        const started = performance.now()
        const row = await measureRound(s, it, open.get(s.id), ctx)
        r.seconds += (performance.now() - started) / 1000
        if (measured) r.rounds.push(row)
      }
      if (measured) process.stderr.write(`round ${round - WARMUP_ROUNDS + 1}/${ROUNDS} done\n`)
    }
    for (const { sink } of open.values()) sink.check()
  } catch (e) {
    await closeAll()
    throw e
  }
  const closeErrors = await closeAll()
  if (closeErrors.length) throw closeErrors[0]

  const { ratios, costPerByte } = summarizeResults(results)

  const pkg = JSON.parse(readFileSync(resolve(here, '../package.json'), 'utf8'))
  const result = {
    suite: 'ipfi bench',
    ipfiVersion: pkg.version,
    date: new Date().toISOString(),
    node: process.version,
    cpus: os.cpus().length,
    availableParallelism: os.availableParallelism?.() ?? null,
    cpuModel: os.cpus()[0]?.model ?? null,
    platform: `${process.platform} ${process.arch}`,
    mode,
    only: args.only,
    pinned: pin.pinned,
    pinnedPass: args.pinnedPass,
    pinNote: pin.note,
    cpusAllowed: allowedCpus(),
    message: { a: 1, b: 2 },
    payloadBytes: [...new Set(Object.values(results).filter((r) => r.type === 'payload').map((r) => r.iterations.payloadBytes))],
    warmupRounds: WARMUP_ROUNDS,
    rounds: ROUNDS,
    window: WINDOW,
    iterations: iters,
    scenarios: results,
    ratios,
    costPerByte,
    children,
    unavailable,
    totalSeconds: (performance.now() - t0) / 1000,
  }
  const tables = [markdown(result), natsSection(result)].filter(Boolean).join('\n\n')
  console.log(tables)
  if (args.out) {
    const [md, json, svg] = ['md', 'json', 'svg'].map((ext) => `${args.out}.${ext}`)
    mkdirSync(dirname(args.out), { recursive: true })
    const charted = writeRatioChart(result, svg)
    if (!charted) rmSync(svg, { force: true }) // not an earlier run's chart beside these figures
    writeFileSync(json, `${JSON.stringify(result, null, 2)}\n`)
    writeFileSync(md, resultsFile(tables, { md, json, svg: charted && svg, readme: resolve(here, 'README.md') }))
    console.log(`\nWritten: ${[md, json, ...(charted ? [svg] : [])].join(', ')}`)
  }

  const unclean = children.filter((c) => c.forced || c.code !== 0)
  if (unclean.length) throw new Error(`children that did not exit cleanly: ${JSON.stringify(unclean)}`)

  if (!args.pin && !args.only && !args.noPinnedPass) await pinnedPass(args, mode)
}

/**
 * The pinned latency pass, in a process of its own (pinning must come before any thread or child
 * starts): bench/results/pinned.* beside latest.*, or FILE-pinned.* beside --out FILE.
 */
async function pinnedPass(args, mode) {
  const { spawn } = await import('node:child_process')
  const out = args.out === resolve(here, 'results/latest') ? resolve(here, 'results/pinned') : `${args.out}-pinned`
  console.log('\nPinned latency pass (the whole process tree on one CPU):\n')
  const argv = [resolve(here, 'run.mjs'), '--pinned-pass', ...(mode === 'tiny' ? ['--tiny'] : []), '--out', out]
  const code = await new Promise((ok, fail) => {
    const c = spawn(process.execPath, argv, { stdio: 'inherit' })
    c.on('error', fail)
    c.on('exit', (code, signal) => ok(code ?? signal))
  })
  if (code !== 0) throw new Error(`the pinned latency pass failed (${code})`)
}

main().then(
  () => {
    // Everything is closed: the process should now exit by itself. If something still holds the
    // event loop, say what and fail rather than hang.
    setTimeout(() => {
      console.error(`bench: still running 10 s after the end; open resources: ${process.getActiveResourcesInfo().join(', ')}`)
      process.exit(1)
    }, 10_000).unref()
  },
  (err) => {
    console.error('bench failed:', err)
    process.exitCode = 1
    setTimeout(() => process.exit(1), 5_000).unref()
  },
)
