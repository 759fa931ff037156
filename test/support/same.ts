/** Comparing a value that crossed with the one sent. */
import { expect } from 'vitest'

/**
 * Deep equality that also requires every object to have the same class (prototype) as the original,
 * every number to be the same by Object.is (-0 is not 0), and every object the same own keys.
 */
export function expectSame(got: unknown, want: unknown, path = '$'): void {
  if (typeof want !== 'object' || want === null) {
    expect(got, path).toEqual(want)
    expect(typeof got, path).toBe(typeof want)
    return
  }
  expect(got, path).toBeTypeOf('object')
  expect(Object.getPrototypeOf(got), `class at ${path}`).toBe(Object.getPrototypeOf(want))
  expect(got, path).toEqual(want)
  if (want instanceof Map) {
    const g = [...(got as Map<unknown, unknown>)]
    const w = [...want]
    expect(g.length, path).toBe(w.length)
    w.forEach(([k, v], i) => {
      expectSame(g[i]![0], k, `${path}.key(${i})`)
      expectSame(g[i]![1], v, `${path}.get(${i})`)
    })
  } else if (want instanceof Set) {
    const g = [...(got as Set<unknown>)]
    ;[...want].forEach((v, i) => expectSame(g[i], v, `${path}[set ${i}]`))
  } else if (Array.isArray(want)) {
    want.forEach((v, i) => expectSame((got as unknown[])[i], v, `${path}[${i}]`))
  } else if (want instanceof URL) {
    expect((got as URL).href, path).toBe(want.href)
  } else if (want instanceof ArrayBuffer || want instanceof DataView) {
    expect(Buffer.from(got instanceof DataView ? got.buffer.slice(got.byteOffset, got.byteOffset + got.byteLength) : (got as ArrayBuffer)), path)
      .toEqual(Buffer.from(want instanceof DataView ? want.buffer.slice(want.byteOffset, want.byteOffset + want.byteLength) : want))
  } else if (want instanceof Error) {
    expect((got as Error).name, `name at ${path}`).toBe(want.name)
    expect((got as Error).message, `message at ${path}`).toBe(want.message)
    expect(Object.keys(got as object), `fields at ${path}`).toEqual(Object.keys(want))
    for (const k of Object.keys(want)) expectSame((got as unknown as Record<string, unknown>)[k], (want as unknown as Record<string, unknown>)[k], `${path}.${k}`)
  } else if (Object.getPrototypeOf(want) === Object.prototype || Object.getPrototypeOf(want) === null) {
    expect(Object.keys(got as object), `keys at ${path}`).toEqual(Object.keys(want))
    for (const k of Object.keys(want)) expectSame((got as Record<string, unknown>)[k], (want as Record<string, unknown>)[k], `${path}.${k}`)
  }
}
