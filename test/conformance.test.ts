/**
 * The language-neutral conformance suite (conformance/README.md): every scenario of
 * conformance/scenarios.json, over every wire it lists, in every pair of the languages that take
 * part (conformance/languages.json: JS always; Python once conformance/python/role.py exists). A
 * hostile scenario runs its victim in each language, on each side of each socket wire. Roles are
 * separate programs using the built package (dist/), so `npm test` builds first.
 */
import { existsSync, readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { describe, expect, it } from 'vitest'
import { CELL_MS, SCENARIO_FILE, runHostile, runPair, victimSides, wiresOf, type CellResult, type KnownFailure } from '../conformance/runner/cell.js'
import { CONFORMANCE_DIR, languages } from '../conformance/runner/languages.js'
import { valuesJson } from '../conformance/tools/make-values.js'

const { langs, errors: langErrors } = languages()

/** Cells running at once (each is one or two processes); vitest starts more, they wait here. */
const JOBS = Math.max(1, Number(process.env.IPFI_CONFORMANCE_JOBS) || 3)
let running = 0
const queue: (() => void)[] = []
async function slot<T>(f: () => Promise<T>): Promise<T> {
  if (running >= JOBS) await new Promise<void>((r) => queue.push(r))
  running++
  try {
    return await f()
  } finally {
    running--
    queue.shift()?.()
  }
}

/** A cell's test timeout: its own deadline, plus waiting for a slot behind the others vitest started. */
const TIMEOUT = CELL_MS * 4

function judged(r: CellResult): void {
  expect(r.problems, `\n${r.report}\n`).toEqual([])
}

/**
 * A cell marked with a known bug (scenarios.json `knownFailures`) must fail, and only in the way
 * the bug explains: every failed check matches `match` (a role that failed exits 1, which goes with
 * it). Once the bug is fixed this fails, saying to remove the mark.
 */
function judgedKnown(r: CellResult, known: KnownFailure): void {
  expect(r.problems.length, `the known failure is gone (${known.why}): remove its knownFailures entry from conformance/scenarios.json\n${r.report}`).toBeGreaterThan(0)
  const match = new RegExp(known.match)
  const unexplained = r.problems.filter((p) => !match.test(p) && !/exited with code 1 signal null, expected code 0$/.test(p))
  expect(unexplained, `failures the known bug does not explain\n${r.report}\n`).toEqual([])
}

/** Optional filter for a local run: IPFI_CONFORMANCE_ONLY=<substring of the test name>. */
const ONLY = process.env.IPFI_CONFORMANCE_ONLY ?? ''

describe('conformance suite: set-up', () => {
  it('the package is built (roles use dist/)', () => {
    expect(existsSync(resolve(CONFORMANCE_DIR, '../dist/index.js')), 'run `npx tsup` (npm test does)').toBe(true)
  })

  it('every language whose role exists can run it (a role without its interpreter fails the run, never skips)', () => {
    expect(langErrors.map((e) => e.message)).toEqual([])
    expect(langs.map((l) => l.name)).toContain('js')
  })

  it('the JS role implements every scenario', () => {
    const js = langs.find((l) => l.name === 'js')
    expect(SCENARIO_FILE.scenarios.map((s) => s.name).filter((n) => !js?.implements.has(n))).toEqual([])
  })

  it('scenario names are unique, and every name a language lists is a scenario', () => {
    const names = SCENARIO_FILE.scenarios.map((s) => s.name)
    expect(new Set(names).size).toBe(names.length)
    for (const l of langs) expect([...l.implements].filter((n) => !names.includes(n)), l.name).toEqual([])
  })

  it('values.json is what conformance/tools/make-values.ts makes of values.source.json (the reference encoder agrees)', () => {
    expect(readFileSync(resolve(CONFORMANCE_DIR, 'values.json'), 'utf8')).toBe(valuesJson())
  })
})

describe.concurrent('conformance', () => {
  for (const s of SCENARIO_FILE.scenarios) {
    for (const wire of wiresOf(s)) {
      if (s.kind === 'hostile') {
        for (const lang of langs) {
          for (const side of victimSides(wire)) {
            const name = `${s.name} over ${wire}: ${lang.name} victim${side === 'stdio' ? '' : ` ${side}`}`
            if (ONLY && !name.includes(ONLY)) continue
            if (!lang.implements.has(s.name)) it.todo(`${name} (not implemented by the ${lang.name} role)`)
            else it(name, { timeout: TIMEOUT }, async () => judged(await slot(() => runHostile(s, wire, side, lang))))
          }
        }
        continue
      }
      for (const a of langs) {
        for (const b of langs) {
          const name = `${s.name} over ${wire}: ${a.name} a, ${b.name} b`
          if (ONLY && !name.includes(ONLY)) continue
          const missing = [a, b].filter((l) => !l.implements.has(s.name)).map((l) => l.name)
          const known = s.knownFailures?.find((k) => k.pairs.some(([x, y]) => x === a.name && y === b.name))
          if (missing.length) it.todo(`${name} (not implemented by the ${[...new Set(missing)].join(' and ')} role)`)
          else if (known) it(`${name} [KNOWN BUG: must fail, see knownFailures in scenarios.json]`, { timeout: TIMEOUT }, async () => judgedKnown(await slot(() => runPair(s, wire, a, b)), known))
          else it(name, { timeout: TIMEOUT }, async () => judged(await slot(() => runPair(s, wire, a, b))))
        }
      }
    }
  }
})
