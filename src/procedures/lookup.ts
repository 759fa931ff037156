/**
 * Which function a call's name may reach: an own property of the exposed object, or a method of a
 * class it is an instance of. Never anything of Object.prototype (or Function.prototype), never
 * `constructor` or `__proto__`, never a getter (looking a name up runs no code).
 */

type Fn = (...args: unknown[]) => unknown

const FORBIDDEN = new Set(['constructor', '__proto__', 'prototype'])

export class NoSuchProcedureError extends TypeError {
  override name = 'TypeError'
  readonly code = 'ERR_IPFI_NO_SUCH_PROCEDURE'
}

export function lookup(impl: object, name: unknown): Fn {
  if (typeof name !== 'string' || FORBIDDEN.has(name)) throw noSuch(name)
  for (let o: object | null = impl; o !== null && o !== Object.prototype && o !== Function.prototype; o = Object.getPrototypeOf(o)) {
    const d = Object.getOwnPropertyDescriptor(o, name)
    if (!d) continue
    if (typeof d.value === 'function') return d.value as Fn
    break
  }
  throw noSuch(name)
}

function noSuch(name: unknown): NoSuchProcedureError {
  const shown = typeof name === 'string' ? JSON.stringify(name.length > 100 ? `${name.slice(0, 100)}...` : name) : typeof name
  return new NoSuchProcedureError(`no procedure named ${shown} is exposed`)
}
