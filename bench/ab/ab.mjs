// A/B: alternate rounds of two builds, fresh process per measure. node bench/ab/ab.mjs --rounds 5 [--pin] A_DIST B_DIST MEASURE:N,...
import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
const args = process.argv.slice(2)
let rounds = 5, pin = false
while (args[0]?.startsWith('--')) { const a = args.shift(); if (a === '--rounds') rounds = Number(args.shift()); else if (a === '--pin') pin = true }
const [a, b, list] = args
const one = fileURLToPath(new URL('./one.mjs', import.meta.url))
const res = {}
for (let r = 0; r < rounds; r++) {
  for (const m of list.split(',')) {
    const [name, n] = m.split(':')
    const order = r % 2 ? [b, a] : [a, b]
    for (const d of order) {
      const cmd = pin ? ['taskset', ['-c', '0', process.execPath, one, d, name, n]] : [process.execPath, [one, d, name, n]]
      const o = JSON.parse(execFileSync(cmd[0], cmd[1], { encoding: 'utf8', timeout: 120000 }).trim().split('\n').pop())
      ;((res[name] ??= {})[d === a ? 'A' : 'B'] ??= []).push(o)
    }
  }
}
const med = (xs) => { const s = [...xs].sort((x, y) => x - y); return s[s.length >> 1] }
const f = (x) => x >= 1000 ? `${(x / 1000).toFixed(1)}k` : x.toFixed(2)
for (const [name, { A, B }] of Object.entries(res)) {
  for (const k of Object.keys(A[0])) {
    const av = A.map((o) => o[k]), bv = B.map((o) => o[k])
    console.log(`${name} ${k}: A ${f(med(av))} [${f(Math.min(...av))}-${f(Math.max(...av))}]  B ${f(med(bv))} [${f(Math.min(...bv))}-${f(Math.max(...bv))}]  B/A ${(med(bv) / med(av)).toFixed(2)}`)
  }
}
