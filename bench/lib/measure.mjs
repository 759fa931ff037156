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
