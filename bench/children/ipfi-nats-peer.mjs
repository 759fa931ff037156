// ipfi's other end over NATS (bench/scenarios/nats.mjs): argv address (nats://host:port/name), mode.
// listen() on the address; each client that connects gets, by mode:
//   echo:       every message sent back on the link's bootstrap channel (a stats request: memory figures)
//   count:      the one-way counter, answering the end marker with the count
//   procedures: an endpoint with `echo`
// Says ready over Node IPC once listening; closes the server and its links and ends when told 'stop'.
import { expose, listen } from 'ipfi'
import { counter } from '../lib/peers/oneway-count.mjs'
import { drain } from '../lib/peers/ipfi-pump.mjs'
import { serveUntilStopped } from '../lib/peers/nats-peer.mjs'
import { isStatsRequest, usage } from '../lib/peers/usage.mjs'

const [address, mode] = process.argv.slice(2)
const server = await listen(address)
const peers = new Set()
void (async () => {
  for await (const peer of server) {
    peers.add(peer)
    if (mode === 'procedures') peer.sender.send(expose({ echo: (m) => m }))
    else if (mode === 'echo') void drain(peer.receiver, (m) => peer.sender.send(isStatsRequest(m) ? usage() : m)).catch(() => {})
    else if (mode === 'count') void drain(peer.receiver, counter((r) => peer.sender.send(r))).catch(() => {})
    else throw new Error(`ipfi-nats-peer: unknown mode ${mode}`)
  }
})()
serveUntilStopped(async () => {
  await server.close()
  for (const p of peers) {
    p.close()
    await p.closed
  }
})
