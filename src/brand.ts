/**
 * What two copies of ipfi in one process (ESM and CJS side by side, or two installs) must agree on:
 * keys made with `Symbol.for`, so that a class's `instanceof` and a handle's internal methods work
 * whichever copy made the object.
 */

/**
 * Make `x instanceof Class` true of instances made by any copy of ipfi: the brand is a
 * `Symbol.for('ipfi.<name>')` key on the prototype (or on an instance marked later). Returns the key.
 */
export function brandClass(Class: abstract new (...args: never[]) => unknown, name: string): symbol {
  const key = Symbol.for(`ipfi.${name}`)
  Object.defineProperty(Class.prototype, key, { value: true })
  Object.defineProperty(Class, Symbol.hasInstance, {
    value: (x: unknown) => typeof x === 'object' && x !== null && (x as Record<symbol, unknown>)[key] === true,
  })
  return key
}

/**
 * Passed to the constructors users should not call: handles come from `channel()` and `expose()`,
 * not `new`.
 */
export const CONSTRUCT: unique symbol = Symbol.for('ipfi.construct') as typeof CONSTRUCT

/** A Receiver's method that gives its port (for `ReceiverSet`, which waits on several). */
export const PORT_OF: unique symbol = Symbol.for('ipfi.portOf') as typeof PORT_OF

/** An Endpoint's method that opens a session with the procedures behind it. */
export const OPEN_SESSION: unique symbol = Symbol.for('ipfi.openSession') as typeof OPEN_SESSION
