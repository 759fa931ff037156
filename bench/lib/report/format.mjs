/** How the report writes numbers (µs, rates, ratios) and names a scenario's kind. */

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
