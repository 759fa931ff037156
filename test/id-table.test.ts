import { describe, expect, it } from 'vitest'
import { IdTable } from '../src/link/id-table.js'
import { Port } from '../src/link/port.js'

const entry = () => ({ port: new Port() })

describe('IdTable (a link table by id: arrays for small ids, a Map past them)', () => {
  it('finds, counts, iterates and forgets entries the way a Map does, small ids and large alike', () => {
    const t = new IdTable<{ port: Port }>()
    const ids = [0, 1, 2, 7, 1000, 32_767, 32_768, 40_000, 0xffffffff]
    const es = ids.map(() => entry())
    ids.forEach((id, i) => t.set(id, es[i]!))
    expect(t.size).toBe(ids.length)
    ids.forEach((id, i) => {
      expect(t.get(id)).toBe(es[i])
      expect(t.port(id)).toBe(es[i]!.port)
      expect(t.has(id)).toBe(true)
    })
    for (const gap of [3, 6, 999, 32_766, 32_769]) {
      expect(t.get(gap)).toBeUndefined()
      expect(t.port(gap)).toBeUndefined()
    }
    expect([...t.keys()].sort((a, b) => a - b)).toEqual(ids)
    expect(new Set(t.values())).toEqual(new Set(es))
    t.set(7, es[3]!) // set again: no second count
    expect(t.size).toBe(ids.length)
    expect(t.delete(7)).toBe(true)
    expect(t.delete(7)).toBe(false)
    expect(t.delete(40_000)).toBe(true)
    expect(t.port(7)).toBeUndefined()
    expect(t.port(40_000)).toBeUndefined()
    expect(t.size).toBe(ids.length - 2)
    expect([...t.keys()]).not.toContain(7)
    t.clear()
    expect(t.size).toBe(0)
    expect([...t.values()]).toEqual([])
    expect(t.port(1)).toBeUndefined()
  })
})
