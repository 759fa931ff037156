/**
 * One round (measured or warm-up) of one scenario, by its type:
 *   echo     sequential round trips (p50/p99, RT/s), then round trips with WINDOW in flight; if the
 *            transport counts its wire bytes (`wireBytes()`), bytes per round trip and bytes/s too
 *   payload  sequential payload round trips, MiB/s, peak RSS of this process and of a child process
 *   oneway   `run(n)` of the scenario (a fresh run, in this thread) or of its open transport, or
 *            else the one-way driver (bench/lib/measure/oneway.mjs) over the transport's send()
 * Returns the round's row of figures.
 */
import { askUsage, latency, payloadRoundTrips, pipelined } from './echo.mjs'
import { oneWay } from './oneway.mjs'
import { settleMemory } from './gc.mjs'
import { summarize } from './stats.mjs'
import { STATS_REQUEST, isUsage } from '../peers/usage.mjs'

export async function measureRound(s, it, opened, ctx) {
  if (s.type === 'oneway') return oneway(s, it, opened, ctx)
  const { t, sink } = opened
  const row = s.type === 'payload' ? await payload(s, it, opened, ctx) : await echo(s, it, t, sink, ctx)
  sink.check()
  return row
}

async function oneway(s, it, opened, ctx) {
  if (!opened) return { msgsPerSec: (await s.run(it.oneway)).msgsPerSec }
  const { t, sink } = opened
  const r = t.run ? await t.run(it.oneway) : await oneWay(s.id, t, sink, it.oneway, ctx.timeoutMs)
  sink.check()
  return { msgsPerSec: r.msgsPerSec }
}

async function payload(s, it, opened, ctx) {
  const { t, sink } = opened
  await settleMemory()
  const p = await payloadRoundTrips(s.id, t, sink, it.payload, ctx.payloadData(it.payloadBytes), ctx.timeoutMs)
  const child = s.kind === 'process' ? await askUsage(s.id, t, sink, STATS_REQUEST, isUsage) : null
  return {
    mibPerSec: p.mibPerSec,
    parentPeakRss: p.parentPeakRss,
    parentRssGrowth: p.parentPeakRss - p.parentRssAtStart,
    childPeakRss: child ? child.maxRss : null,
    childRssGrowth: child ? child.maxRss - opened.childRssAtOpen : null,
  }
}

async function echo(s, it, t, sink, ctx) {
  if (t.echoRound) return t.echoRound(it, ctx) // a transport that times itself (the Python drivers, bench/lib/open/python.mjs)
  const b0 = t.wireBytes?.()
  const lat = await latency(s.id, t, sink, it.latency, ctx.timeoutMs)
  const b1 = t.wireBytes?.()
  const tp = await pipelined(s.id, t, sink, it.throughput, ctx.window, ctx.timeoutMs)
  const b2 = t.wireBytes?.()
  const row = { ...summarize(lat.samples), seqRtPerSec: it.latency / (lat.elapsedMs / 1000), inflight100RtPerSec: tp.rtPerSec }
  if (b0 !== undefined) {
    row.wireBytesPerRt = (b1 - b0) / it.latency
    row.seqWireBytesPerSec = (b1 - b0) / (lat.elapsedMs / 1000)
    row.inflight100WireBytesPerSec = (b2 - b1) / (tp.elapsedMs / 1000)
  }
  return row
}
