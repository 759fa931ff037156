#!/usr/bin/env node
/**
 * The two codecs side by side: ipfi's JS codec (src/codec, bundled on the fly with esbuild, as
 * tsup builds it) and the Python one (python/bench/codec.py, on the bench's Python,
 * bench/lib/open/python.mjs), on the same cases: encode and decode of {a:1,b:2}, of a record of
 * mixed fields, and of 1 MiB of bytes. Rounds alternate JS and Python; figures are medians.
 *
 *   node bench/codec.mjs [seconds per case, default 1] [rounds, default 3]
 *
 * The table goes to stdout and to bench/results/codec.md.
 */
import { spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { performance } from 'node:perf_hooks'
import { build } from 'esbuild'
import { PYTHON, PYTHON_VERSION } from './lib/open/python.mjs'
import { median } from './lib/measure/stats.mjs'
import { fmtRate, fmtRatio } from './lib/report/format.mjs'

const here = dirname(fileURLToPath(import.meta.url))
const seconds = Number(process.argv[2] ?? 1)
const rounds = Number(process.argv[3] ?? 3)

// Bundled under node_modules/ so that its import of msgpackr resolves.
mkdirSync(join(here, '../node_modules/.cache'), { recursive: true })
const dir = mkdtempSync(join(here, '../node_modules/.cache/ipfi-codec-bench-'))
let codec
try {
  const out = join(dir, 'codec.mjs')
  await build({ entryPoints: [join(here, '../src/codec/index.ts')], bundle: true, format: 'esm', platform: 'node', target: 'node20', outfile: out, external: ['msgpackr'], logLevel: 'error', absWorkingDir: join(here, '..') })
  codec = await import(pathToFileURL(out).href)
} finally {
  rmSync(dir, { recursive: true, force: true })
}
const { encode, decode } = codec

const RECORD = { id: 12345, name: 'some name', tags: ['x', 'y', 'z'], ok: true, score: 1.5, nested: { a: 1, b: [1, 2, 3] } }
const small = { a: 1, b: 2 }
const big = Buffer.alloc(1 << 20, 7)
const copy = (b) => Buffer.from(b) // the payload is a view into the encoder's buffer
const smallBytes = copy(encode(small).payload)
const recordBytes = copy(encode(RECORD).payload)
const bigBytes = copy(encode(big).payload)
let sink = 0
const CASES = [
  ['encode {a:1,b:2}', () => (sink ^= encode(small).payload.length)],
  ['decode {a:1,b:2}', () => (sink ^= decode(smallBytes, null).a)],
  ['encode record', () => (sink ^= encode(RECORD).payload.length)],
  ['decode record', () => (sink ^= decode(recordBytes, null).id)],
  ['encode 1 MiB bytes', () => (sink ^= encode(big).payload.length)],
  ['decode 1 MiB bytes', () => (sink ^= decode(bigBytes, null).length)],
]

function rate(f) {
  let n = 0
  let batch = 1
  const start = performance.now()
  for (;;) {
    for (let i = 0; i < batch; i++) f()
    n += batch
    const elapsed = (performance.now() - start) / 1000
    if (elapsed >= seconds) return n / elapsed
    batch = Math.min(batch * 2, 10_000)
  }
}

const js = Object.fromEntries(CASES.map(([name]) => [name, []]))
const py = Object.fromEntries(CASES.map(([name]) => [name, []]))
for (let r = 0; r < rounds; r++) {
  for (const [name, f] of CASES) js[name].push(rate(f))
  const p = spawnSync(PYTHON, [join(here, '../python/bench/codec.py'), String(seconds), '--json'], { encoding: 'utf8' })
  if (p.status !== 0) throw new Error(`python/bench/codec.py failed: ${p.stderr}`)
  const got = JSON.parse(p.stdout).opsPerSec
  for (const [name] of CASES) py[name].push(got[name])
}
const L = []
L.push(`### Codec, ops/s: JS (Node ${process.version}) and Python ${PYTHON_VERSION}; median of ${rounds} alternating rounds, ${seconds} s a case`)
L.push('')
L.push('| case | JS ops/s | Python ops/s | Python ÷ JS | JS by round | Python by round |')
L.push('|---|---:|---:|---:|---|---|')
for (const [name] of CASES) {
  const a = median(js[name])
  const b = median(py[name])
  L.push(`| ${name} | ${fmtRate(a)} | ${fmtRate(b)} | ${fmtRatio(b / a)} | ${js[name].map(fmtRate).join(' / ')} | ${py[name].map(fmtRate).join(' / ')} |`)
}
if (sink === 0.5) L.push('') // keep the results used
console.log(L.join('\n'))
writeFileSync(join(here, 'results/codec.md'), `${L.join('\n')}\n\nWritten by bench/codec.mjs (${new Date().toISOString()}).\n`)
