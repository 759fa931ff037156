// The many-channels scenarios: one fork() link carrying `k` echo channels (each a request channel
// and a reply channel made here, moved to the child), messages sent round-robin over them.
import { channel } from 'ipfi'
import { ipfiChild } from './ipfi.mjs'
import { pump } from '../peers/ipfi-pump.mjs'
import { withDeadline } from './procs.mjs'

export function fanoutScenario(k, extra) {
  return {
    impl: 'ipfi',
    kind: 'process',
    type: 'echo',
    ...extra,
    async open(sink) {
      const { c, close } = ipfiChild('fork', 'ipfi-fanout-echo.mjs', sink, `ipfi fan-out child (${k} channels)`)
      const requests = []
      const pumps = []
      for (let i = 0; i < k; i++) {
        const [reqTx, reqRx] = channel()
        const [repTx, repRx] = channel()
        c.sender.send({ rx: reqRx, tx: repTx })
        requests.push(reqTx)
        pumps.push(pump(repRx, sink.deliver, sink.fail))
      }
      let next = 0
      return {
        send(m) {
          requests[next].send(m)
          if (++next === k) next = 0
        },
        close: () =>
          close(async () => {
            for (const tx of requests) tx.close() // each child loop ends and closes its reply channel
            c.sender.close() // no more pairs: the child ends once its loops are done
            await withDeadline(Promise.all(pumps.map((p) => p.done)), 5000, () => undefined)
            for (const p of pumps) p.stop()
          }),
      }
    },
  }
}
