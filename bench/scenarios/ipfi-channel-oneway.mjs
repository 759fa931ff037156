// ipfi in-process channel(), one way: send N messages, then receive N (await recv()).
import { performance } from 'node:perf_hooks'
import { channel } from 'ipfi'
import { MSG, isEcho } from '../lib/measure/echo.mjs'

export default {
  id: 'ipfi-channel-oneway',
  label: 'ipfi channel() one-way, send N then receive N',
  impl: 'ipfi',
  kind: 'in-process',
  type: 'oneway',
  async run(n) {
    const [tx, rx] = channel()
    const start = performance.now()
    for (let i = 0; i < n; i++) tx.send(MSG)
    let ok = 0
    for (let i = 0; i < n; i++) if (isEcho(await rx.recv())) ok++
    const elapsedMs = performance.now() - start
    if (ok !== n) throw new Error(`${this.id}: ${n - ok} of ${n} messages came out wrong`)
    if (rx.size !== 0) throw new Error(`${this.id}: ${rx.size} messages left over`)
    tx.close()
    rx.close()
    return { elapsedMs, msgsPerSec: n / (elapsedMs / 1000) }
  },
}
