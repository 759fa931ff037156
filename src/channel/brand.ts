/** Class brands that survive two copies of the package in one process (ESM and CJS side by side). */
export function brandClass(Class: abstract new (...args: never[]) => unknown, name: string): void {
  const key = Symbol.for(`ipfi.${name}`)
  Object.defineProperty(Class.prototype, key, { value: true })
  Object.defineProperty(Class, Symbol.hasInstance, {
    value: (x: unknown) => typeof x === 'object' && x !== null && (x as Record<symbol, unknown>)[key] === true,
  })
}

/**
 * Passed to constructors that users should not call (handles come from channel(), not `new`), and
 * the key of internal methods. Shared by every copy of ipfi in the process, so that a handle made by
 * one copy (an Endpoint, say) works with the other.
 */
export const INTERNAL: unique symbol = Symbol.for('ipfi.internal') as typeof INTERNAL
