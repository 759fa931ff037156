/**
 * The house stays as drawn (ARCHITECTURE.md): each file in src/ imports only from its own layer or
 * the layers below it, and no two files import each other at run time, directly or around a loop.
 * Read from the sources as text: every `import ... from`, `export ... from` and `import()`.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const SRC = fileURLToPath(new URL('../src/', import.meta.url))

/** Bottom to top. Layers in one entry sit side by side: neither may import the other. */
const LAYERS: string[][] = [['brand'], ['errors', 'types'], ['codec'], ['wire'], ['nats'], ['link'], ['channel'], ['procedures'], ['process', 'server'], ['index']]

function layerOf(file: string): string {
  const rel = relative(SRC, file)
  const top = rel.split('/')[0]!
  return top.endsWith('.ts') ? top.replace(/(\.d)?\.ts$/, '') : top
}
function rank(layer: string): number {
  const i = LAYERS.findIndex((l) => l.includes(layer))
  if (i < 0) throw new Error(`src/${layer} is in no layer: add it to LAYERS here and to ARCHITECTURE.md`)
  return i
}

interface Import {
  from: string
  to: string
  typeOnly: boolean
}

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name)
    return statSync(p).isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : []
  })
}

function importsOf(file: string): Import[] {
  const text = readFileSync(file, 'utf8')
  const out: Import[] = []
  const re = /(?:^|\n)\s*(import|export)\s+(type\s+)?(?:[^'";]*?\s+from\s+)?['"](\.[^'"]+)['"]|import\(\s*['"](\.[^'"]+)['"]\s*\)/g
  for (const m of text.matchAll(re)) {
    const spec = m[3] ?? m[4]!
    const to = resolve(dirname(file), spec.replace(/\.js$/, '.ts'))
    // `import { type A, type B } from` is type-only too.
    const braces = /\{([^}]*)\}/.exec(m[0])?.[1]
    const allTypes = braces !== undefined && braces.split(',').every((n) => n.trim() === '' || n.trim().startsWith('type '))
    out.push({ from: file, to, typeOnly: m[2] !== undefined || allTypes })
  }
  return out
}

/** Imports that go up, or sideways between two layers that sit side by side. */
function upward(graph: Import[]): string[] {
  return graph
    .filter((i) => layerOf(i.from) !== layerOf(i.to) && rank(layerOf(i.to)) >= rank(layerOf(i.from)))
    .map((i) => `${name(i.from)} -> ${name(i.to)}`)
}

/** Every run-time import cycle between files, each as a path that comes back to its start. */
function cycles(graph: Import[]): string[] {
  const edges = new Map<string, string[]>()
  for (const i of graph) if (!i.typeOnly) edges.set(i.from, [...(edges.get(i.from) ?? []), i.to])
  const found: string[] = []
  const state = new Map<string, 'open' | 'done'>()
  const path: string[] = []
  const visit = (f: string) => {
    state.set(f, 'open')
    path.push(f)
    for (const t of edges.get(f) ?? []) {
      if (state.get(t) === 'open') found.push([...path.slice(path.indexOf(t)), t].map(name).join(' -> '))
      else if (!state.has(t)) visit(t)
    }
    path.pop()
    state.set(f, 'done')
  }
  for (const f of edges.keys()) if (!state.has(f)) visit(f)
  return found
}

const name = (f: string) => relative(SRC, f)
const files = sources(SRC)
const graph = files.flatMap(importsOf)

describe('the layers of src/', () => {
  it('every file is in a layer, and every relative import resolves to a file', () => {
    for (const f of files) rank(layerOf(f))
    for (const i of graph) expect(files, `${name(i.from)} imports ${name(i.to)}`).toContain(i.to)
  })

  it('no file imports from a layer above its own, or from one beside it (types included)', () => {
    expect(upward(graph)).toEqual([])
  })

  it('no import cycle between files at run time (type-only imports may go round)', () => {
    expect(cycles(graph)).toEqual([])
  })

  it('the checks catch what they are for: an upward import, a sideways one, a cycle; not a type-only loop', () => {
    const f = (p: string) => join(SRC, p)
    const edge = (from: string, to: string, typeOnly = false): Import => ({ from: f(from), to: f(to), typeOnly })
    expect(upward([edge('codec/msgpack.ts', 'link/link.ts'), edge('link/link.ts', 'codec/msgpack.ts')])).toEqual(['codec/msgpack.ts -> link/link.ts'])
    expect(upward([edge('server/peer.ts', 'process/bootstrap.ts', true)])).toEqual(['server/peer.ts -> process/bootstrap.ts'])
    expect(cycles([edge('procedures/a.ts', 'procedures/b.ts'), edge('procedures/b.ts', 'procedures/c.ts'), edge('procedures/c.ts', 'procedures/a.ts')])).toEqual([
      'procedures/a.ts -> procedures/b.ts -> procedures/c.ts -> procedures/a.ts',
    ])
    expect(cycles([edge('procedures/a.ts', 'procedures/b.ts'), edge('procedures/b.ts', 'procedures/a.ts', true)])).toEqual([])
    // And the parser reads the forms the sources use.
    expect(graph.some((i) => i.typeOnly) && graph.some((i) => !i.typeOnly)).toBe(true)
  })
})
