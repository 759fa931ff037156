/** Small statistics and number formatting helpers for the benchmark report. */

/** Nearest-rank percentile of an ascending-sorted numeric array (p in 0..100). */
export function percentile(sorted, p) {
  const n = sorted.length
  if (n === 0) return NaN
  const rank = Math.ceil((p / 100) * n)
  return sorted[Math.min(n, Math.max(1, rank)) - 1]
}

/** Median of a list of numbers (the middle one of 3 rounds). */
export function median(xs) {
  const s = [...xs].sort((a, b) => a - b)
  const n = s.length
  if (n === 0) return NaN
  return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2
}

/** Latency summary of one round: samples are µs per round trip. */
export function summarize(samplesUs) {
  const sorted = Float64Array.from(samplesUs).sort()
  return { p50Us: percentile(sorted, 50), p99Us: percentile(sorted, 99) }
}

/** Median of each named metric across rounds: [{a, b}, {a, b}, ...] -> {a, b}. */
export function medianOf(rounds, keys) {
  const out = {}
  for (const k of keys) out[k] = median(rounds.map((r) => r[k]))
  return out
}

/** 12.3 for µs figures: 3 significant digits, at least one decimal under 100. */
export function fmtUs(x) {
  if (!Number.isFinite(x)) return 'n/a'
  if (x < 10) return x.toFixed(2)
  if (x < 100) return x.toFixed(1)
  return x.toFixed(0)
}

/** 458k / 1.42M / 950 for rates. */
export function fmtRate(x) {
  if (!Number.isFinite(x)) return 'n/a'
  if (x >= 1e6) return `${(x / 1e6).toFixed(2)}M`
  if (x >= 1e4) return `${(x / 1e3).toFixed(0)}k`
  if (x >= 1e3) return `${(x / 1e3).toFixed(1)}k`
  return x.toFixed(0)
}

/** A ratio as "1.23×". */
export function fmtRatio(x) {
  if (!Number.isFinite(x)) return 'n/a'
  return `${x < 10 ? x.toFixed(2) : x.toFixed(1)}×`
}

/** How the report names a scenario's kind. */
export const KIND = { 'in-process': 'same thread', thread: 'thread', process: 'process' }
