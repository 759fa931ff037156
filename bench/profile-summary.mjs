#!/usr/bin/env node
/**
 * Summarize V8 .cpuprofile files (from `node --cpu-prof`): the functions with the most self
 * time, and the share of idle, GC and native time.
 *
 *   node bench/profile-summary.mjs [--top N] FILE.cpuprofile...
 */
import { readFileSync } from 'node:fs'
import { basename } from 'node:path'

const argv = process.argv.slice(2)
let top = 25
const files = []
for (let i = 0; i < argv.length; i++) {
  if (argv[i] === '--top') top = Number(argv[++i])
  else files.push(argv[i])
}
if (!files.length) {
  console.error('usage: node bench/profile-summary.mjs [--top N] FILE.cpuprofile...')
  process.exit(2)
}

for (const file of files) {
  const prof = JSON.parse(readFileSync(file, 'utf8'))
  const byId = new Map(prof.nodes.map((n) => [n.id, n]))
  const self = new Map() // node id -> µs
  const { samples, timeDeltas } = prof
  for (let i = 0; i < samples.length; i++) self.set(samples[i], (self.get(samples[i]) ?? 0) + (timeDeltas[i] ?? 0))
  const total = [...self.values()].reduce((a, b) => a + b, 0)
  const byFn = new Map()
  for (const [id, us] of self) {
    const cf = byId.get(id).callFrame
    const where = cf.url ? `${basename(cf.url)}:${cf.lineNumber + 1}` : ''
    const key = `${cf.functionName || '(anonymous)'} ${where}`.trim()
    byFn.set(key, (byFn.get(key) ?? 0) + us)
  }
  const rows = [...byFn].sort((a, b) => b[1] - a[1])
  const share = (name) => ((byFn.get(name) ?? 0) / total) * 100
  console.log(`\n## ${basename(file)}: ${(total / 1000).toFixed(0)} ms sampled; idle ${share('(idle)').toFixed(1)}%, GC ${share('(garbage collector)').toFixed(1)}%, (program) ${share('(program)').toFixed(1)}%`)
  console.log('| self % | self ms | function |')
  console.log('|---:|---:|---|')
  for (const [name, us] of rows.slice(0, top)) console.log(`| ${((us / total) * 100).toFixed(1)} | ${(us / 1000).toFixed(1)} | ${name} |`)
}
