/**
 * From rounds to figures: the median of each figure over the rounds (peak RSS: the largest round),
 * every figure as a ratio to the raw transport of its kind (`vsRaw`) and to what the scenario is
 * compared with (`ratios`), peak RSS and its growth as multiples of the payload, and the cost per
 * byte of the wires that count their bytes.
 */
import { medianOf } from './stats.mjs'

export const METRICS = {
  echo: ['p50Us', 'p99Us', 'seqRtPerSec', 'inflight100RtPerSec'],
  payload: ['mibPerSec'],
  oneway: ['msgsPerSec'],
}
const WIRE_METRICS = ['wireBytesPerRt', 'seqWireBytesPerSec', 'inflight100WireBytesPerSec']
const RSS = ['parentPeakRss', 'parentRssGrowth', 'childPeakRss', 'childRssGrowth']

/** The raw transport of a kind, for scenarios that do not name theirs (`raw`). */
const RAW_OF_KIND = { echo: { 'in-process': 'raw-message-channel', thread: 'raw-worker', process: 'raw-fd3-msgpackr' } }

export function rawIdOf(s) {
  const id = s.raw ?? RAW_OF_KIND[s.type]?.[s.kind] ?? null
  return id === s.id ? null : id
}

function divide(type, m, base) {
  const x = {}
  for (const k of METRICS[type]) x[k] = m[k] / base[k]
  return x
}

function medians(r) {
  const m = medianOf(r.rounds, METRICS[r.type])
  if (r.type === 'echo' && r.rounds[0]?.wireBytesPerRt !== undefined) Object.assign(m, medianOf(r.rounds, WIRE_METRICS))
  if (r.type === 'payload') {
    // Peaks are peaks: the largest of the rounds, not the median.
    for (const k of RSS) m[k] = r.rounds[0]?.[k] == null ? null : Math.max(...r.rounds.map((x) => x[k]))
    for (const k of RSS) m[`${k}PerPayload`] = m[k] == null ? null : m[k] / r.iterations.payloadBytes
  }
  return m
}

/** Fills in `median` and `vsRaw` of every result; returns { ratios, costPerByte }. */
export function summarizeResults(results) {
  for (const r of Object.values(results)) r.median = medians(r)
  for (const r of Object.values(results)) {
    const raw = r.raw && results[r.raw]
    r.vsRaw = raw ? divide(r.type, r.median, raw.median) : null
  }
  const ratios = []
  for (const r of Object.values(results)) {
    for (const b of r.compareWith) {
      if (!results[b]) continue // not run (--only)
      // `ipfi` names the measured scenario (ipfi, or a peer library), `baseline` what it is divided by.
      ratios.push({ ipfi: r.id, baseline: b, type: r.type, ...divide(r.type, r.median, results[b].median) })
    }
  }
  const costPerByte = Object.values(results)
    .filter((r) => r.median.wireBytesPerRt !== undefined)
    .map((r) => {
      const m = r.median
      const ref = r.bytesReference && results[r.bytesReference]
      return {
        id: r.id,
        wireBytesPerRt: m.wireBytesPerRt,
        usPerByte: 1e6 / m.seqWireBytesPerSec,
        bytesPerSec1InFlight: m.seqWireBytesPerSec,
        bytesPerSec100InFlight: m.inflight100WireBytesPerSec,
        reference: ref ? ref.id : null,
        // What splitting costs: the extra time of a round trip over the reference, per byte.
        extraUsPerByte: ref ? (1e6 / m.seqRtPerSec - 1e6 / ref.median.seqRtPerSec) / m.wireBytesPerRt : null,
      }
    })
  return { ratios, costPerByte }
}
