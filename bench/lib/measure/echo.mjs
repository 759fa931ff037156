/**
 * The two measurement drivers every echo scenario goes through, and the echo checks.
 *
 * A scenario opens a transport `t = { send(msg) }` and calls `sink.deliver(reply)` for every reply
 * (from a message listener, or from an ipfi recv loop). The drivers below swap in the handler of
 * the current phase; a reply outside any phase is an error.
 */
import { inspect } from 'node:util'
import { performance } from 'node:perf_hooks'

/** The small message of every round trip. */
export const MSG = { a: 1, b: 2 }

export function isEcho(r) {
  return r !== null && typeof r === 'object' && r.a === 1 && r.b === 2
}

const describe = (v) => inspect(v, { depth: 3, breakLength: Infinity })

/** Where replies go. `deliver` and `fail` are handed to the scenario; the driver sets the handler. */
export function makeSink(name) {
  let handler = null
  let onError = null
  let pendingError = null
  const sink = {
    deliver(reply) {
      if (handler) handler(reply)
      else pendingError ??= new Error(`${name}: a reply arrived outside any measurement: ${describe(reply)}`)
    },
    /** The transport failed (a recv loop threw, a child exited early, ...). */
    fail(err) {
      if (onError) onError(err)
      else pendingError ??= err
    },
    /** Run one phase: `body(resolve, reject)` sets things going; `onReply` sees every reply. */
    phase(what, timeoutMs, onReply, body) {
      if (pendingError) return Promise.reject(pendingError)
      return new Promise((resolve, reject) => {
        let progress = () => 'no progress info'
        const finish = (fn, v) => {
          clearTimeout(timer)
          handler = null
          onError = null
          fn(v)
        }
        const ok = (v) => finish(resolve, v)
        const bad = (e) => finish(reject, e)
        const timer = setTimeout(() => bad(new Error(`${name}: ${what} timed out after ${timeoutMs} ms (${progress()})`)), timeoutMs)
        handler = (r) => {
          try {
            onReply(r, ok, bad)
          } catch (e) {
            bad(e)
          }
        }
        onError = bad
        try {
          progress = body(ok, bad) ?? progress
        } catch (e) {
          bad(e)
        }
      })
    },
    check() {
      if (pendingError) throw pendingError
    },
  }
  return sink
}

/** Send one distinctive message and check that the very same content comes back. */
export function probe(name, t, sink, timeoutMs = 15_000) {
  const nonce = `probe-${process.pid}-${Math.random().toString(36).slice(2)}`
  const msg = { a: 1, b: 2, probe: nonce }
  return sink.phase('probe', timeoutMs, (r, ok, bad) => {
    const good = isEcho(r) && r.probe === nonce && Object.keys(r).length === 3
    if (good) ok()
    else bad(new Error(`${name}: the echo did not match: sent ${describe(msg)}, got ${describe(r)}`))
  }, () => {
    t.send(msg)
  })
}

/** `n` sequential round trips, one in flight. Samples in µs; rate over the whole phase. */
export function latency(name, t, sink, n, timeoutMs) {
  const samples = new Float64Array(n)
  let i = 0
  let t0 = 0
  let start = 0
  return sink.phase('latency', timeoutMs, (r, ok, bad) => {
    const t1 = performance.now()
    if (!isEcho(r)) return bad(new Error(`${name}: bad echo ${describe(r)}`))
    if (i >= n) return bad(new Error(`${name}: more replies than requests`))
    samples[i++] = (t1 - t0) * 1000
    if (i === n) return ok({ samples, elapsedMs: t1 - start })
    t0 = performance.now()
    t.send(MSG)
  }, () => {
    start = t0 = performance.now()
    t.send(MSG)
    return () => `${i}/${n} round trips`
  })
}

/** `total` round trips with `window` in flight: a reply lets the next request go. */
export function pipelined(name, t, sink, total, window, timeoutMs) {
  let sent = 0
  let got = 0
  let start = 0
  return sink.phase('throughput', timeoutMs, (r, ok, bad) => {
    if (!isEcho(r)) return bad(new Error(`${name}: bad echo ${describe(r)}`))
    if (++got === total) {
      const elapsedMs = performance.now() - start
      return ok({ elapsedMs, rtPerSec: total / (elapsedMs / 1000) })
    }
    if (got > total) return bad(new Error(`${name}: more replies than requests`))
    if (sent < total) {
      sent++
      t.send(MSG)
    }
  }, () => {
    start = performance.now()
    const w = Math.min(window, total)
    while (sent < w) {
      sent++
      t.send(MSG)
    }
    return () => `${got}/${total} replies, ${sent} sent`
  })
}

/** The payload of the payload scenarios: `size` bytes in a pattern that a wrong copy cannot keep. */
export function makePayload(size) {
  const data = Buffer.allocUnsafe(size)
  for (let i = 0; i < size; i++) data[i] = (i * 31 + (i >>> 8)) & 0xff
  return data
}

/** The echo check of a payload reply: `{a:1, b:2, data}` with every byte equal. */
export function isPayloadEcho(r, data) {
  if (!isEcho(r) || !(r.data instanceof Uint8Array) || r.data.byteLength !== data.byteLength) return false
  return Buffer.from(r.data.buffer, r.data.byteOffset, r.data.byteLength).equals(data)
}

/**
 * `n` sequential round trips of `{a:1, b:2, data}` (one in flight). MiB/s counts the payload one
 * way. This process's RSS is sampled after every send and reply and every 20 ms (its peak during
 * the phase), and once at the start.
 */
export function payloadRoundTrips(name, t, sink, n, data, timeoutMs) {
  // A transport that moves the payload (`movesPayload`: transfer() on both ends) detaches what it
  // sent: it starts from a copy and sends each reply's own buffer back.
  let msg = { a: 1, b: 2, data: t.movesPayload ? Buffer.from(data) : data }
  let got = 0
  let start = 0
  const rssAtStart = process.memoryUsage.rss()
  let peakRss = rssAtStart
  const sample = () => {
    peakRss = Math.max(peakRss, process.memoryUsage.rss())
  }
  const sampler = setInterval(sample, 20)
  sampler.unref()
  return sink
    .phase('payload', timeoutMs, (r, ok, bad) => {
      if (!isPayloadEcho(r, data)) return bad(new Error(`${name}: bad payload echo ${describe({ ...r, data: r?.data?.byteLength })}`))
      sample()
      if (++got === n) {
        const elapsedMs = performance.now() - start
        return ok({ elapsedMs, mibPerSec: (n * data.byteLength) / 1048576 / (elapsedMs / 1000), parentPeakRss: peakRss, parentRssAtStart: rssAtStart })
      }
      if (t.movesPayload) msg = { a: 1, b: 2, data: r.data }
      t.send(msg)
      sample()
    }, () => {
      start = performance.now()
      t.send(msg)
      sample()
      return () => `${got}/${n} payload round trips`
    })
    .finally(() => clearInterval(sampler))
}

/** Ask the echo peer for its memory figures (`request` is answered with usage(), bench/lib/peers/usage.mjs). */
export function askUsage(name, t, sink, request, isUsage, timeoutMs = 15_000) {
  return sink.phase('usage', timeoutMs, (r, ok, bad) => {
    if (isUsage(r)) ok(r)
    else bad(new Error(`${name}: expected memory figures, got ${describe(r)}`))
  }, () => {
    t.send(request)
  })
}
