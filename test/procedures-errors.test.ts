/**
 * Errors a procedure throws, as the caller gets them: classes, codes, causes, remote stacks.
 * Each case runs in one process and over a memory link (support/procedures-world.ts).
 */
import { describe, expect, it } from 'vitest'
import { RemoteError, REMOTE_STACK_MARKER } from '../src/procedures/index.js'
import { rejection, sleep } from './support/async.js'
import { GUARD, MODES, world, serve, RegisteredError } from './support/procedures-world.js'

class ValidationError extends Error {
  override name = 'ValidationError'
  constructor(
    message: string,
    readonly field: string,
  ) {
    super(message)
  }
}

describe.each(MODES)('procedures (%s)', (mode) => {
  describe('remote errors', () => {
    it('name, message, code, cause chain and own fields arrive; built-ins as themselves and as RemoteError; the remote stack is kept', async () => {
      const w = await world(mode)
      const api = await serve(w, {
        boom() {
          throw Object.assign(new Error('boom', { cause: new RangeError('inner', { cause: { plain: true } }) }), { code: 'E_BOOM', extra: { a: [1, 2] }, n: 7 })
        },
        type() {
          throw new TypeError('bad type')
        },
        range() {
          throw new RangeError('out of range')
        },
        async asyncThrow() {
          await sleep(1)
          return throwsFromANamedFunction()
        },
        validation() {
          throw new ValidationError('bad field', 'email')
        },
        registered() {
          throw new RegisteredError('registered one')
        },
        aggregate() {
          throw new AggregateError([new Error('a'), new TypeError('b')], 'many')
        },
      })
      function throwsFromANamedFunction(): never {
        throw new Error('deep')
      }

      const e = await rejection(api.boom(), GUARD)
      expect(e).toBeInstanceOf(Error)
      expect(e).toBeInstanceOf(RemoteError)
      expect(e.name).toBe('Error')
      expect(e.message).toBe('boom')
      expect(e.code).toBe('E_BOOM')
      expect(e.extra).toEqual({ a: [1, 2] })
      expect(e.n).toBe(7)
      expect(e.cause).toBeInstanceOf(RangeError)
      expect(e.cause).toBeInstanceOf(RemoteError)
      expect(e.cause.message).toBe('inner')
      expect(e.cause.cause).toEqual({ plain: true })

      const t = await rejection(api.type(), GUARD)
      expect(t).toBeInstanceOf(TypeError)
      expect(t).toBeInstanceOf(RemoteError)
      expect(t.message).toBe('bad type')
      const r = await rejection(api.range(), GUARD)
      expect(r).toBeInstanceOf(RangeError)
      expect(r).toBeInstanceOf(RemoteError)

      const d = await rejection(api.asyncThrow(), GUARD)
      expect(d.stack).toContain(REMOTE_STACK_MARKER)
      const [local, remotePart] = d.stack.split(REMOTE_STACK_MARKER)
      expect(local).toContain('Error: deep')
      expect(local).toContain('"asyncThrow"')
      expect(remotePart).toContain('throwsFromANamedFunction')

      const v = await rejection(api.validation(), GUARD)
      expect(v.name).toBe('ValidationError')
      expect(v.message).toBe('bad field')
      expect(v.field).toBe('email')
      expect(v).toBeInstanceOf(RemoteError)

      const g = await rejection(api.registered(), GUARD)
      expect(g).toBeInstanceOf(RegisteredError)
      expect(g).toBeInstanceOf(RemoteError)
      expect(g.name).toBe('RegisteredError')
      expect(g.message).toBe('registered one')
      expect(g.detail).toBe('d')

      const a = await rejection(api.aggregate(), GUARD)
      expect(a).toBeInstanceOf(AggregateError)
      expect(a.errors.map((x: Error) => x.message)).toEqual(['a', 'b'])
      expect(a.errors[1]).toBeInstanceOf(TypeError)
      for (const inner of a.errors) expect(inner).toBeInstanceOf(RemoteError)
    })

    it('a thrown non-Error arrives as that value', async () => {
      const w = await world(mode)
      const api = await serve(w, {
        str() {
          throw 'just a string'
        },
        obj() {
          throw { code: 42, why: ['x'] }
        },
        num() {
          throw 0
        },
        undef() {
          throw undefined
        },
        nul() {
          throw null
        },
        async rejects() {
          return Promise.reject(false)
        },
      })
      expect(await rejection(api.str(), GUARD)).toBe('just a string')
      expect(await rejection(api.obj(), GUARD)).toEqual({ code: 42, why: ['x'] })
      expect(await rejection(api.num(), GUARD)).toBe(0)
      expect(await rejection(api.undef(), GUARD)).toBeUndefined()
      expect(await rejection(api.nul(), GUARD)).toBeNull()
      expect(await rejection(api.rejects(), GUARD)).toBe(false)
    })

    it('an error with a field that cannot be sent still arrives (as an error)', async () => {
      const w = await world(mode)
      const api = await serve(w, {
        weird() {
          throw Object.assign(new Error('has a symbol field'), { s: Symbol('x'), ok: 1 })
        },
        weirdCause() {
          throw new Error('bad cause', { cause: Symbol('y') })
        },
      })
      const e = await rejection(api.weird(), GUARD)
      expect(e).toBeInstanceOf(Error)
      expect(e.message).toBe('has a symbol field')
      const c = await rejection(api.weirdCause(), GUARD)
      expect(c).toBeInstanceOf(Error)
    })
  })
})
