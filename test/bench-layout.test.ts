/**
 * The bench folders stay as bench/README.md maps them: bench/lib/ holds only its four folders, every
 * relative import in bench/ names a file that exists, and what a child loads (bench/children/ and
 * bench/lib/peers/) comes from bench/lib/peers/ only. Read from the sources as text, nothing runs: a
 * child's broken import would otherwise show only when the smoke test starts that child.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const BENCH = fileURLToPath(new URL('../bench/', import.meta.url))
const LIB_FOLDERS = ['measure', 'open', 'peers', 'report']

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name)
    return statSync(p).isDirectory() ? sources(p) : p.endsWith('.mjs') ? [p] : []
  })
}

/** The files `file` imports by relative path, resolved. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8')
  const re = /(?:^|\n)\s*(?:import|export)\s+(?:[^'";]*?\s+from\s+)?['"](\.[^'"]+)['"]|import\(\s*['"](\.[^'"]+)['"]\s*\)/g
  return [...text.matchAll(re)].map((m) => resolve(dirname(file), m[1] ?? m[2]!))
}

const name = (p: string) => relative(BENCH, p)

describe('bench layout', () => {
  it('bench/lib/ holds only its folders', () => {
    expect(readdirSync(join(BENCH, 'lib')).sort()).toEqual(LIB_FOLDERS)
  })

  it('every relative import in bench/ names a file that exists', () => {
    const missing = sources(BENCH).flatMap((f) => importsOf(f).filter((to) => !existsSync(to)).map((to) => `${name(f)} -> ${name(to)}`))
    expect(missing).toEqual([])
  })

  it('the Python programs the bench starts exist (bench/lib/open/python.mjs: python/bench/)', () => {
    const text = readFileSync(join(BENCH, 'lib/open/python.mjs'), 'utf8')
    const started = [...text.matchAll(/join\(PY_BENCH, '([^']+)'\)/g)].map((m) => m[1]!)
    expect([...new Set(started)].sort()).toEqual(['driver.py', 'peer.py'])
    for (const f of [...started, 'rawframe.py']) expect(existsSync(join(BENCH, '../python/bench', f)), f).toBe(true)
  })

  it('children and peers import from bench/lib/peers/ only', () => {
    const peers = join(BENCH, 'lib/peers/')
    const loaded = [...sources(join(BENCH, 'children')), ...sources(peers)]
    const outside = loaded.flatMap((f) => importsOf(f).filter((to) => !to.startsWith(peers)).map((to) => `${name(f)} -> ${name(to)}`))
    expect(outside).toEqual([])
  })
})
