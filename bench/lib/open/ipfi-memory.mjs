/**
 * Two ipfi links over an in-memory wire pair in this thread: connectWire() on both ends of
 * memoryWirePair({ chunk }) (chunk 1: every byte a chunk of its own; none: whole writes). Counts
 * the bytes both ends write, so a scenario can report its wire bytes per round trip
 * (`wireBytes()` on the transport, see run.mjs).
 */
import { connectWire, expose, memoryWirePair, remote } from 'ipfi'
import { countingWire } from './counting-wire.mjs'
import { pump } from '../peers/ipfi-pump.mjs'

async function linkPair(chunk) {
  const counter = { bytes: 0 }
  const [wa, wb] = memoryWirePair(chunk ? { chunk } : {})
  const a = connectWire(countingWire(wa, counter), { name: 'bench memory a' })
  const b = connectWire(countingWire(wb, counter), { name: 'bench memory b' })
  await Promise.all([a.ready, b.ready])
  return { a, b, wireBytes: () => counter.bytes }
}

/** Channels: b echoes what a sends on the bootstrap channels. */
export async function openMemoryChannels(chunk, sink) {
  const { a, b, wireBytes } = await linkPair(chunk)
  const echo = pump(b.receiver, (m) => b.sender.send(m), sink.fail)
  const main = pump(a.receiver, sink.deliver, sink.fail)
  return {
    send: (m) => a.sender.send(m),
    wireBytes,
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
}

/** Procedures: b exposes `echo`, a calls remote(endpoint).echo(m). */
export async function openMemoryProcedures(chunk, sink) {
  const { a, b, wireBytes } = await linkPair(chunk)
  b.sender.send(expose({ echo: (m) => m }))
  const endpoint = await a.receiver.recv()
  const api = remote(endpoint)
  endpoint.close()
  return {
    send: (m) => api.echo(m).then(sink.deliver, sink.fail),
    wireBytes,
    async close() {
      api[Symbol.dispose]()
      b.close()
      a.close()
      await Promise.all([a.closed, b.closed])
      return []
    },
  }
}
