/** The languages taking part (conformance/languages.json), each with the scenarios its role implements. */
import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

export const CONFORMANCE_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..')

export interface Language {
  name: string
  /** The interpreter and the role program: append `<scenario> <role> <wire...>`. */
  argv: string[]
  env: Record<string, string>
  /** The scenarios its role implements (`role --list`). */
  implements: Set<string>
}

interface Entry {
  name: string
  role: string
  command: string[]
  env?: Record<string, string>
  required?: boolean
}

/**
 * Every language whose role program exists (in conformance/languages.json, or the file named by
 * IPFI_CONFORMANCE_LANGUAGES, for trying a role that is not in place yet), and what is wrong with
 * the others: a language with a role but no interpreter, or whose role cannot list its scenarios,
 * is an error the suite fails on (loudly: it is never skipped), while the other languages still run.
 */
export function languages(file = process.env.IPFI_CONFORMANCE_LANGUAGES || resolve(CONFORMANCE_DIR, 'languages.json')): { langs: Language[]; errors: Error[] } {
  const { languages: entries } = JSON.parse(readFileSync(file, 'utf8')) as { languages: Entry[] }
  const out: Language[] = []
  const errors: Error[] = []
  for (const e of entries) {
    try {
      const l = language(e)
      if (l) out.push(l)
    } catch (err) {
      errors.push(err as Error)
    }
  }
  return { langs: out, errors }
}

function language(e: Entry): Language | null {
  const role = resolve(CONFORMANCE_DIR, e.role)
  if (!existsSync(role)) {
    if (e.required) throw new Error(`the ${e.name} role ${role} is missing`)
    return null
  }
  const command = e.command.map((c, i) => (i === 0 && c === 'node' ? process.execPath : c))
  const env = Object.fromEntries(Object.entries(e.env ?? {}).map(([k, v]) => [k, /^\.\.?\//.test(v) ? resolve(CONFORMANCE_DIR, v) : v]))
  const version = spawnSync(command[0]!, [...command.slice(1), '--version'], { encoding: 'utf8' })
  if (version.error || version.status !== 0) {
    throw new Error(`${e.role} exists, so ${e.name} takes part in the conformance suite, but its interpreter \`${command.join(' ')}\` cannot run: ${version.error?.message ?? version.stderr}`)
  }
  const argv = [...command, role]
  const list = spawnSync(argv[0]!, [...argv.slice(1), '--list'], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 60_000 })
  let names: unknown
  try {
    names = JSON.parse(list.stdout)
  } catch {
    names = null
  }
  if (list.status !== 0 || !Array.isArray(names)) {
    throw new Error(`\`${argv.join(' ')} --list\` must print a JSON array of the scenarios it implements; it exited ${list.status} with ${JSON.stringify(list.stdout.slice(0, 300))} ${list.stderr.slice(0, 2000)}`)
  }
  return { name: e.name, argv, env, implements: new Set(names as string[]) }
}
