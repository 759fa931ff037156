/**
 * The API reference: `npm run docs` (TypeDoc, typedoc.json) builds it from the doc comments with
 * warnings as errors, so an undocumented-link, an exported name without a page, or a broken
 * {@link} fails the suite here, as it would fail the docs build.
 */
import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterAll, expect, it } from 'vitest'

const root = fileURLToPath(new URL('..', import.meta.url))
const out = mkdtempSync(join(tmpdir(), 'ipfi-docs-'))
afterAll(() => rmSync(out, { recursive: true, force: true }))

it('npm run docs builds the API reference with no warning, a page for each public name', async () => {
  const typedoc = join(root, 'node_modules', 'typedoc', 'bin', 'typedoc')
  const { stdout, stderr } = await promisify(execFile)(process.execPath, [typedoc, '--out', out], { cwd: root })
  expect(`${stdout}${stderr}`).not.toMatch(/warning|error/i)
  const pages = readdirSync(out, { recursive: true }).map(String)
  for (const name of ['functions/channel.html', 'classes/Sender.html', 'classes/Receiver.html', 'functions/remote.html', 'interfaces/Link.html', 'interfaces/LinkTraffic.html']) {
    expect(pages).toContain(name)
  }
  expect(readFileSync(join(out, 'interfaces', 'Link.html'), 'utf8')).toContain('traffic')
}, 120_000)
