/** The Markdown report printed to stdout. */
import { fmtRate, fmtRatio, fmtUs } from './stats.mjs'

const KIND = { 'in-process': 'same thread', thread: 'thread', process: 'process' }

export function markdown(result) {
  const { scenarios, ratios } = result
  const L = []
  const pin = result.pinned ? 'pinned to one CPU' : 'unpinned'
  L.push(`### ipfi benchmarks (${result.mode}): ${result.date}, Node ${result.node}, ${result.cpus} CPUs, ${pin}`)
  L.push('')
  L.push(
    `Median of ${result.rounds} rounds after ${result.warmupRounds} warm-up round, all scenarios alternating within each round ` +
      `(order reversed every other round). Message \`${JSON.stringify(result.message)}\`. ` +
      `Latency: ${result.iterations.latency.toLocaleString('en')} sequential round trips (one in flight); ` +
      `throughput: ${result.iterations.throughput.toLocaleString('en')} round trips with ${result.window} in flight.`,
  )
  if (result.pinNote) L.push(`Pinning: ${result.pinNote}.`)
  L.push('')
  L.push('| transport | impl | kind | RT p50 µs | RT p99 µs | RT/s, 1 in flight | RT/s, 100 in flight | p50 µs by round |')
  L.push('|---|---|---|---:|---:|---:|---:|---|')
  for (const s of Object.values(scenarios)) {
    if (s.type !== 'echo') continue
    const m = s.median
    const byRound = s.rounds.map((r) => fmtUs(r.p50Us)).join(' / ')
    const label = s.iterations.latency !== result.iterations.latency ? `${s.label} ¹` : s.label
    L.push(`| ${label} | ${s.impl} | ${KIND[s.kind]} | ${fmtUs(m.p50Us)} | ${fmtUs(m.p99Us)} | ${fmtRate(m.seqRtPerSec)} | ${fmtRate(m.inflight100RtPerSec)} | ${byRound} |`)
  }
  L.push('')
  L.push('Ratios, ipfi ÷ raw transport of the same kind (latency: above 1× means ipfi is slower; rates: below 1× means ipfi is slower):')
  L.push('')
  L.push('| ipfi | vs raw | RT p50 | RT p99 | RT/s, 1 in flight | RT/s, 100 in flight |')
  L.push('|---|---|---:|---:|---:|---:|')
  for (const r of ratios) {
    L.push(`| ${scenarios[r.ipfi].label} | ${scenarios[r.baseline].label} | ${fmtRatio(r.p50Us)} | ${fmtRatio(r.p99Us)} | ${fmtRatio(r.seqRtPerSec)} | ${fmtRatio(r.inflight100RtPerSec)} |`)
  }
  L.push('')
  for (const s of Object.values(scenarios)) {
    if (s.type !== 'oneway') continue
    const byRound = s.rounds.map((r) => fmtRate(r.msgsPerSec)).join(' / ')
    L.push(`${s.label} (N = ${s.iterations.oneway.toLocaleString('en')}): **${fmtRate(s.median.msgsPerSec)} msg/s** (by round: ${byRound}).`)
  }
  for (const s of Object.values(scenarios)) {
    if (s.note) L.push(`¹ ${s.label}: ${s.note}; ${s.iterations.latency.toLocaleString('en')} / ${s.iterations.throughput.toLocaleString('en')} round trips.`)
  }
  const clean = result.children.filter((c) => !c.forced && c.code === 0).length
  L.push(`Children and workers: ${clean} of ${result.children.length} exited cleanly with code 0. Total time ${result.totalSeconds.toFixed(1)} s.`)
  return L.join('\n')
}
