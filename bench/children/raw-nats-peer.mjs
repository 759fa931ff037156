// The raw NATS client's other end (bench/scenarios/nats.mjs): argv servers, base subject, mode.
//   echo:  answer each request on <base>.echo with its message decoded and encoded again (a stats
//          request with this process's memory figures), msg.respond: the client's request/reply
//   count: count what is published on <base>.count; the end marker is answered on <base>.counted
// Says ready over Node IPC once the server has its subscription; drains and ends when told 'stop'.
import { connect } from '@nats-io/transport-node'
import { counter } from '../lib/peers/oneway-count.mjs'
import { decodeMsg, encodeMsg, rawSubjects, serveUntilStopped } from '../lib/peers/nats-peer.mjs'
import { isStatsRequest, usage } from '../lib/peers/usage.mjs'

const [servers, base, mode] = process.argv.slice(2)
const subjects = rawSubjects(base)
const nc = await connect({ servers, name: `bench raw ${mode}` })
if (mode === 'echo') {
  nc.subscribe(subjects.echo, {
    callback: (err, msg) => {
      if (err) throw err
      const m = decodeMsg(msg.data)
      msg.respond(encodeMsg(isStatsRequest(m) ? usage() : m))
    },
  })
} else if (mode === 'count') {
  const count = counter((r) => nc.publish(subjects.counted, encodeMsg(r)))
  nc.subscribe(subjects.count, {
    callback: (err, msg) => {
      if (err) throw err
      count(decodeMsg(msg.data))
    },
  })
} else throw new Error(`raw-nats-peer: unknown mode ${mode}`)
await nc.flush()
serveUntilStopped(() => nc.drain())
