#!/usr/bin/env node
/**
 * ipfi benchmark suite. `npm run bench` builds and runs it; it imports the package by name.
 *
 *   node bench/run.mjs [--quick] [--tiny] [--pin] [--only ID,ID] [--out FILE]
 *
 *   --quick   fewer iterations (about a minute and a half)
 *   --tiny    a handful of iterations, for the smoke test (also IPFI_BENCH_TINY=1)
 *   --pin     pin the whole process tree to CPU 0 first (taskset -a -p 1 PID), for stable latency
 *   --only    run only these scenarios (ids as in bench/scenarios/index.mjs), e.g. for profiling:
 *             node --cpu-prof --cpu-prof-dir bench/results bench/run.mjs --quick --only ipfi-worker
 *             then node bench/profile-summary.mjs bench/results/*.cpuprofile
 *   --out     where to write the JSON (default bench/results/latest.json; with --only, none unless given)
 *
 * Every echo and payload transport is opened once, then measured in rounds: one warm-up round (a
 * quarter of the iterations; one-way scenarios marked `warmup: false` skip it), then 3 measured
 * rounds, every scenario once per round (order reversed every other round), so raw baselines,
 * ipfi and the peer libraries see the same machine conditions. Figures are medians over the rounds.
 * Per round and scenario: sequential round trips (one in flight) for p50/p99 and RT/s, then round
 * trips with 100 in flight. Every reply is checked, and each transport first echoes a unique probe.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { performance } from 'node:perf_hooks'

const here = dirname(fileURLToPath(import.meta.url))

function parseArgs(argv) {
  const o = { quick: false, tiny: process.env.IPFI_BENCH_TINY === '1', pin: false, only: null, out: null }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (a === '--quick') o.quick = true
    else if (a === '--tiny') o.tiny = true
    else if (a === '--pin') o.pin = true
    else if (a === '--out') o.out = resolve(argv[++i] ?? '')
    else if (a.startsWith('--out=')) o.out = resolve(a.slice(6))
    else if (a === '--only') o.only = (argv[++i] ?? '').split(',').filter(Boolean)
    else if (a.startsWith('--only=')) o.only = a.slice(7).split(',').filter(Boolean)
    else if (a === '--help' || a === '-h') {
      console.log('usage: node bench/run.mjs [--quick] [--tiny] [--pin] [--only ID,ID] [--out FILE]')
      process.exit(0)
    } else throw new Error(`unknown argument ${a} (try --help)`)
  }
  if (!o.only) o.out ??= resolve(here, 'results/latest.json')
  return o
}

const CONFIG = {
  full: { latency: 20_000, throughput: 200_000, oneway: 1_000_000, payload: 256 },
  quick: { latency: 4_000, throughput: 40_000, oneway: 200_000, payload: 64 },
  tiny: { latency: 100, throughput: 1_000, oneway: 2_000, payload: 4 },
}
const PAYLOAD_BYTES = 1 << 20
const WINDOW = 100
const WARMUP_ROUNDS = 1
const WARMUP_SCALE = 0.25 // the warm-up round runs this share of each scenario's iterations
const ROUNDS = 3
const PHASE_TIMEOUT_MS = 120_000

const METRICS = {
  echo: ['p50Us', 'p99Us', 'seqRtPerSec', 'inflight100RtPerSec'],
  payload: ['mibPerSec'],
  oneway: ['msgsPerSec'],
}

const scaled = (n, scale, min) => Math.max(min, Math.round(n * (scale ?? 1)))
const warmupIterations = (it) => ({
  ...it,
  ...(it.latency && { latency: scaled(it.latency, WARMUP_SCALE, 20), throughput: scaled(it.throughput, WARMUP_SCALE, 2 * WINDOW) }),
  ...(it.payload && { payload: scaled(it.payload, WARMUP_SCALE, 2) }),
  ...(it.oneway && { oneway: scaled(it.oneway, WARMUP_SCALE, 100) }),
})

async function main() {
  const t0 = performance.now()
  const args = parseArgs(process.argv.slice(2))
  const mode = args.tiny ? 'tiny' : args.quick ? 'quick' : 'full'
  const iters = CONFIG[mode]

  // Pin before anything starts a thread or a process: they inherit the CPU mask.
  const { pinToOneCpu, allowedCpus } = await import('./lib/pin.mjs')
  const pin = args.pin ? pinToOneCpu() : { pinned: false, note: null }
  if (args.pin && !pin.pinned) console.error(`note: ${pin.note}`)

  const { scenarios: all } = await import('./scenarios/index.mjs')
  const unknown = (args.only ?? []).filter((id) => !all.some((s) => s.id === id))
  if (unknown.length) throw new Error(`unknown scenario ${unknown.join(', ')}; known: ${all.map((s) => s.id).join(', ')}`)
  const scenarios = args.only ? all.filter((s) => args.only.includes(s.id)) : all
  const { makeSink, probe, latency, pipelined, makePayload, payloadRoundTrips, askUsage } = await import('./lib/measure.mjs')
  const { STATS_REQUEST, isUsage } = await import('./lib/usage.mjs')
  const { writeRatioChart } = await import('./lib/chart.mjs')
  const payloadData = scenarios.some((s) => s.type === 'payload') ? makePayload(PAYLOAD_BYTES) : null
  const { summarize, medianOf } = await import('./lib/stats.mjs')
  const { markdown } = await import('./lib/report.mjs')

  const open = new Map() // id -> { t, sink }
  const children = []
  const results = {}
  for (const s of scenarios) {
    const it =
      s.type === 'echo'
        ? { latency: scaled(iters.latency, s.iterScale, 20), throughput: scaled(iters.throughput, s.iterScale, 2 * WINDOW) }
        : s.type === 'payload'
          ? { payload: scaled(iters.payload, s.iterScale, 2), payloadBytes: PAYLOAD_BYTES }
          : { oneway: scaled(iters.oneway, s.iterScale, 100) }
    results[s.id] = { id: s.id, label: s.label, impl: s.impl, kind: s.kind, type: s.type, note: s.note ?? null, compareWith: s.compareWith ?? [], iterations: it, rounds: [], seconds: 0 }
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
    for (const s of scenarios) {
      if (s.type === 'oneway') continue
      const sink = makeSink(s.id)
      const t = await s.open(sink)
      open.set(s.id, { t, sink })
      await probe(s.id, t, sink)
    }

    for (let round = 0; round < WARMUP_ROUNDS + ROUNDS; round++) {
      const measured = round >= WARMUP_ROUNDS
      const order = round % 2 ? [...scenarios].reverse() : scenarios
      for (const s of order) {
        const r = results[s.id]
        if (!measured && s.warmup === false) continue
        const it = measured ? r.iterations : warmupIterations(r.iterations)
        const started = performance.now()
        let row
        if (s.type === 'oneway') {
          const { msgsPerSec, exits = [] } = await s.run(it.oneway)
          for (const e of exits) children.push({ scenario: s.id, ...e })
          row = { msgsPerSec }
        } else if (s.type === 'payload') {
          const { t, sink } = open.get(s.id)
          const p = await payloadRoundTrips(s.id, t, sink, it.payload, payloadData, PHASE_TIMEOUT_MS)
          const child = s.childIsProcess ? await askUsage(s.id, t, sink, STATS_REQUEST, isUsage) : null
          sink.check()
          row = { mibPerSec: p.mibPerSec, parentPeakRss: p.parentPeakRss, childPeakRss: child ? child.maxRss : null }
        } else {
          const { t, sink } = open.get(s.id)
          const lat = await latency(s.id, t, sink, it.latency, PHASE_TIMEOUT_MS)
          const tp = await pipelined(s.id, t, sink, it.throughput, WINDOW, PHASE_TIMEOUT_MS)
          sink.check()
          row = { ...summarize(lat.samples), seqRtPerSec: it.latency / (lat.elapsedMs / 1000), inflight100RtPerSec: tp.rtPerSec }
        }
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

  for (const r of Object.values(results)) {
    r.median = medianOf(r.rounds, METRICS[r.type])
    // Peaks are peaks: the largest of the rounds, not the median.
    if (r.type === 'payload') {
      r.median.parentPeakRss = Math.max(...r.rounds.map((x) => x.parentPeakRss))
      r.median.childPeakRss = r.rounds[0]?.childPeakRss == null ? null : Math.max(...r.rounds.map((x) => x.childPeakRss))
    }
  }
  const ratios = []
  for (const r of Object.values(results)) {
    for (const b of r.compareWith) {
      if (!results[b]) continue // not run (--only)
      const base = results[b].median
      const m = r.median
      // `ipfi` names the measured scenario (ipfi, or a peer library), `baseline` what it is divided by.
      const x = { ipfi: r.id, baseline: b, type: r.type }
      for (const k of METRICS[r.type]) x[k] = m[k] / base[k]
      ratios.push(x)
    }
  }

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
    pinNote: pin.note,
    cpusAllowed: allowedCpus(),
    message: { a: 1, b: 2 },
    payloadBytes: PAYLOAD_BYTES,
    warmupRounds: WARMUP_ROUNDS,
    rounds: ROUNDS,
    window: WINDOW,
    iterations: iters,
    scenarios: results,
    ratios,
    children,
    totalSeconds: (performance.now() - t0) / 1000,
  }
  console.log(markdown(result))
  if (args.out) {
    const svg = resolve(dirname(args.out), 'ratios.svg')
    if (writeRatioChart(result, svg)) console.log(`\nChart: ${svg}`)
  }
  if (args.out) {
    mkdirSync(dirname(args.out), { recursive: true })
    writeFileSync(args.out, `${JSON.stringify(result, null, 2)}\n`)
    console.log(`\nJSON: ${args.out}`)
  }

  const unclean = children.filter((c) => c.forced || c.code !== 0)
  if (unclean.length) throw new Error(`children that did not exit cleanly: ${JSON.stringify(unclean)}`)
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
