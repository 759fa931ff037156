// Open an ipfi child (bench/children/<file>, which calls parent()) with fork() or spawnWorker():
// everything it sends on its bootstrap channel goes to the sink; closing our ends lets it finish.
// Shared by the ipfi echo, payload and one-way scenarios.
import { fork, spawnWorker } from 'ipfi'
import { pump } from './ipfi-pump.mjs'
import { track, waitExit, withDeadline } from './procs.mjs'

export function openIpfiFork(file, sink, what) {
  const c = fork(new URL(`../children/${file}`, import.meta.url), { stdio: 'inherit' })
  track(c.process)
  let closing = false
  c.exited.then((e) => closing || sink.fail(new Error(`${what} exited early (${e.code ?? e.signal})`)))
  const main = pump(c.receiver, sink.deliver, sink.fail)
  return {
    send: (m) => c.sender.send(m),
    async close() {
      closing = true
      main.stop()
      // Close our ends and wait: the child ends on its own (asyncDispose SIGTERMs it after 2 s).
      await c[Symbol.asyncDispose]()
      const e = await waitExit(c.process)
      return [{ what, ...e, forced: e.forced || e.signal !== null }]
    },
  }
}

export function openIpfiWorker(file, sink, what) {
  const w = spawnWorker(new URL(`../children/${file}`, import.meta.url))
  let closing = false
  w.exited.then((e) => closing || sink.fail(new Error(`${what} exited early (code ${e.code})`)))
  const main = pump(w.receiver, sink.deliver, sink.fail)
  return {
    send: (m) => w.sender.send(m),
    async close() {
      closing = true
      main.stop()
      // Close our ends and wait: the worker ends on its own (asyncDispose terminates it after 2 s).
      await w[Symbol.asyncDispose]()
      const e = await withDeadline(w.exited, 5000, () => ({ code: null, signal: 'timeout' }))
      // A thread that ended by itself exits with code 0; terminate() gives 1.
      return [{ what, code: e.code, signal: e.signal, forced: e.code !== 0 }]
    },
  }
}
