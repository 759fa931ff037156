/**
 * The NATS section of the report: issue 15's three targets, each ipfi figure over nats:// ÷ the raw
 * NATS client's on the same server in the same run, and whether it is met. Empty when the run had
 * no NATS scenarios; a line saying why when they were left out (nats-server missing).
 */
import { fmtRate, fmtRatio } from './format.mjs'

const TARGETS = [
  { what: 'channels one way, msg/s', ipfi: 'ipfi-nats-oneway', raw: 'raw-nats-oneway', metric: 'msgsPerSec', fmt: fmtRate, atLeast: 0.8 },
  { what: 'procedures, RT/s with 100 in flight', ipfi: 'ipfi-proc-nats', raw: 'raw-nats-request', metric: 'inflight100RtPerSec', fmt: fmtRate, atLeast: 1 },
  { what: '1 MiB payload, MiB/s', ipfi: 'ipfi-nats-1mib', raw: 'raw-nats-request-1mib', metric: 'mibPerSec', fmt: (x) => x.toFixed(0), atLeast: 0.8 },
]

export function natsSection(result) {
  const L = []
  if (result.unavailable) L.push(`NATS: ${result.unavailable}.`)
  const { scenarios } = result
  const rows = TARGETS.filter((t) => scenarios[t.ipfi] && scenarios[t.raw])
  if (rows.length === 0) return L.join('\n')
  L.push('NATS targets (issue 15): ipfi over nats:// ÷ the raw NATS client, same nats-server, same run.')
  L.push('')
  L.push('| figure | ipfi | raw NATS client | ratio | target | met |')
  L.push('|---|---:|---:|---:|---:|---|')
  for (const t of rows) {
    const a = scenarios[t.ipfi].median[t.metric]
    const b = scenarios[t.raw].median[t.metric]
    const r = a / b
    L.push(`| ${t.what} | ${t.fmt(a)} | ${t.fmt(b)} | ${fmtRatio(r)} | ≥ ${t.atLeast}× | ${r >= t.atLeast ? 'yes' : '**no**'} |`)
  }
  return L.join('\n')
}
