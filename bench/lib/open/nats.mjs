/**
 * The bench side of the NATS scenarios (bench/scenarios/nats.mjs): a child on the run's
 * nats-server (bench/lib/open/nats-server.mjs), then a transport `{ send, close }` to it.
 *
 *   raw request/reply: nc.request() per message, the child answering with msg.respond()
 *   raw publish:       nc.publish() per message, the child counting and publishing the count
 *   ipfi:              connect('nats://.../name') to the child's listen(), the link's bootstrap
 *                      channel (echo, one-way) or remote(endpoint).echo() (procedures)
 */
import { fork } from 'node:child_process'
import { connect as natsConnect } from '@nats-io/transport-node'
import { connect, remote } from 'ipfi'
import { pump } from '../peers/ipfi-pump.mjs'
import { decodeMsg, encodeMsg, rawSubjects } from '../peers/nats-peer.mjs'
import { acquireNatsServer, releaseNatsServer } from './nats-server.mjs'
import { childPath, track, waitExit, watchExit } from './procs.mjs'

let names = 0

/** A child of bench/children/ that says `ready` over IPC; stop() asks it to end and waits. */
async function startChild(file, args, what) {
  const child = track(fork(childPath(file), args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }))
  await Promise.race([
    new Promise((r) => child.once('message', r)),
    new Promise((_, j) => child.once('exit', (c, s) => j(new Error(`${what} exited early (${c ?? s})`)))),
  ])
  return {
    child,
    async stop() {
      child.send('stop')
      return { what, ...(await waitExit(child)) }
    },
  }
}

/** With the run's server: `body(hostPort, base)` opens the transport; its close() releases the server. */
async function onServer(body) {
  const hostPort = await acquireNatsServer()
  try {
    const t = await body(hostPort, `bench.p${process.pid}.s${names++}`)
    return {
      ...t,
      async close() {
        try {
          return await t.close()
        } finally {
          await releaseNatsServer()
        }
      },
    }
  } catch (e) {
    await releaseNatsServer()
    throw e
  }
}

/** mode 'echo': request/reply per message; 'count': publish per message, the count comes back. */
export const openRawNats = (mode, sink, what) =>
  onServer(async (hostPort, base) => {
    const subjects = rawSubjects(base)
    const peer = await startChild('raw-nats-peer.mjs', [hostPort, base, mode], what)
    const watch = watchExit(peer.child, sink, what)
    const nc = await natsConnect({ servers: hostPort, name: 'bench raw' })
    let send
    if (mode === 'echo') {
      send = (m) =>
        nc.request(subjects.echo, encodeMsg(m), { timeout: 60_000 }).then(
          (r) => sink.deliver(decodeMsg(r.data)),
          (e) => sink.fail(e),
        )
    } else {
      nc.subscribe(subjects.counted, { callback: (err, msg) => (err ? sink.fail(err) : sink.deliver(decodeMsg(msg.data))) })
      await nc.flush()
      send = (m) => nc.publish(subjects.count, encodeMsg(m))
    }
    return {
      send,
      async close() {
        watch.closing = true
        await nc.drain()
        return [await peer.stop()]
      },
    }
  })

/** mode 'echo' or 'count': the link's bootstrap channel; 'procedures': remote(endpoint).echo(). */
export const openIpfiNats = (mode, sink, what) =>
  onServer(async (hostPort, base) => {
    const address = `nats://${hostPort}/${base}`
    const peer = await startChild('ipfi-nats-peer.mjs', [address, mode], what)
    const watch = watchExit(peer.child, sink, what)
    const link = await connect(address)
    let send
    let stopPump = () => {}
    let api = null
    if (mode === 'procedures') {
      const endpoint = await link.receiver.recv()
      api = remote(endpoint)
      endpoint.close()
      send = (m) => api.echo(m).then(sink.deliver, sink.fail)
    } else {
      const main = pump(link.receiver, sink.deliver, (e) => watch.closing || sink.fail(e))
      stopPump = () => main.stop()
      send = (m) => link.sender.send(m)
    }
    return {
      send,
      async close() {
        watch.closing = true
        stopPump()
        api?.[Symbol.dispose]()
        await link[Symbol.asyncDispose]()
        return [await peer.stop()]
      },
    }
  })
