import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'
// @ts-expect-error a plain JS example module (type-checked with tsconfig.examples.json)
import { morseDecoder, toMorse } from '../examples/morse/morse-wire.mjs'

describe('the Morse-code wire (examples/morse)', () => {
  it('encodes every byte as dots, dashes and gaps only, and decodes text cut anywhere', () => {
    const bytes = Uint8Array.from({ length: 256 }, (_, i) => i)
    const morse: string = toMorse(bytes)
    expect(morse).toMatch(/^[.\- /]+$/)
    const decode = morseDecoder()
    const out: number[] = []
    for (let i = 0; i < morse.length; i += 3) out.push(...decode(morse.slice(i, i + 3)))
    expect(out).toEqual([...bytes])
    expect(() => morseDecoder()('..x')).toThrow(/not a Morse symbol/)
  })

  it('two programs exchange procedure calls and a stream over a pipe that carries only Morse, and show it', { timeout: 60_000 }, async () => {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, ['examples/morse/station-a.mjs'], { cwd: new URL('..', import.meta.url), timeout: 50_000 })
    expect(stdout.split('\n').filter(Boolean)).toEqual(['Hello, station A, from station B', '2 + 3 = 5', 'countdown: 3 2 1 liftoff', 'station B signed off'])
    const shown = stderr.split('\n').filter(Boolean)
    expect(shown.some((l) => l.startsWith('A ->'))).toBe(true)
    expect(shown.some((l) => l.startsWith('B ->'))).toBe(true)
    for (const l of shown) expect(l).toMatch(/^[AB] ->\s+\d+ bytes {2}[.\- /]+(\.\.\.)?$/)
  })
})
