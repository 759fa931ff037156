/**
 * The rate tables of the Markdown report: one-way messages (pipelined, in-process), streams and
 * many-clients calls, msg/s with their ratios; and the cost per byte of the wires that count bytes.
 */
import { BURST } from '../measure/oneway.mjs'
import { KIND, fmtRate, fmtRatio } from './format.mjs'

export function ratesSection(result, L) {
  const { scenarios, ratios } = result
  const rates = Object.values(scenarios).filter((s) => s.type === 'oneway')
  if (!rates.length) return
  const raws = new Set(rates.map((s) => s.raw))
  L.push('')
  L.push(
    `Rates, messages (or items, or calls) per second. Pipelined one-way: N small messages sent without waiting, ${BURST.toLocaleString('en')} per event-loop turn, ` +
      'the peer counts them and answers a marker sent after the last; ratios to the raw transport of its kind (thread: one postMessage per message; ' +
      "process: one process.send per message, IPC 'json'). Streams, with a forked child: result streams (an async generator there, `for await` here), " +
      'argument streams (an async generator here, `for await` there) and both at once (each item there and back; items each way). ' +
      'Many clients: each keeps 10 calls in flight.',
  )
  L.push('')
  L.push('| measure | impl | kind | N | msg/s | ÷ raw of its kind | other ratios | msg/s by round |')
  L.push('|---|---|---|---:|---:|---:|---|---|')
  for (const s of rates) {
    const m = s.median
    const others = ratios
      .filter((r) => r.ipfi === s.id && r.baseline !== s.raw)
      .map((r) => `${fmtRatio(r.msgsPerSec)} ${scenarios[r.baseline].label}`)
    if (s.consumerLimitPerSec) others.push(`${(100 * (m.msgsPerSec / s.consumerLimitPerSec)).toFixed(0)}% of what its per-item work alone allows (${fmtRate(s.consumerLimitPerSec)}/s)`)
    const byRound = s.rounds.map((r) => fmtRate(r.msgsPerSec)).join(' / ')
    L.push(
      `| ${s.label} | ${s.impl} | ${KIND[s.kind]} | ${s.iterations.oneway.toLocaleString('en')} | **${fmtRate(m.msgsPerSec)}** | ` +
        `${s.vsRaw ? fmtRatio(s.vsRaw.msgsPerSec) : raws.has(s.id) ? '1×' : ''} | ${others.join('; ')} | ${byRound} |`,
    )
  }
}

export function costSection(result, L) {
  const { scenarios, costPerByte } = result
  if (!costPerByte?.length) return
  const mb = (x) => (x / 1e6).toFixed(2)
  L.push('')
  L.push(
    'Cost per byte of the in-memory wires (bytes written by both ends during the sequential round trips, frames and link traffic included, ÷ round trips; ' +
      'µs per byte = 1 ÷ bytes/s with one round trip in flight; the extra cost of 1-byte chunks is the extra time of a round trip over whole writes, per byte):',
  )
  L.push('')
  L.push('| wire | bytes per round trip | µs per byte | MB/s, 1 in flight | MB/s, 100 in flight | extra µs per byte vs |')
  L.push('|---|---:|---:|---:|---:|---|')
  for (const c of costPerByte) {
    const extra = c.reference ? `${c.extraUsPerByte.toFixed(3)} (${scenarios[c.reference].label})` : ''
    L.push(`| ${scenarios[c.id].label} | ${c.wireBytesPerRt.toFixed(1)} | ${c.usPerByte.toFixed(3)} | ${mb(c.bytesPerSec1InFlight)} | ${mb(c.bytesPerSec100InFlight)} | ${extra} |`)
  }
}
