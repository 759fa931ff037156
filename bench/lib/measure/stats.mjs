/** Percentiles and medians: one round's latency samples, and figures over the rounds. Formatting: report/format.mjs. */

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
