/** The payload table of the Markdown report: MiB/s and peak RSS, also as multiples of the payload. */
import { KIND, fmtRatio } from './format.mjs'

const MiB = (bytes) => (bytes / 1048576).toFixed(0)
const times = (x) => (x == null ? '' : `${x.toFixed(1)}×`)

export function payloadSection(result, L) {
  const payloads = Object.values(result.scenarios).filter((s) => s.type === 'payload')
  if (!payloads.length) return
  const raws = new Set(payloads.map((s) => s.raw))
  const sizes = [...new Map(payloads.map((s) => [s.iterations.payloadBytes, s.iterations.payload])).entries()]
  L.push('')
  L.push(
    `Payload: \`{a:1, b:2, data}\` with ${sizes.map(([b, n]) => `${MiB(b)} MiB (${n} sequential round trips per round)`).join(' and ')}, every byte checked; ` +
      'MiB/s one way. Peak RSS: this process sampled every 20 ms and after every send and reply, the child from resourceUsage().maxRSS (largest over the rounds); ' +
      '"growth" is the peak less the RSS before (this process: after a GC at the start of the phase; the child: when opened), ÷ payload its multiple of the payload size. ' +
      'A worker shares this process: its figures are in the parent columns.',
  )
  L.push('')
  L.push('| payload transport | impl | kind | MiB/s | ÷ raw of its kind | parent peak RSS MiB | parent growth ÷ payload | child peak RSS MiB | child peak ÷ payload | child growth ÷ payload | MiB/s by round |')
  L.push('|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|')
  for (const s of payloads) {
    const m = s.median
    const byRound = s.rounds.map((r) => r.mibPerSec.toFixed(0)).join(' / ')
    const child = m.childPeakRss == null ? '(same process) | | ' : `${MiB(m.childPeakRss)} | ${times(m.childPeakRssPerPayload)} | ${times(m.childRssGrowthPerPayload)}`
    L.push(
      `| ${s.label} | ${s.impl} | ${KIND[s.kind]} | ${m.mibPerSec.toFixed(0)} | ${s.vsRaw ? fmtRatio(s.vsRaw.mibPerSec) : raws.has(s.id) ? '1×' : ''} | ` +
        `${MiB(m.parentPeakRss)} | ${times(m.parentRssGrowthPerPayload)} | ${child} | ${byRound} |`,
    )
  }
}
