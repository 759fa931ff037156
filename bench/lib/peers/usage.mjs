/**
 * Memory figures a child reports when asked (payload scenarios): the parent sends `STATS_REQUEST`
 * on the echo path and the child answers with `usage()` instead of echoing it.
 */
export const STATS_REQUEST = Object.freeze({ stats: 'ipfi-bench-usage' })

export function isStatsRequest(m) {
  return m !== null && typeof m === 'object' && m.stats === STATS_REQUEST.stats
}

/** Current and peak RSS of this process, in bytes (resourceUsage().maxRSS is in KiB on Linux). */
export function usage() {
  return { pid: process.pid, rss: process.memoryUsage.rss(), maxRss: process.resourceUsage().maxRSS * 1024 }
}

export function isUsage(r) {
  return r !== null && typeof r === 'object' && Number.isFinite(r.rss) && r.rss > 0 && Number.isFinite(r.maxRss) && r.maxRss > 0
}
