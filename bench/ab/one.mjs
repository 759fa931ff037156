// One A/B measure with one build: node bench/ab/one.mjs DIST MEASURE N -> JSON line { rate, p50 }
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
const [dist, measure, nArg] = process.argv.slice(2)
process.env.IPFI_DIST = dist
const ipfi = await import(dist)
const N = Number(nArg ?? 100000)
const MSG = { a: 1, b: 2 }
const childPath = fileURLToPath(new URL('./child.mjs', import.meta.url))
const open = (how, mode) => {
  const env = { ...process.env, AB_CHILD: mode }
  return how === 'fork' ? ipfi.fork(childPath, { env, ...(process.env.AB_CHILD_PROF && { execArgv: ['--cpu-prof', '--cpu-prof-dir', process.env.AB_CHILD_PROF] }) }) : ipfi.spawnWorker(childPath, { env })
}
async function window100(send, total) {
  // send() returns a promise of the reply; keep 100 in flight
  return new Promise((resolve, reject) => {
    let sent = 0, got = 0
    const t0 = performance.now()
    const one = () => { sent++; send().then(onReply, reject) }
    const onReply = () => { if (++got === total) resolve(total / ((performance.now() - t0) / 1000)); else if (sent < total) one() }
    for (let i = 0; i < 100 && i < total; i++) one()
  })
}
async function seq(send, total) {
  const s = new Float64Array(total)
  const t0 = performance.now()
  for (let i = 0; i < total; i++) { const a = performance.now(); await send(); s[i] = (performance.now() - a) * 1000 }
  const el = performance.now() - t0
  s.sort()
  return { rate: total / (el / 1000), p50: s[total >> 1], p99: s[Math.floor(total * 0.99)] }
}
// The replies of an echo child: its cpuUsage answers (to 'cpu?', forks only) go to who asked, every echo to onEcho
const pendingCpu = []
function readEchoes(c, how, onEcho) {
  ;(async () => { for (;;) { let m; try { m = await c.receiver.recv() } catch { return } if (m && m.user !== undefined) pendingCpu.shift()(m); else onEcho(m) } })()
  if (how === 'fork') childCpu = () => new Promise((r) => { pendingCpu.push(r); c.sender.send('cpu?') })
}
// channel round trips with a promise per request, resolved in order by the reply loop
function chanClient(c, how) {
  const waiting = []
  readEchoes(c, how, (m) => waiting.shift()(m))
  return () => new Promise((r) => { waiting.push(r); c.sender.send(MSG) })
}
// AB_IDLE=n: n idle worker links open beside the measured one (as in bench/run.mjs, which opens every scenario at once)
const idle = []
for (let i = 0; i < Number(process.env.AB_IDLE ?? 0); i++) idle.push(open('worker', 'echo'))
let out
let cpu0 = null, cpuN = 0
let childCpu = null // async () => the child's cpuUsage (forks only)
let child0 = null
const cpuStart = (n) => { cpu0 = process.cpuUsage(); cpuN = n; child0 = childCpu?.() }
// CPU µs per operation, all threads of this process (a worker's too; not a forked child's)
const stamp = () => { const d = process.cpuUsage(cpu0); out.cpuUs = (d.user + d.system) / cpuN; if (childCpu) pendingChild = childCpu() }
let pendingChild = null
const childStamp = async () => { if (!pendingChild) return; const p = pendingChild; pendingChild = null; const [a, b] = await Promise.all([child0, p]); out.cpuBothUs = out.cpuUs + (b.user + b.system - a.user - a.system) / cpuN }
const [kind, how, shape] = measure.split('-') // e.g. proc-worker-100, ch-fork-1, stream-fork, local-oneway, fanout-fork-1000
if (kind === 'local') {
  const [tx, rx] = ipfi.channel()
  const run = async (n) => { const t0 = performance.now(); for (let i = 0; i < n; i++) tx.send(MSG); for (let i = 0; i < n; i++) await rx.recv(); return n / ((performance.now() - t0) / 1000) }
  await run(N / 4)
  cpuStart(N); out = { rate: await run(N) }; stamp()
} else if (kind === 'proc' || kind === 'stream' || kind === 'slowstream' || kind === 'argstream' || kind === 'slowargstream') {
  const c = open(how, 'proc')
  const ep = await c.receiver.recv()
  const api = ipfi.remote(ep, process.env.AB_WINDOW ? { window: Number(process.env.AB_WINDOW) } : {})
  ep.close()
  if (how === 'fork') childCpu = () => api.cpu()
  if (kind === 'proc') {
    const send = () => api.echo(MSG)
    if (shape === '1') { await seq(send, N / 10); cpuStart(N); out = await seq(send, N); stamp() } else { await window100(send, N / 4); cpuStart(N); out = { rate: await window100(send, N) }; stamp() }
  } else if (kind === 'stream') {
    const run = async (n) => { const t0 = performance.now(); let k = 0; for await (const i of api.items(n)) if (i !== k++) throw new Error('order'); return n / ((performance.now() - t0) / 1000) }
    await run(N / 4); cpuStart(N); out = { rate: await run(N) }; stamp()
  } else if (kind === 'slowstream') {
    // 20 µs of work per item: at most 50k/s; `share` is the part of that reached
    const busy = () => { const u = performance.now() + 0.02; while (performance.now() < u); }
    const run = async (n) => { const t0 = performance.now(); for await (const i of api.items(n)) busy(); return n / ((performance.now() - t0) / 1000) }
    await run(N / 4); cpuStart(N); out = { rate: await run(N) }; stamp(); out.share = out.rate / 50000
  } else {
    // argstream: the child sums a streamed argument; slowargstream: with 20 µs of work per item there (`share` as above)
    const us = kind === 'slowargstream' ? 20 : 0
    const run = async (n) => { async function* g() { for (let i = 0; i < n; i++) yield 1 } const t0 = performance.now(); const s = await api.sum(g(), us); if (s !== n) throw new Error('sum ' + s); return n / ((performance.now() - t0) / 1000) }
    await run(N / 4); cpuStart(N); out = { rate: await run(N) }; stamp()
    if (us) out.share = out.rate / 50000
  }
  await childStamp()
  api[Symbol.dispose]()
  await c[Symbol.asyncDispose]()
} else if (kind === 'flood') {
  // one-way in bursts of 1,000 per turn; the echo child sends each back, counted here
  const c = open(how, 'echo')
  let got = 0, done = null, target = 0
  readEchoes(c, how, () => { if (++got === target) done() })
  const run = (n) => new Promise((r) => { got = 0; target = n; const t0 = performance.now(); done = () => r(n / ((performance.now() - t0) / 1000)); let sent = 0; const burst = () => { const stop = Math.min(n, sent + 1000); while (sent < stop) { sent++; c.sender.send(MSG) } if (sent < n) setImmediate(burst) }; burst() })
  await run(N / 4); cpuStart(N); out = { rate: await run(N) }; stamp()
  await childStamp()
  c.sender.close()
  await c[Symbol.asyncDispose]()
} else if (kind === 'ch') {
  const c = open(how, 'echo')
  const send = chanClient(c, how)
  if (shape === '1') { await seq(send, N / 10); cpuStart(N); out = await seq(send, N); stamp() } else { await window100(send, N / 4); cpuStart(N); out = { rate: await window100(send, N) }; stamp() }
  await childStamp()
  c.sender.close()
  await c[Symbol.asyncDispose]()
} else if (kind === 'sink') {
  // channel round trips as bench/run.mjs drives them: no promise per message, the recv loop's reply lets the next request go
  const c = open(how, 'echo')
  let onEcho = null
  readEchoes(c, how, () => onEcho())
  const run = (n) => new Promise((r) => { let sent = 0, got = 0; const t0 = performance.now(); onEcho = () => { if (++got === n) r(n / ((performance.now() - t0) / 1000)); else if (sent < n) { sent++; c.sender.send(MSG) } }; while (sent < 100) { sent++; c.sender.send(MSG) } })
  await run(N / 4); cpuStart(N); out = { rate: await run(N) }; stamp()
  await childStamp()
  c.sender.close()
  await c[Symbol.asyncDispose]()
} else if (kind === 'fanout') {
  const k = Number(shape)
  const c = open(how, 'fanout')
  const reqs = []
  const waiting = []
  for (let i = 0; i < k; i++) {
    const [reqTx, reqRx] = ipfi.channel(); const [repTx, repRx] = ipfi.channel()
    c.sender.send({ rx: reqRx, tx: repTx }); reqs.push(reqTx)
    ;(async () => { for (;;) { try { await repRx.recv() } catch { return } waiting.shift()() } })()
  }
  let next = 0
  const send = () => new Promise((r) => { waiting.push(r); reqs[next].send(MSG); if (++next === k) next = 0 })
  await window100(send, N / 4); cpuStart(N); out = { rate: await window100(send, N) }; stamp()
  for (const t of reqs) t.close(); c.sender.close()
  await c[Symbol.asyncDispose]()
}
await childStamp()
for (const c of idle) { c.sender.close(); await c[Symbol.asyncDispose]() }
console.log(JSON.stringify(out))
process.exit(0)
