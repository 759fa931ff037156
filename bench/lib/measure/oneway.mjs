/**
 * Pipelined one-way throughput: send `n` small messages without waiting for anything, BURST of them
 * per event-loop turn (a producer that yields to the loop now and then, so nothing queues without
 * bound and both sides run at once); the peer counts them and answers the end marker sent after the
 * last with its count (bench/lib/peers/oneway-count.mjs). msg/s from the first send to that answer.
 */
import { performance } from 'node:perf_hooks'
import { inspect } from 'node:util'
import { MSG } from './echo.mjs'
import { END, isCount } from '../peers/oneway-count.mjs'

export const BURST = 1000

export function oneWay(name, t, sink, n, timeoutMs) {
  let sent = 0
  let start = 0
  let over = false
  return sink.phase('one-way', timeoutMs, (r, ok, bad) => {
    over = true
    if (!isCount(r)) return bad(new Error(`${name}: expected the count, got ${inspect(r)}`))
    if (r.count !== n || r.wrong) return bad(new Error(`${name}: the peer counted ${r.count} of ${n} messages, ${r.wrong} wrong`))
    const elapsedMs = performance.now() - start
    ok({ elapsedMs, msgsPerSec: n / (elapsedMs / 1000) })
  }, (ok, bad) => {
    const burst = () => {
      if (over) return
      try {
        const stop = Math.min(n, sent + BURST)
        while (sent < stop) {
          sent++
          t.send(MSG)
        }
        if (sent < n) setImmediate(burst)
        else t.send(END)
      } catch (e) {
        over = true
        bad(e)
      }
    }
    start = performance.now()
    burst()
    return () => `${sent}/${n} sent`
  })
}
