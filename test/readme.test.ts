import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'

const root = new URL('..', import.meta.url)
const readme = readFileSync(new URL('README.md', root), 'utf8')
const blocks = [...readme.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1]!)

/** What each runnable README block must print (in order), keyed by a line that identifies it. */
const expected: [string, RegExp][] = [
  ["tx.send({ hello: 'world' })", /\{ hello: 'world' \}\n\{ ok: true, value: 2 \}\ntrue/],
  ['data: { factor: 10 }', /from the process: 10\nfrom the process: 20\n\{ code: 0, signal: null \}\nfrom the thread: hi!/],
  ['transfer({ frame: 1, pixels }, [pixels])', /^0\n1 8388608 1$/],
  ["jobTx.send('queued before the move')", /^QUEUED BEFORE THE MOVE\nSENT AFTER THE MOVE$/],
  ['new ReceiverSet()', /a: from a\nb: from b\na closed\nb closed|b: from b\na: from a\na closed\nb closed|a: from a\nb: from b\nb closed\na closed/],
  ['OneShotServer.create()', /^first second$/],
  ['streamWire', /^over a hand-made wire \/ and back$/],
  ["listen(address, { secret: 'let me in' })", /^hello, client\na client says: thanks\na client left\nAuthenticationError$/],
  ["tracingChannel('ipfi:call')", /^twice: ok\n42\ntrue 0\nlink closed in order$/],
  ['calc.ticks(3)', /^3\ntick 0\ntick 1\ntick 2\n6\nprogress 0.5\nprogress 1\ndone\nTimeoutError$/],
  ["spawn('python3', ['examples/python-child.py'])", /^HI FROM NODE\nword: a\nword: stream\nword: of\nword: words\nfrom Python: tick 0\nfrom Python: tick 1\nfrom Python: tick 2\nprogress 0\.5\nprogress 1\ndone\nhello, Ada, from Node$/],
]

describe('README', () => {
  it('has the two set-up commands', () => {
    expect(readme).toContain('npm ci && npm run demo')
    expect(readme).toContain('npm ci && npm test')
  })

  it('has a check for every runnable block', () => {
    expect(blocks.length).toBe(expected.length)
    for (const [marker] of expected) expect(blocks.some((b) => b.includes(marker))).toBe(true)
  })

  it('shows the Python child of the Python section as it is in examples/python-child.py', () => {
    const python = [...readme.matchAll(/```python\n([\s\S]*?)```/g)].map((m) => m[1]!)
    expect(python.length).toBe(1)
    const file = readFileSync(new URL('examples/python-child.py', root), 'utf8')
    expect(file).toContain(python[0])
  })

  for (const [marker, output] of expected) {
    it(`runs the block with ${JSON.stringify(marker)}`, async () => {
      const code = blocks.find((b) => b.includes(marker))!
      const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', code], {
        cwd: root,
        timeout: 30_000,
      })
      expect(stdout.trim()).toMatch(output)
    })
  }
})
