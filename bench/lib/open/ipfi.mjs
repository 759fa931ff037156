// Open an ipfi child (bench/children/<file>, which calls parent()) with fork() or spawnWorker().
// `ipfiChild` is the lifecycle every ipfi child shares (an early exit fails the sink; close() closes
// our ends and waits for it to end by itself); `openIpfiFork`/`openIpfiWorker` add a transport:
// everything the child sends on its bootstrap channel goes to the sink. Shared by the ipfi echo,
// payload, one-way, procedures and many-channels scenarios.
import { fork, spawnWorker, transfer } from 'ipfi'
import { pump } from '../peers/ipfi-pump.mjs'
import { childPath, track, waitExit, withDeadline } from './procs.mjs'

/**
 * how: 'fork' or 'worker'. Returns { c, close(before) -> exits }: `c` the handle from fork() or
 * spawnWorker(); close() stops watching for an early exit, runs `before()`, then closes our ends
 * and waits (asyncDispose SIGTERMs a child, terminates a worker, after 2 s).
 */
export function ipfiChild(how, file, sink, what, env) {
  const path = childPath(file)
  const e = env && { ...process.env, ...env }
  const c = how === 'fork' ? fork(path, { stdio: 'inherit', ...(e && { env: e }) }) : spawnWorker(path, e ? { env: e } : {})
  if (how === 'fork') track(c.process)
  let closing = false
  c.exited.then((e) => closing || sink.fail(new Error(`${what} exited early (${how === 'fork' ? (e.code ?? e.signal) : `code ${e.code}`})`)))
  return {
    c,
    async close(before) {
      closing = true
      await before?.()
      await c[Symbol.asyncDispose]()
      if (how === 'fork') {
        const e = await waitExit(c.process)
        return [{ what, ...e, forced: e.forced || e.signal !== null }]
      }
      const e = await withDeadline(c.exited, 5000, () => ({ code: null, signal: 'timeout' }))
      // A thread that ended by itself exits with code 0; terminate() gives 1.
      return [{ what, code: e.code, signal: e.signal, forced: e.code !== 0 }]
    },
  }
}

/**
 * `loop`: the loop style of both ends (bench/lib/peers/ipfi-pump.mjs), `await recv()` by default.
 * `moves`: both ends send a message's `data` with transfer() (the echo child too,
 * IPFI_BENCH_TRANSFER), so a payload bounces without a copy at either send (`movesPayload`: the
 * payload driver sends each reply's own buffer back, its previous one being detached).
 */
function openIpfi(how, file, sink, what, loop = 'recv', moves = false) {
  const env = { ...(loop !== 'recv' && { IPFI_BENCH_LOOP: loop }), ...(moves && { IPFI_BENCH_TRANSFER: '1' }) }
  const { c, close } = ipfiChild(how, file, sink, what, Object.keys(env).length ? env : undefined)
  const main = pump(c.receiver, sink.deliver, sink.fail, loop)
  return {
    send: moves ? (m) => c.sender.send(m?.data ? transfer(m, [m.data]) : m) : (m) => c.sender.send(m),
    movesPayload: moves,
    close: () => close(() => main.stop()),
  }
}

export const openIpfiFork = (file, sink, what, loop, moves) => openIpfi('fork', file, sink, what, loop, moves)
export const openIpfiWorker = (file, sink, what, loop, moves) => openIpfi('worker', file, sink, what, loop, moves)
