/**
 * Writes conformance/values.json from tools/values.source.json: each fixture's `hex` is the
 * reference encoder's output (errors written without their stack, which differs from run to run).
 * Run after editing the source: `npx vite-node conformance/tools/write-values.ts`.
 * test/conformance.test.ts checks that values.json is what this would write.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { decode, encode } from '../../src/codec/index.js'
// @ts-expect-error a plain .mjs module
import { difference, fromTagged } from '../js/lib/tagged.mjs'

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url))

interface Fixture {
  name: string
  value: unknown
  hex?: string
  also?: string[]
}

function withoutStacks(v: unknown, seen = new Set<unknown>()): void {
  if (typeof v !== 'object' || v === null || seen.has(v)) return
  seen.add(v)
  if (v instanceof Error) {
    Object.defineProperty(v, 'stack', { value: undefined, configurable: true, writable: true })
    withoutStacks(v.cause, seen)
    if (v instanceof AggregateError) v.errors.forEach((e) => withoutStacks(e, seen))
  }
  const values = v instanceof Map ? [...v.keys(), ...v.values()] : v instanceof Set ? [...v] : ArrayBuffer.isView(v) ? [] : Object.values(v)
  for (const x of values) withoutStacks(x, seen)
}

const spaced = (b: Uint8Array) => Buffer.from(b).toString('hex').replace(/(..)(?!$)/g, '$1 ')

export function makeValues(): { about: string[]; fixtures: Fixture[] } {
  const source = JSON.parse(readFileSync(here('./values.source.json'), 'utf8')) as Fixture[]
  const fixtures = source.map((f) => {
    const value = fromTagged(f.value)
    withoutStacks(value)
    const hex = spaced(encode(value).payload)
    for (const h of [hex, ...(f.also ?? [])]) {
      const back = decode(Buffer.from(h.replace(/ /g, ''), 'hex'), null)
      const d = difference(back, fromTagged(f.value))
      if (d) throw new Error(`${f.name}: ${h} decodes to something else: ${d}`)
    }
    return { name: f.name, value: f.value, hex, ...(f.also ? { also: f.also } : {}) }
  })
  return {
    about: [
      'Values of every codec type (docs/PROTOCOL.md section 8), in tagged JSON (conformance/README.md).',
      'hex: the reference encoding of the payload. also: other valid encodings that must decode to the same value.',
      'Generated from tools/values.source.json by tools/make-values.ts: edit the source, not this file.',
    ],
    fixtures,
  }
}

export function valuesJson(): string {
  const { about, fixtures } = makeValues()
  return `{\n  "about": ${JSON.stringify(about)},\n  "fixtures": [\n${fixtures.map((f) => '    ' + JSON.stringify(f)).join(',\n')}\n  ]\n}\n`
}
