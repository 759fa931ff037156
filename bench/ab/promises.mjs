// node bench/ab/promises.mjs DIST: promises created per call and per stream item, both ends in one thread
// promises created per call / per stream item, both sides in one thread (expose + remote in process)
import { createHook } from 'node:async_hooks'
const ipfi = await import(process.argv[2])
let n = 0
const hook = createHook({ init(id, type) { if (type === 'PROMISE') n++ } })
const ep = ipfi.expose({ echo: (m) => m, async *items(k) { for (let i = 0; i < k; i++) yield i }, async count(s) { let c = 0; for await (const _ of s) c++; return c } })
const api = ipfi.remote(ep)
const MSG = { a: 1, b: 2 }
for (let i = 0; i < 1000; i++) await api.echo(MSG)
hook.enable(); n = 0
const N = 10000
for (let i = 0; i < N; i++) await api.echo(MSG)
const seq = n / N
n = 0
await new Promise((res) => { let sent = 0, got = 0; const one = () => { sent++; api.echo(MSG).then(() => { if (++got === N) res(); else if (sent < N) one() }) }; for (let i = 0; i < 100; i++) one() })
const win = n / N
n = 0
let c = 0; for await (const _ of api.items(N)) c++
const st = n / N
n = 0
async function* g() { for (let i = 0; i < N; i++) yield i }
await api.count(g())
const arg = n / N
hook.disable()
console.log(`promises per call, 1 in flight ${seq.toFixed(2)}, 100 in flight ${win.toFixed(2)}; per result-stream item ${st.toFixed(2)}; per argument-stream item ${arg.toFixed(2)} (the harness's own await/then included)`)
api[Symbol.dispose](); ep.close()
