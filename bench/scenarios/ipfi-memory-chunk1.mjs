// ipfi over memoryWirePair({ chunk: 1 }): every write reaches the peer one byte per chunk (a
// stress test of the frame decoder, not a real transport). Expected to be slow; run with fewer
// iterations (iterScale).
import { connectWire, memoryWirePair } from 'ipfi'
import { pump } from '../lib/ipfi-pump.mjs'

export default {
  id: 'ipfi-memory-chunk1',
  label: 'ipfi memory wire, 1-byte chunks',
  impl: 'ipfi',
  kind: 'in-process',
  type: 'echo',
  compareWith: ['raw-message-channel'],
  iterScale: 0.1,
  note: 'test wire: every byte is a separate chunk; expected to be slow',
  async open(sink) {
    const [wa, wb] = memoryWirePair({ chunk: 1 })
    const a = connectWire(wa, { name: 'bench memory a' })
    const b = connectWire(wb, { name: 'bench memory b' })
    await Promise.all([a.ready, b.ready])
    const echo = pump(b.receiver, (m) => b.sender.send(m), sink.fail)
    const main = pump(a.receiver, sink.deliver, sink.fail)
    return {
      send: (m) => a.sender.send(m),
      async close() {
        main.stop()
        a.sender.close() // b's loop ends
        await echo.done
        b.close()
        a.close()
        await Promise.all([a.closed, b.closed])
        await main.done
        return []
      },
    }
  },
}
