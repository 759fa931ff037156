/** The Markdown report printed to stdout. */
import { fmtRate, fmtRatio, fmtUs } from './stats.mjs'

const KIND = { 'in-process': 'same thread', thread: 'thread', process: 'process' }
/** The raw transport every figure of a kind is also given against. */
const RAW_OF_KIND = {
  echo: { 'in-process': 'raw-message-channel', thread: 'raw-worker', process: 'raw-fd3-msgpackr' },
  payload: { thread: 'raw-worker-1mib', process: 'raw-fd3-1mib' },
}
const MiB = (bytes) => (bytes == null ? '(same process)' : (bytes / 1048576).toFixed(0))

function rawOf(scenarios, s) {
  const id = RAW_OF_KIND[s.type]?.[s.kind]
  return id && scenarios[id] ? scenarios[id] : null
}

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
  L.push('Each figure is followed by its ratio to the raw transport of its kind (same thread: MessageChannel; thread: worker postMessage; process: fd-3 pipe); latency above 1× and rates below 1× are slower than raw.')
  L.push('')
  L.push('| transport | impl | kind | RT p50 µs | RT p99 µs | RT/s, 1 in flight | RT/s, 100 in flight | p50 µs by round |')
  L.push('|---|---|---|---:|---:|---:|---:|---|')
  const x = (v, base) => (base ? ` (${fmtRatio(v / base)})` : '')
  for (const s of Object.values(scenarios)) {
    if (s.type !== 'echo') continue
    const m = s.median
    const raw = rawOf(scenarios, s)
    const b = raw && raw !== s ? raw.median : null
    const byRound = s.rounds.map((r) => fmtUs(r.p50Us)).join(' / ')
    const label = s.iterations.latency !== result.iterations.latency ? `${s.label} ¹` : s.label
    L.push(
      `| ${label} | ${s.impl} | ${KIND[s.kind]} | ${fmtUs(m.p50Us)}${x(m.p50Us, b?.p50Us)} | ${fmtUs(m.p99Us)}${x(m.p99Us, b?.p99Us)} | ` +
        `${fmtRate(m.seqRtPerSec)}${x(m.seqRtPerSec, b?.seqRtPerSec)} | ${fmtRate(m.inflight100RtPerSec)}${x(m.inflight100RtPerSec, b?.inflight100RtPerSec)} | ${byRound} |`,
    )
  }
  L.push('')
  L.push('Ratios, scenario ÷ the transport or library it is compared with (latency: above 1× means slower; rates: below 1× means slower):')
  L.push('')
  L.push('| scenario | vs | RT p50 | RT p99 | RT/s, 1 in flight | RT/s, 100 in flight |')
  L.push('|---|---|---:|---:|---:|---:|')
  for (const r of ratios) {
    if ((r.type ?? 'echo') !== 'echo') continue
    L.push(`| ${scenarios[r.ipfi].label} | ${scenarios[r.baseline].label} | ${fmtRatio(r.p50Us)} | ${fmtRatio(r.p99Us)} | ${fmtRatio(r.seqRtPerSec)} | ${fmtRatio(r.inflight100RtPerSec)} |`)
  }
  const payloads = Object.values(scenarios).filter((s) => s.type === 'payload')
  if (payloads.length) {
    const p = payloads[0].iterations
    L.push('')
    L.push(
      `Payload: ${(p.payloadBytes / 1048576).toFixed(0)} MiB in \`{a:1, b:2, data}\`, ${p.payload} sequential round trips per round, every byte checked; ` +
        'MiB/s one way; peak RSS: this process sampled after every reply, the child from resourceUsage().maxRSS (largest over the rounds).',
    )
    L.push('')
    L.push('| payload transport | impl | kind | MiB/s | ÷ raw of its kind | parent peak RSS MiB | child peak RSS MiB | MiB/s by round |')
    L.push('|---|---|---|---:|---:|---:|---:|---|')
    for (const s of payloads) {
      const raw = rawOf(scenarios, s)
      const ratio = raw && raw !== s ? fmtRatio(s.median.mibPerSec / raw.median.mibPerSec) : '1×'
      const byRound = s.rounds.map((r) => r.mibPerSec.toFixed(0)).join(' / ')
      L.push(`| ${s.label} | ${s.impl} | ${KIND[s.kind]} | ${s.median.mibPerSec.toFixed(0)} | ${ratio} | ${MiB(s.median.parentPeakRss)} | ${MiB(s.median.childPeakRss)} | ${byRound} |`)
    }
  }
  L.push('')
  for (const s of Object.values(scenarios)) {
    if (s.type !== 'oneway') continue
    const byRound = s.rounds.map((r) => fmtRate(r.msgsPerSec)).join(' / ')
    const vs = ratios
      .filter((r) => r.ipfi === s.id)
      .map((r) => `${fmtRatio(r.msgsPerSec)} ${scenarios[r.baseline].impl}`)
      .join(', ')
    L.push(`${s.label} (N = ${s.iterations.oneway.toLocaleString('en')}): **${fmtRate(s.median.msgsPerSec)} msg/s**${vs ? ` (${vs})` : ''} (by round: ${byRound}).`)
  }
  for (const s of Object.values(scenarios)) {
    if (s.note && s.type === 'echo') L.push(`¹ ${s.label}: ${s.note}; ${s.iterations.latency.toLocaleString('en')} / ${s.iterations.throughput.toLocaleString('en')} round trips.`)
  }
  const clean = result.children.filter((c) => !c.forced && c.code === 0).length
  L.push(`Children and workers: ${clean} of ${result.children.length} exited cleanly with code 0. Total time ${result.totalSeconds.toFixed(1)} s.`)
  return L.join('\n')
}
