/**
 * The Markdown report, printed to stdout and written to bench/results/latest.md (or --out): the
 * header and echo tables here, the rest in payload.mjs and rates.mjs.
 */
import { basename, dirname, relative } from 'node:path'
import { KIND, fmtRate, fmtRatio, fmtUs } from './format.mjs'
import { payloadSection } from './payload.mjs'
import { costSection, ratesSection } from './rates.mjs'

/** The round trips a scenario runs, when not the suite's: marked ¹ and explained in the notes. */
const fewer = (s, result) => s.iterations.latency !== result.iterations.latency || s.iterations.throughput !== result.iterations.throughput

function echoSection(result, L) {
  const { scenarios, ratios } = result
  L.push('Each figure is followed by its ratio to the raw transport of its kind (last column; same thread: MessageChannel; thread: worker postMessage; process: the fd-3 pipe, or the raw socket of the same kind); latency above 1× and rates below 1× are slower than raw.')
  L.push('')
  L.push('| transport | impl | kind | RT p50 µs | RT p99 µs | RT/s, 1 in flight | RT/s, 100 in flight | p50 µs by round | ratios to |')
  L.push('|---|---|---|---:|---:|---:|---:|---|---|')
  const x = (s, k) => (s.vsRaw ? ` (${fmtRatio(s.vsRaw[k])})` : '')
  for (const s of Object.values(scenarios)) {
    if (s.type !== 'echo') continue
    const m = s.median
    const byRound = s.rounds.map((r) => fmtUs(r.p50Us)).join(' / ')
    L.push(
      `| ${s.label}${fewer(s, result) ? ' ¹' : ''} | ${s.impl} | ${KIND[s.kind]} | ${fmtUs(m.p50Us)}${x(s, 'p50Us')} | ${fmtUs(m.p99Us)}${x(s, 'p99Us')} | ` +
        `${fmtRate(m.seqRtPerSec)}${x(s, 'seqRtPerSec')} | ${fmtRate(m.inflight100RtPerSec)}${x(s, 'inflight100RtPerSec')} | ${byRound} | ${s.vsRaw ? scenarios[s.raw].label : ''} |`,
    )
  }
  L.push('')
  L.push('Ratios, scenario ÷ the transport or library it is compared with (latency: above 1× means slower; rates: below 1× means slower):')
  L.push('')
  L.push('| scenario | vs | RT p50 | RT p99 | RT/s, 1 in flight | RT/s, 100 in flight |')
  L.push('|---|---|---:|---:|---:|---:|')
  for (const r of ratios) {
    if (r.type !== 'echo') continue
    L.push(`| ${scenarios[r.ipfi].label} | ${scenarios[r.baseline].label} | ${fmtRatio(r.p50Us)} | ${fmtRatio(r.p99Us)} | ${fmtRatio(r.seqRtPerSec)} | ${fmtRatio(r.inflight100RtPerSec)} |`)
  }
}

export function markdown(result) {
  const L = []
  const pin = result.pinned ? 'pinned to one CPU' : 'unpinned'
  const machine = [result.platform, `${result.cpus} CPUs${result.cpuModel ? ` (${result.cpuModel})` : ''}`].filter(Boolean).join(', ')
  L.push(`### ipfi benchmarks (${result.mode}): ${result.date}, Node ${result.node}, ${machine}, ${pin}`)
  L.push('')
  L.push(
    `Median of ${result.rounds} rounds after ${result.warmupRounds} warm-up round, all scenarios alternating within each round ` +
      `(order reversed every other round). Message \`${JSON.stringify(result.message)}\`. ` +
      `Latency: ${result.iterations.latency.toLocaleString('en')} sequential round trips (one in flight); ` +
      `throughput: ${result.iterations.throughput.toLocaleString('en')} round trips with ${result.window} in flight.`,
  )
  if (result.pinNote) L.push(`Pinning: ${result.pinNote}.`)
  L.push('')
  echoSection(result, L)
  payloadSection(result, L)
  ratesSection(result, L)
  costSection(result, L)
  L.push('')
  for (const s of Object.values(result.scenarios)) {
    if (s.note && s.type === 'echo') L.push(`¹ ${s.label}: ${s.note}; ${s.iterations.latency.toLocaleString('en')} / ${s.iterations.throughput.toLocaleString('en')} round trips.`)
  }
  const clean = result.children.filter((c) => !c.forced && c.code === 0).length
  L.push(`Children and workers: ${clean} of ${result.children.length} exited cleanly with code 0. Total time ${result.totalSeconds.toFixed(1)} s.`)
  return L.join('\n')
}

/** The results file: the report, then where the rest of the run is (paths beside it, linked relatively). */
export function resultsFile(tables, { md, json, svg, readme }) {
  const link = (file) => `[${basename(file)}](${relative(dirname(md), file)})`
  const rest = [`every figure as JSON: ${link(json)}`, ...(svg ? [`the throughput ratios drawn: ${link(svg)}`] : [])]
  return `${tables}\n\nWritten by bench/run.mjs; ${rest.join('; ')}. What each figure measures and how to read it: ${link(readme)}.\n`
}
