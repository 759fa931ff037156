import { execFileSync } from 'node:child_process'
/**
 * The value codec: round trips through encode/decode and through a real link, prototype safety,
 * and the msgpackr extensions a peer must not be able to use.
 *
 * Everything here comes from the TypeScript sources, including the link: the codec registers its
 * tags with msgpackr, whose extension table is process-wide, so loading a second copy of the codec
 * (the built package) in the same file would replace this copy's readers and split the error-class
 * registry between the two.
 */
import { Packr } from 'msgpackr'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { channel, Receiver, Sender } from '../src/channel/index.js'
import { decode, encode, MAX_NESTING_DEPTH, registerErrorClass } from '../src/codec/index.js'
import { mayHoldProtoKey } from '../src/codec/proto-key.js'
import { LimitExceededError, ProtocolError, UnsupportedValueError } from '../src/errors.js'
import { connectWire, type Connection } from '../src/process/connect.js'
import { memoryWirePair } from '../src/wire/memory.js'
import { expectSame } from './support/same.js'

const roundTrip = (v: unknown): unknown => {
  const { payload, handles } = encode(v)
  expect(handles).toEqual([])
  return decode(payload, null)
}

let A: Connection<unknown, unknown>
let B: Connection<unknown, unknown>

beforeAll(async () => {
  // Seven-byte chunks: frames and values are split at awkward places.
  const [wa, wb] = memoryWirePair({ chunk: 7 })
  A = connectWire(wa, { name: 'A' })
  B = connectWire(wb, { name: 'B' })
  await Promise.all([A.ready, B.ready])
})
afterAll(() => A.close())

async function overLink(v: unknown): Promise<unknown> {
  A.sender.send(v)
  return B.receiver.recv({ timeout: 5000 })
}

type Way = [string, (v: unknown) => unknown]
const ways: Way[] = [
  ['encode/decode', roundTrip],
  ['a link', overLink],
]

const longUnicode = Array.from({ length: 20_000 }, (_, i) => String.fromCodePoint(0x20 + ((i * 7919) % 0x2fff), 0x1f600 + (i % 64))).join('')

const values: [string, () => unknown][] = [
  ['nested objects and arrays', () => ({ a: { b: { c: [1, { d: [true, false, null] }, [[[]]]] } }, empty: {}, list: [], num: -1.5, max: 2 ** 53 - 1, neg: -(2 ** 31), f: 0.1 })],
  ['a top-level array of mixed values', () => [1, 'two', [3], { four: 4 }, null, true, -7.25]],
  [
    'a Map with non-string keys, nested',
    () =>
      new Map<unknown, unknown>([
        [1, 'number one'],
        ['1', 'string one'],
        [true, null],
        [null, 'null key'],
        [{ k: [1] }, new Map<unknown, unknown>([[2n, new Set([1, 'x'])], [[1, 2], 'array key']])],
        [new Date(0), 'date key'],
        ['__proto__', { a: 1 }],
      ]),
  ],
  ['a Map inside an object inside a Map', () => new Map([['outer', { inner: new Map([[3, new Map([[4, 'deep']])]]) }]])],
  ['an empty Map and an empty Set', () => ({ m: new Map(), s: new Set() })],
  ['a Set of mixed values', () => new Set<unknown>([1, 'a', { x: 1 }, [2], null])],
  ['Dates (after, before and at the epoch, with milliseconds)', () => [new Date(1_700_000_000_123), new Date(-1), new Date(0), new Date(Date.UTC(2400, 1, 29, 23, 59, 59, 999))]],
  ['BigInts: small ones', () => [0n, 5n, -5n, 2n ** 53n]],
  ['BigInts: 64-bit edges and beyond', () => [2n ** 63n - 1n, -(2n ** 63n), 2n ** 64n, 2n ** 100n + 12345n, -(2n ** 80n) - 1n, 2n ** 1000n]],
  ['a Uint8Array', () => new Uint8Array([0, 1, 2, 254, 255])],
  ['a Buffer', () => Buffer.from('buffer bytes \u00ff')],
  ['an empty Uint8Array', () => new Uint8Array(0)],
  [
    'typed arrays of every kind',
    () => [
      new Int8Array([-128, 127]),
      new Uint8ClampedArray([0, 255]),
      new Int16Array([-32768, 300]),
      new Uint16Array([65535]),
      new Int32Array([-(2 ** 31), 7]),
      new Uint32Array([2 ** 32 - 1]),
      new Float32Array([1.5, -0.25]),
      new Float64Array([Math.PI, -Infinity, NaN]),
      new BigInt64Array([-1n, 2n ** 62n]),
      new BigUint64Array([2n ** 64n - 1n]),
    ],
  ],
  ['undefined', () => undefined],
  ['undefined inside containers', () => ({ u: undefined, list: [undefined, 1] })],
  ['null', () => null],
  ['NaN and the infinities', () => [NaN, Infinity, -Infinity]],
  ['-0, alone', () => -0],
  ['-0 inside containers, next to 0', () => ({ z: -0, list: [0, -0, -0.5], m: new Map([['k', -0]]), e: Object.assign(new Error('e'), { at: -0 }) })],
  ['strings with unicode', () => ['', 'ascii', 'héllo wörld', '日本語テキスト', 'emoji 🎉 and 👩‍👩‍👧‍👦', 'nul\u0000inside', 'ℝ∀∃ ∮ 𝔘𝔫𝔦', 'a'.repeat(70_000)]],
  ['a long string of astral characters', () => longUnicode],
  ['a RegExp', () => /a+b\//gi],
  ['an object with an own key named constructor', () => ({ constructor: 'not a function', toString: 1 })],
  ['objects without a prototype, nested, empty, with a __proto__ key', () => noProto({ a: 1, inner: noProto({ b: [noProto({})] }), plain: { c: 2 }, ...JSON.parse('{"__proto__": 3}') })],
  ['URLs, alone and inside containers', () => [new URL('https://user:pw@example.com:8443/a%20b/ü?q=1&r=é#frag'), new Map([['u', new URL('file:///tmp/x')]]), new Set([new URL('urn:isbn:0451450523')])]],
  ['an ArrayBuffer and a DataView', () => [new Uint8Array([1, 2, 3]).buffer, new DataView(new Uint8Array([9, 8, 7, 6]).buffer, 1, 2)]],
]

/** An object without a prototype holding the own properties of `o` (`__proto__` included, as data). */
function noProto(o: object): object {
  return Object.defineProperties(Object.create(null), Object.getOwnPropertyDescriptors(o))
}

describe.each(ways)('values round trip through %s', (_way, through) => {
  for (const [name, make] of values) {
    it(name, async () => {
      const want = make()
      const got = await through(want)
      expectSame(got, want)
    })
  }

  it('typed arrays keep exactly their view, not the whole underlying buffer', async () => {
    const backing = new Float64Array([1, 2, 3, 4, 5])
    const view = new Float64Array(backing.buffer, 8, 2)
    const got = (await through(view)) as Float64Array
    expect(got).toBeInstanceOf(Float64Array)
    expect([...got]).toEqual([2, 3])
    const sub = Buffer.from('0123456789').subarray(3, 6)
    const gotSub = (await through(sub)) as Buffer
    expect(Buffer.isBuffer(gotSub)).toBe(true)
    expect(gotSub.toString()).toBe('345')
  })

  it('a small binary received in a big message does not hold on to the rest of the message', async () => {
    const got = (await through([Buffer.from('tiny'), new Uint8Array([1, 2]), 'y'.repeat(200_000)])) as [Buffer, Uint8Array, string]
    expect(Buffer.isBuffer(got[0])).toBe(true)
    expect(got[0].toString()).toBe('tiny')
    expect(got[0].buffer.byteLength).toBeLessThanOrEqual(8192)
    expect(got[1]).toBeInstanceOf(Uint8Array)
    expect(got[1].buffer.byteLength).toBeLessThanOrEqual(8192)
    expect(got[2]).toHaveLength(200_000)
  })

  it('an own undefined property stays an own property', async () => {
    const got = (await through({ u: undefined })) as Record<string, unknown>
    expect(Object.keys(got)).toEqual(['u'])
    expect(got.u).toBeUndefined()
  })

  it('an Error with name, message, stack, a cause chain and own fields', async () => {
    const root = new RangeError('root cause')
    const mid = new TypeError('middle', { cause: root })
    const top = Object.assign(new Error('top', { cause: mid }), { code: 'E_TOP', custom: { n: 1, list: [1, 2], when: new Date(5) } })
    const got = (await through(top)) as Error & { code: string; custom: unknown }
    expect(got).toBeInstanceOf(Error)
    expect(Object.getPrototypeOf(got)).toBe(Error.prototype)
    expect(got.name).toBe('Error')
    expect(got.message).toBe('top')
    expect(got.stack).toBe(top.stack)
    expect(got.code).toBe('E_TOP')
    expect(got.custom).toEqual({ n: 1, list: [1, 2], when: new Date(5) })
    expect((got.custom as { when: Date }).when).toBeInstanceOf(Date)
    expect(Object.keys(got).sort()).toEqual(['code', 'custom'])
    const c1 = got.cause as Error
    expect(c1).toBeInstanceOf(TypeError)
    expect(c1.message).toBe('middle')
    expect(c1.stack).toBe(mid.stack)
    const c2 = c1.cause as Error
    expect(c2).toBeInstanceOf(RangeError)
    expect(c2.message).toBe('root cause')
    expect(c2.stack).toBe(root.stack)
    expect('cause' in c2).toBe(false)
  })

  it('a cause that is not an Error, and an error without a cause', async () => {
    const got = (await through([new Error('x', { cause: { detail: [1, 'two'] } }), new Error('y')])) as Error[]
    expect(got[0]!.cause).toEqual({ detail: [1, 'two'] })
    expect('cause' in got[1]!).toBe(false)
  })

  it('an Error with a name that is not a built-in keeps its name (as a plain Error)', async () => {
    const e = new Error('custom name')
    e.name = 'MyAppError'
    const got = (await through(e)) as Error
    expect(got).toBeInstanceOf(Error)
    expect(Object.getPrototypeOf(got)).toBe(Error.prototype)
    expect(got.name).toBe('MyAppError')
    expect(got.message).toBe('custom name')
    expect(String(got)).toBe('MyAppError: custom name')
  })

  it('built-in error classes come back as themselves', async () => {
    const classes = [TypeError, RangeError, SyntaxError, ReferenceError, EvalError, URIError] as const
    const got = (await through(classes.map((C) => new C(`a ${C.name}`)))) as Error[]
    classes.forEach((C, i) => {
      expect(got[i]).toBeInstanceOf(C)
      expect(Object.getPrototypeOf(got[i])).toBe(C.prototype)
      expect(got[i]!.name).toBe(C.name)
      expect(got[i]!.message).toBe(`a ${C.name}`)
    })
  })

  it('an AggregateError comes back with its errors', async () => {
    const agg = new AggregateError([new Error('first'), new TypeError('second'), 'not an error'], 'several failed', { cause: 'why' })
    const got = (await through(agg)) as AggregateError
    expect(got).toBeInstanceOf(AggregateError)
    expect(got.name).toBe('AggregateError')
    expect(got.message).toBe('several failed')
    expect(got.cause).toBe('why')
    expect(got.errors).toHaveLength(3)
    expect(got.errors[0]).toBeInstanceOf(Error)
    expect(got.errors[0].message).toBe('first')
    expect(got.errors[1]).toBeInstanceOf(TypeError)
    expect(got.errors[1].message).toBe('second')
    expect(got.errors[2]).toBe('not an error')
    expect(Object.keys(got)).toEqual([])
  })

  it('errors nested inside other values', async () => {
    const got = (await through({ list: [new RangeError('r')], m: new Map([['e', new TypeError('t')]]) })) as {
      list: Error[]
      m: Map<string, Error>
    }
    expect(got.list[0]).toBeInstanceOf(RangeError)
    expect(got.m.get('e')).toBeInstanceOf(TypeError)
    expect(got.m.get('e')!.message).toBe('t')
  })
})

describe('values that would arrive reshaped are refused, in process as across a wire', () => {
  class Point {
    constructor(readonly x = 1, readonly y = 2) {}
  }
  class MyMap extends Map {}
  const refused: [string, () => unknown, RegExp][] = [
    ['a class instance', () => new Point(), /a Point instance cannot be sent.*without its class.*\{ \.\.\.value \}/],
    ['a class instance deep inside', () => ({ list: [1, { m: new Map([['k', new Point()]]) }] }), /a Point instance/],
    ['a class instance in an error field', () => Object.assign(new Error('e'), { where: new Point() }), /a Point instance/],
    ['a subclass of Map', () => new MyMap(), /a MyMap instance/],
    ['a subclass of Set', () => new (class Tags extends Set {})(), /a Tags instance/],
    ['a subclass of Array', () => new (class List extends Array {})(), /a List instance/],
    ['a subclass of Date', () => new (class Day extends Date {})(), /a Day instance/],
    ['a subclass of Uint8Array', () => new (class Bytes extends Uint8Array {})(2), /a Bytes instance/],
    ['a subclass of URL', () => new (class Link extends URL {})('https://x.test'), /a Link instance/],
    ['an object whose prototype is another object', () => Object.create({ inherited: 1 }), /prototype is neither Object.prototype nor null/],
    ['a boxed number', () => ({ n: new Number(1) }), /a Number object.*valueOf/],
    ['a boxed string', () => new String('s'), /a String object/],
    ['a boxed boolean', () => [new Boolean(false)], /a Boolean object/],
    ['a Promise', () => Promise.resolve(1), /a Promise cannot be sent.*await it/],
    ['a WeakMap', () => new WeakMap(), /a WeakMap cannot be sent/],
    ['a WeakRef', () => new WeakRef({}), /a WeakRef cannot be sent/],
    ['a SharedArrayBuffer', () => new SharedArrayBuffer(8), /a SharedArrayBuffer instance/],
  ]
  for (const [name, make, message] of refused) {
    it(`${name}: by encode, by an in-process channel and over a link`, () => {
      expect(() => encode(make())).toThrow(message)
      expect(() => encode(make())).toThrow(UnsupportedValueError)
      const [tx, rx] = channel<unknown>()
      expect(() => tx.send(make())).toThrow(message)
      expect(rx.tryRecv()).toEqual({ ok: false, reason: 'empty' })
      expect(() => A.sender.send(make())).toThrow(message)
      tx.close()
    })
  }
})

describe('tags for objects without a prototype (0x06) and URLs (0x07)', () => {
  it('are written as d4 06 00 + map and d4 07 00 + href', () => {
    expect(Buffer.from(encode(noProto({ a: 1 })).payload).toString('hex')).toBe('d40600de0001a16101')
    expect(Buffer.from(encode(new URL('http://a.b/')).payload).toString('hex')).toBe('d40700' + 'ab' + Buffer.from('http://a.b/').toString('hex'))
  })

  it('an object without a prototype that holds a handle, a Map, an Error or -0 stays one, over a link and in process', async () => {
    // These take the walk that copies the path to what it replaces: the copy keeps the kind.
    const [wa, wb] = memoryWirePair()
    const a = connectWire<unknown, unknown>(wa)
    const b = connectWire<unknown, unknown>(wb)
    const [keep] = channel<number>()
    const holders = () => [noProto({ h: keep.clone() }), noProto({ m: new Map([[1, 2]]) }), noProto({ e: new Error('x') }), noProto({ z: -0 })]
    for (const v of holders()) a.sender.send(v)
    const [tx, rx] = channel<unknown>()
    for (const v of holders()) tx.send(v)
    for (const r of [b.receiver, rx]) {
      for (const key of ['h', 'm', 'e', 'z']) {
        const got = (await r.recv()) as Record<string, unknown>
        expect(Object.getPrototypeOf(got), key).toBe(null)
        expect(Object.keys(got)).toEqual([key])
      }
    }
    a.close()
  })

  it('malformed ones are refused with ProtocolError', () => {
    for (const hex of ['d4060005', 'd406009101', 'd40600d40600de0001a16101', 'd4070005', 'd40700a3616263', 'd40700c0']) {
      expect(() => decode(Buffer.from(hex, 'hex'), null), hex).toThrow(ProtocolError)
    }
  })
})

describe('-0', () => {
  it('is written as float64 -0 (cb 80 00 00 00 00 00 00 00), and 0 as the integer 0', () => {
    expect(Buffer.from(encode(-0).payload).toString('hex')).toBe('cb8000000000000000')
    expect(Buffer.from(encode([-0, 0]).payload).toString('hex')).toBe('92cb800000000000000000')
    expect(Buffer.from(encode(0).payload).toString('hex')).toBe('00')
  })

  it('float64 and float32 -0 decode as -0', () => {
    expect(Object.is(decode(Buffer.from('cb8000000000000000', 'hex'), null), -0)).toBe(true)
    expect(Object.is(decode(Buffer.from('ca80000000', 'hex'), null), -0)).toBe(true)
  })

  it('stays -0 in process too', async () => {
    const [tx, rx] = channel<unknown>()
    tx.send({ z: -0 })
    expect(Object.is(((await rx.recv()) as { z: number }).z, -0)).toBe(true)
  })
})

describe('decoded values own their memory', () => {
  it('changing the bytes after decode does not change what was decoded', () => {
    const { payload } = encode({ b: Buffer.from('abc'), u: new Uint8Array([7, 8]), s: 'str' })
    const got = decode(payload, null) as { b: Buffer; u: Uint8Array; s: string }
    payload.fill(0)
    expect(got.b.toString()).toBe('abc')
    expect([...got.u]).toEqual([7, 8])
    expect(got.s).toBe('str')
  })

  it('a plain Uint8Array source (as framing produces) decodes binaries as Buffers too', () => {
    const { payload } = encode(Buffer.from('xyz'))
    const plain = new Uint8Array(payload.length + 3)
    plain.set(payload, 3)
    const got = decode(plain.subarray(3), null) as Buffer
    expect(Buffer.isBuffer(got)).toBe(true)
    expect(got.toString()).toBe('xyz')
  })
  it('a large message read in place is not kept alive by the decoder once its value is dropped', async () => {
    // msgpackr keeps a view of the last buffer it read: without care, the whole frame would stay
    // alive until the next message is decoded.
    const collected = async (f: () => WeakRef<ArrayBuffer>) => {
      const ref = f()
      await new Promise((r) => setImmediate(r)) // a WeakRef holds its target until the end of the job that made it
      globalThis.gc!()
      return ref.deref() === undefined
    }
    for (const size of [64 * 1024, 4 << 20]) {
      expect(await collected(() => {
        const { payload } = encode({ a: 1, data: Buffer.alloc(size, 1) })
        const frame = Buffer.from(new ArrayBuffer(payload.length))
        payload.copy(frame)
        const got = decode(frame, null) as { data: Buffer }
        expect(got.data.buffer).toBe(frame.buffer) // read in place: a view of the frame
        return new WeakRef(frame.buffer)
      })).toBe(true)
    }
  })
})

describe('registerErrorClass', () => {
  class QuotaError extends Error {
    constructor(
      message: string,
      readonly limit: number,
    ) {
      super(message)
      throw new Error('the constructor must not be called on decode')
    }
  }
  Object.defineProperty(QuotaError.prototype, 'name', { value: 'QuotaError', configurable: true, writable: true })
  registerErrorClass(QuotaError)

  class ClassFieldError extends Error {
    override name = 'ClassFieldError'
    code = 'E_FIELD'
  }
  registerErrorClass(ClassFieldError)

  class Renamed extends Error {}
  registerErrorClass(Renamed, 'WireName')

  /** A QuotaError made without its (throwing) constructor, as some other code would produce one. */
  function makeQuota(message: string, limit: number, cause?: unknown): QuotaError {
    const e = Object.create(QuotaError.prototype) as QuotaError & { limit: number }
    const proto = new Error(message, cause === undefined ? {} : { cause })
    for (const k of ['message', 'stack', ...(cause === undefined ? [] : ['cause'])]) {
      Object.defineProperty(e, k, { value: (proto as unknown as Record<string, unknown>)[k], writable: true, configurable: true })
    }
    Object.defineProperty(e, 'limit', { value: limit, enumerable: true, writable: true, configurable: true })
    return e
  }

  for (const [way, through] of ways) {
    it(`makes a registered class come back as an instance of it (through ${way})`, async () => {
      const sent = makeQuota('over quota', 5, new TypeError('because'))
      const got = (await through(sent)) as QuotaError
      expect(got).toBeInstanceOf(QuotaError)
      expect(got).toBeInstanceOf(Error)
      expect(Object.getPrototypeOf(got)).toBe(QuotaError.prototype)
      expect(got.name).toBe('QuotaError')
      expect(got.message).toBe('over quota')
      expect(got.limit).toBe(5)
      expect(got.stack).toBe(sent.stack)
      expect(got.cause).toBeInstanceOf(TypeError)
      expect((got.cause as Error).message).toBe('because')
    })

    it(`registers under an explicit wire name (through ${way})`, async () => {
      const e = new Renamed('renamed')
      e.name = 'WireName'
      const got = (await through(e)) as Error
      expect(got).toBeInstanceOf(Renamed)
      expect(got.message).toBe('renamed')
      // The class name itself is not registered.
      const plain = new Error('plain')
      plain.name = 'Renamed'
      const got2 = (await through(plain)) as Error
      expect(got2).not.toBeInstanceOf(Renamed)
      expect(got2.name).toBe('Renamed')
    })

    it(`a registered class whose name is a class field keeps its name (through ${way})`, async () => {
      const got = (await through(new ClassFieldError('with a field'))) as ClassFieldError
      expect(got).toBeInstanceOf(ClassFieldError)
      expect(got.message).toBe('with a field')
      expect(got.code).toBe('E_FIELD')
      expect(got.name).toBe('ClassFieldError')
    })
  }

  it('refuses a class without a name', () => {
    expect(() => registerErrorClass(class extends Error {}, '')).toThrow(TypeError)
  })
})

describe('handles in values', () => {
  it('encode collects each handle in order and decode asks for each index', () => {
    const [t1] = channel<number>()
    const [, r2] = channel<number>()
    const { payload, handles } = encode({ a: t1, list: [r2, t1] })
    expect(handles).toHaveLength(3)
    expect(handles[0]).toBe(t1)
    expect(handles[1]).toBe(r2)
    expect(handles[2]).toBe(t1)
    const asked: number[] = []
    const got = decode(payload, (i) => {
      asked.push(i)
      return `handle#${i}`
    })
    expect(got).toEqual({ a: 'handle#0', list: ['handle#1', 'handle#2'] })
    expect(asked).toEqual([0, 1, 2])
    // Without a handle reader, a handle reference is a protocol violation.
    expect(() => decode(payload, null)).toThrow(ProtocolError)
    expect(() => decode(payload, null)).toThrow(/handle reference where none may appear/)
  })

  it('handles travel inside Maps, Sets and arrays over a link', async () => {
    const [tx, rx] = channel<string>()
    const [itx, irx] = channel<string>()
    A.sender.send({ m: new Map([['tx', tx]]), s: new Set([irx]) })
    const got = (await B.receiver.recv({ timeout: 5000 })) as { m: Map<string, Sender<string>>; s: Set<Receiver<string>> }
    expect(got.m.get('tx')).toBeInstanceOf(Sender)
    const [movedRx] = [...got.s]
    expect(movedRx).toBeInstanceOf(Receiver)
    got.m.get('tx')!.send('through the map')
    expect(await rx.recv({ timeout: 5000 })).toBe('through the map')
    itx.send('into the set')
    expect(await movedRx!.recv({ timeout: 5000 })).toBe('into the set')
    got.m.get('tx')!.close()
    itx.close()
  })

  it('functions, symbols and cycles are refused with UnsupportedValueError', () => {
    expect(() => encode({ f() {} })).toThrow(UnsupportedValueError)
    expect(() => encode([Symbol('s')])).toThrow(UnsupportedValueError)
    const cyclic: Record<string, unknown> = {}
    cyclic.me = { back: cyclic }
    expect(() => encode(cyclic)).toThrow(UnsupportedValueError)
    expect(() => A.sender.send(cyclic)).toThrow(UnsupportedValueError)
  })
})

describe('prototype safety', () => {
  const protoNames = () => Object.getOwnPropertyNames(Object.prototype).sort()
  let before: string[]
  beforeAll(() => {
    before = protoNames()
  })

  function expectNoPollution(): void {
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
    expect(Object.prototype.hasOwnProperty.call(Object.prototype, 'polluted')).toBe(false)
    expect(protoNames()).toEqual(before)
    expect(Object.getPrototypeOf(Object.prototype)).toBeNull()
    expect(({} as Record<string, unknown>).toString).toBe(Object.prototype.toString)
    expect(Object.getPrototypeOf([])).toBe(Array.prototype)
    expect(([] as unknown as Record<string, unknown>).polluted).toBeUndefined()
  }

  const hostileJson = '{"__proto__": {"polluted": "yes", "toString": 1}, "a": 1, "nested": {"__proto__": {"polluted": "deep"}}, "list": [{"__proto__": {"polluted": "in list"}}]}'

  for (const [way, through] of ways) {
    it(`an own __proto__ key (from JSON.parse) pollutes nothing (through ${way})`, async () => {
      const value = JSON.parse(hostileJson)
      expect(Object.prototype.hasOwnProperty.call(value, '__proto__')).toBe(true)
      const got = (await through(value)) as Record<string, unknown> & { nested: Record<string, unknown>; list: Record<string, unknown>[] }
      expectNoPollution()
      expect(Object.getPrototypeOf(got)).toBe(Object.prototype)
      expect(Object.getPrototypeOf(got.nested)).toBe(Object.prototype)
      expect(Object.getPrototypeOf(got.list[0])).toBe(Object.prototype)
      expect(got.a).toBe(1)
      expect(got.polluted).toBeUndefined()
      expect(got.nested.polluted).toBeUndefined()
      expect(got.list[0]!.polluted).toBeUndefined()
      expect(typeof got.toString).toBe('function')
      // ...and every __proto__ key arrives as the own data property it was.
      expectOwnProto(got, { polluted: 'yes', toString: 1 })
      expectOwnProto(got.nested, { polluted: 'deep' })
      expectOwnProto(got.list[0], { polluted: 'in list' })
      expect(Object.keys(got)).toEqual(['__proto__', 'a', 'nested', 'list'])
    })

    it(`__proto__, constructor and prototype keys cross as own properties at any depth: objects, Map keys, error fields (through ${way})`, async () => {
      const keys = () => JSON.parse('{"__proto__": {"p": 1}, "constructor": {"c": 2}, "prototype": [3], "__proto_": 4}')
      const error = Object.defineProperties(new RangeError('bad'), Object.getOwnPropertyDescriptors(keys()))
      const sent = { top: keys(), deep: [{ m: new Map<unknown, unknown>([['__proto__', keys()], ['constructor', 1], ['prototype', 2]]) }], error }
      const got = (await through(sent)) as any
      for (const o of [got.top, got.deep[0].m.get('__proto__'), got.error]) {
        expectOwnProto(o, { p: 1 })
        for (const [k, v] of [['constructor', { c: 2 }], ['prototype', [3]], ['__proto_', 4]] as const) {
          expect(Object.getOwnPropertyDescriptor(o, k), k).toMatchObject({ value: v, writable: true, enumerable: true })
        }
      }
      expect(Object.getPrototypeOf(got.top)).toBe(Object.prototype)
      expect([...got.deep[0].m.keys()]).toEqual(['__proto__', 'constructor', 'prototype'])
      expect(got.error).toBeInstanceOf(RangeError)
      expect(Object.getPrototypeOf(got.error)).toBe(RangeError.prototype)
      expect(got.error.message).toBe('bad')
      expectNoPollution()
    })
  }

  /** `o` has an own, enumerable data property `__proto__` equal to `value`, and a prototype it did not get from it. */
  function expectOwnProto(o: unknown, value: unknown): void {
    expect(Object.getOwnPropertyDescriptor(o, '__proto__')).toMatchObject({ value, writable: true, enumerable: true, configurable: true })
    expect(Object.getPrototypeOf(o)).not.toBe((o as Record<string, unknown>)['__proto__'])
  }

  it('raw bytes of {"__proto__": {"polluted": 1}} decode to an own __proto__ property and pollute nothing', () => {
    const bytes = Buffer.concat([Buffer.from([0x81, 0xa9]), Buffer.from('__proto__'), Buffer.from([0x81, 0xa8]), Buffer.from('polluted'), Buffer.from([0x01])])
    const decoded = decode(bytes, null) as Record<string, unknown>
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
    expect(Object.getPrototypeOf(decoded)).toBe(Object.prototype)
    expect(Object.prototype.hasOwnProperty.call(decoded, '__proto__')).toBe(true)
    expectOwnProto(decoded, { polluted: 1 })
    expect(Object.getPrototypeOf(decoded['__proto__'])).toBe(Object.prototype)
    expectNoPollution()
  })

  it('a __proto__ key in any string encoding (fixstr, str 8/16/32) and any map size is an own property', () => {
    const key = Buffer.from('__proto__')
    const headers = [[0xa9], [0xd9, 9], [0xda, 0, 9], [0xdb, 0, 0, 0, 9]]
    const maps = [[0x82], [0xde, 0, 2], [0xdf, 0, 0, 0, 2]]
    for (const h of headers) {
      for (const m of maps) {
        // { a: 1, __proto__: [2] }
        const bytes = Buffer.concat([Buffer.from(m), Buffer.from([0xa1, 0x61, 0x01]), Buffer.from(h), key, Buffer.from([0x91, 0x02])])
        const got = decode(bytes, null) as Record<string, unknown>
        expect(Object.keys(got), bytes.toString('hex')).toEqual(['a', '__proto__'])
        expectOwnProto(got, [2])
      }
    }
    expectNoPollution()
  })

  it('the bytes __proto__ outside a key change nothing: in a string, a binary, after a __proto_ key', () => {
    // { __proto_: 95 } is written a8 "__proto_" 5f: the bytes "__proto__" with no such key.
    const cases: unknown[] = [{ __proto_: 95 }, { s: 'a __proto__ b' }, Buffer.from('__proto__'), ['__proto__', new Map([['__proto__', '__proto__']])], new Set(['__proto__', { __proto_: 95 }])]
    for (const v of cases) {
      expectSame(roundTrip(v), v)
    }
  })

  it('an object with both __proto__ and __proto_ keys keeps both, and the order of its keys', () => {
    const v = JSON.parse('{"x_1": 0, "__proto_": 1, "__proto__": 2, "z": {"__proto__": null, "__proto_": 3}}')
    const got = roundTrip(v) as any
    expect(Object.keys(got)).toEqual(['x_1', '__proto_', '__proto__', 'z'])
    expect(Object.keys(got.z)).toEqual(['__proto__', '__proto_'])
    expectOwnProto(got, 2)
    expectOwnProto(got.z, null)
    expect(got.__proto_).toBe(1)
    expect(got.z.__proto_).toBe(3)
  })

  it('a __proto__ key far into a large message, and in one read in place, is an own property', () => {
    for (const pad of [300, 100_000]) {
      const v = JSON.parse(`{"a_b": "${'_'.repeat(pad)}", "bin": null, "deep": [{"__proto__": {"polluted": 1}}]}`)
      v.bin = Buffer.alloc(pad, 0x5f)
      const bytes = Buffer.from(encode(v).payload)
      const got = decode(bytes, null) as any
      expectOwnProto(got.deep[0], { polluted: 1 })
      expect(got.bin.equals(v.bin)).toBe(true)
      expect(got.a_b).toBe(v.a_b)
    }
    expectNoPollution()
  })

  it('a __proto__ key counts only inside the decoded range, however ranges are visited', () => {
    const a = encode({ a_1: 1 }).payload
    const b = encode(JSON.parse('{"__proto__": 2}')).payload
    const c = encode({ c: '__proto__' }).payload
    const chunk = Buffer.concat([a, b, c])
    const at = [0, a.length, a.length + b.length, chunk.length]
    for (const order of [[0, 1, 2], [2, 1, 0], [1, 1, 0, 2]]) {
      const got = order.map((i) => decode(chunk, null, at[i]!, at[i + 1]!))
      got.forEach((g, j) => {
        if (order[j] === 1) expectOwnProto(g, 2)
        else expect(Object.prototype.hasOwnProperty.call(g, '__proto__')).toBe(false)
      })
    }
  })

  it('the search for __proto__ finds it exactly when it is in a range long enough for a map with that key (short and long ranges, in order and not)', () => {
    const alphabet = Buffer.from('__proto_x')
    let seed = 7
    const rand = (n: number) => {
      // mulberry32
      let t = (seed = (seed + 0x6d2b79f5) | 0)
      t = Math.imul(t ^ (t >>> 15), t | 1)
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
      return (((t ^ (t >>> 14)) >>> 0) / 2 ** 32) * n | 0
    }
    for (let round = 0; round < 3000; round++) {
      const bytes = Buffer.from(Array.from({ length: 1 + rand(round % 3 === 0 ? 2000 : 60) }, () => alphabet[rand(alphabet.length)]!))
      const at = rand(bytes.length)
      if (rand(2)) Buffer.from('__proto__').copy(bytes, at)
      for (let k = 0; k < 4; k++) {
        // Some ranges just around where the needle went in, some anywhere.
        const start = k < 2 ? Math.max(0, at - rand(3)) : k < 3 ? rand(at + 1) : rand(bytes.length)
        const end = k < 3 ? Math.min(bytes.length, Math.max(start, at + 8 + rand(3))) : start + rand(bytes.length - start + 1)
        expect(mayHoldProtoKey(bytes, start, end), `${bytes.toString()} [${start}, ${end})`).toBe(end - start >= 12 && bytes.subarray(start, end).includes('__proto__'))
      }
    }
  })

  it('a payload with a __proto__ key still refuses what it must: non-string keys that are containers, 0xc1, bad tags', () => {
    const key = Buffer.concat([Buffer.from([0xa9]), Buffer.from('__proto__')])
    const cases = [
      Buffer.concat([Buffer.from([0x82]), key, Buffer.from([0x01, 0x91, 0x01, 0x02])]), // an array as a key
      Buffer.concat([Buffer.from([0x81]), key, Buffer.from([0xc1])]), // 0xc1
      Buffer.concat([Buffer.from([0x81]), key, Buffer.from([0xd4, 0x02, 0x00, 0x91, 0x01])]), // Map tag, odd entries
      Buffer.concat([Buffer.from([0x81]), key, Buffer.from([0xd4, 0x03, 0x00, 0x05])]), // error tag, no record
      Buffer.concat([Buffer.from([0x81]), key]), // cut short
    ]
    for (const c of cases) expect(() => decode(c, null), c.toString('hex')).toThrow(ProtocolError)
    // Keys that msgpackr names as strings are named the same way.
    const named = decode(Buffer.concat([Buffer.from([0x85]), key, Buffer.from([0x00, 0x01, 0x01, 0xc3, 0x02, 0xc0, 0x03, 0xd3, 0, 0, 0, 0, 0, 0, 0, 4, 0x04])]), null)
    expect(Object.keys(named as object)).toEqual(['1', '4', '__proto__', 'true', 'null'])
  })

  it('a hand-built MessagePack map with a __proto__ key pollutes nothing', () => {
    const packr = new Packr({ useRecords: false })
    const bytes = packr.pack(JSON.parse('{"__proto__": {"polluted": 1}}'))
    expect(bytes.includes(Buffer.from('__proto__'))).toBe(true)
    const got = decode(bytes, null) as Record<string, unknown>
    expectNoPollution()
    expect(Object.getPrototypeOf(got)).toBe(Object.prototype)
    expect(got.polluted).toBeUndefined()
    expectOwnProto(got, { polluted: 1 })
  })

  it('a Map keeps __proto__ as an ordinary key', () => {
    const got = roundTrip(new Map([['__proto__', { polluted: 1 }]])) as Map<string, unknown>
    expect(got).toBeInstanceOf(Map)
    expect(got.get('__proto__')).toEqual({ polluted: 1 })
    expectNoPollution()
  })

  it('an error record cannot set a prototype through its fields: __proto__ and constructor are own fields', () => {
    const packr = new Packr({ useRecords: false })
    const record = packr.pack(JSON.parse('{"name": "TypeError", "message": "m", "fields": {"__proto__": {"polluted": 1}, "constructor": "x", "ok": 2}}'))
    const bytes = Buffer.concat([Buffer.from([0xd4, 0x03, 0x00]), record])
    const got = decode(bytes, null) as TypeError & { ok: number }
    expect(got).toBeInstanceOf(TypeError)
    expect(Object.getPrototypeOf(got)).toBe(TypeError.prototype)
    expectOwnProto(got, { polluted: 1 })
    expect(Object.getOwnPropertyDescriptor(got, 'constructor')).toMatchObject({ value: 'x', enumerable: true })
    expect(got.ok).toBe(2)
    expect((got as unknown as Record<string, unknown>).polluted).toBeUndefined()
    expectNoPollution()
  })

  it('an error record naming an inherited property does not pick a constructor by that name', () => {
    const packr = new Packr({ useRecords: false })
    for (const name of ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', 'Function', 'Object']) {
      const bytes = Buffer.concat([Buffer.from([0xd4, 0x03, 0x00]), packr.pack({ name, message: 'm' })])
      const got = decode(bytes, null) as Error
      expect(got, name).toBeInstanceOf(Error)
      expect(Object.getPrototypeOf(got), name).toBe(Error.prototype)
      expect(got.name, name).toBe(name)
      expect(got.message).toBe('m')
    }
    expectNoPollution()
  })
})

describe('msgpackr extensions a peer may not use', () => {
  it('a record definition (msgpackr 0x72) is refused with ProtocolError', () => {
    const bytes = new Packr({ useRecords: true }).pack([{ a: 1 }, { a: 2 }, { a: 3 }])
    expect(bytes.includes(Buffer.from([0xd4, 0x72]))).toBe(true) // it really holds a record definition
    expect(() => decode(bytes, null)).toThrow(ProtocolError)
    expect(() => decode(bytes, null)).toThrow(/record extension is not part of the ipfi protocol/)
    // Nothing of the refused definition stays behind: 0x40 is still the integer 64, not a record.
    expect(decode(Buffer.from([0x40]), null)).toBe(64)
    expect(decode(Buffer.from([0x92, 0x40, 0x41]), null)).toEqual([64, 65])
  })

  it('a record definition arriving over a link closes it with ProtocolError', async () => {
    const [wa, wb] = memoryWirePair()
    const a = connectWire<unknown, unknown>(wa, { name: 'rec-a' })
    const b = connectWire<unknown, unknown>(wb, { name: 'rec-b' })
    await Promise.all([a.ready, b.ready])
    // Send the record bytes as a frame by hand: a MSG to b's bootstrap export 0.
    const payload = new Packr({ useRecords: true }).pack([{ a: 1 }, { a: 2 }, { a: 3 }])
    const body = Buffer.alloc(10 + payload.length)
    body[0] = 0x02
    body.set(payload, 10)
    const frame = Buffer.alloc(4)
    frame.writeUInt32BE(body.length)
    wa.write(Buffer.concat([frame, body]))
    const cause = (await b.closed) as Error
    expect(cause).toBeInstanceOf(ProtocolError)
    expect(cause.message).toMatch(/record extension/)
    // The shared link used by the other tests is unaffected.
    expect(await overLink('still fine')).toBe('still fine')
  })

  it("msgpackr's 0x65 error extension named 'Function' does not produce a Function", () => {
    const packr = new Packr({ useRecords: false })
    const bytes = Buffer.concat([Buffer.from([0xd4, 0x65, 0x00]), packr.pack(['Function', 'return 1', undefined])])
    let got: unknown
    try {
      got = decode(bytes, null)
    } catch (e) {
      expect(e).toBeInstanceOf(ProtocolError)
      return
    }
    expect(typeof got).not.toBe('function')
    expect(got).not.toBeInstanceOf(Function)
    expect(got).toBeInstanceOf(Error)
  })

  it("msgpackr's 0x65 error extension cannot reach anything by an inherited name", () => {
    const packr = new Packr({ useRecords: false })
    const problems: string[] = []
    for (const name of ['constructor', 'valueOf', 'toString', 'hasOwnProperty', '__proto__', 'isPrototypeOf']) {
      const bytes = Buffer.concat([Buffer.from([0xd4, 0x65, 0x00]), packr.pack([name, 'msg', undefined])])
      let got: unknown
      try {
        got = decode(bytes, null)
      } catch (e) {
        if (!(e instanceof ProtocolError)) problems.push(`${name}: threw ${String(e)}`)
        continue
      }
      // Acceptable outcomes: a refusal (above) or a plain Error carrying the name as data.
      if (!(got instanceof Error)) problems.push(`${name}: decoded to ${Object.prototype.toString.call(got)} (not an Error)`)
      else if (Object.values(got).some((v) => typeof v === 'function')) problems.push(`${name}: decoded value holds functions`)
    }
    expect(problems).toEqual([])
  })

  it('the reserved byte 0xc1 (never used in MessagePack) is refused with ProtocolError', () => {
    expect(() => decode(Buffer.from([0xc1]), null)).toThrow(ProtocolError)
    expect(() => decode(Buffer.from([0x91, 0xc1]), null)).toThrow(ProtocolError)
    // nested in a map value, and inside a rebuilt error's fields
    expect(() => decode(Buffer.from([0x81, 0xa1, 0x61, 0x92, 0x01, 0xc1]), null)).toThrow(ProtocolError)
    // ...while the byte inside a string or a binary is just data
    expect(decode(Buffer.from([0xc4, 0x01, 0xc1]), null)).toEqual(Buffer.from([0xc1]))
    expect(decode(Buffer.from([0x92, 0xcc, 0xc1, 0x01]), null)).toEqual([0xc1, 1])
  })

  it('decodes a range of a larger buffer; 0xc1 counts only inside the range, however ranges are visited', () => {
    // [0xc1 as data] [reserved 0xc1] ['ok'] [0xc1 as data]
    const bytes = Buffer.from([0xc4, 0x01, 0xc1, 0xc1, 0xa2, 0x6f, 0x6b, 0xcc, 0xc1])
    expect(decode(bytes, null, 0, 3)).toEqual(Buffer.from([0xc1]))
    expect(() => decode(bytes, null, 3, 4)).toThrow(ProtocolError)
    expect(decode(bytes, null, 4, 7)).toBe('ok')
    expect(decode(bytes, null, 7, 9)).toBe(0xc1)
    // Out of order, and the same range twice.
    expect(decode(bytes, null, 4, 7)).toBe('ok')
    expect(() => decode(bytes, null, 3, 4)).toThrow(ProtocolError)
    expect(decode(bytes, null, 0, 3)).toEqual(Buffer.from([0xc1]))
    // A range must hold exactly one value.
    expect(() => decode(bytes, null, 4, 6)).toThrow(ProtocolError)
    expect(() => decode(bytes, null, 4, 8)).toThrow(ProtocolError)
    expect(() => decode(bytes, null, 5, 5)).toThrow(/empty/)
  })

  it('a binary from a message that shares its buffer with others is a copy; a large message alone in its buffer is read in place', () => {
    const small = encode({ data: Buffer.from([1, 2, 3]) }).payload
    const chunk = Buffer.concat([Buffer.alloc(100_000, 0xaa), small, Buffer.alloc(100_000, 0xbb)])
    const got = decode(chunk, null, 100_000, 100_000 + small.length) as { data: Buffer }
    expect(got.data).toEqual(Buffer.from([1, 2, 3]))
    // Its own memory: holding it does not hold the 200 kB chunk.
    expect(got.data.buffer.byteLength).toBeLessThan(100_000)
    chunk.fill(0, 100_000, 100_000 + small.length)
    expect(got.data).toEqual(Buffer.from([1, 2, 3]))

    const data = Buffer.alloc(256 * 1024, 7)
    const big = Buffer.from(encode({ data }).payload) // a message with its buffer to itself
    const bigGot = decode(big, null) as { data: Buffer }
    expect(bigGot.data.equals(data)).toBe(true)
    // No copy: the binary is a view of the message (which holds nothing else).
    expect(bigGot.data.buffer).toBe(big.buffer)
  })

  it("msgpackr's string bundles (ext 0x62) are refused: they would give 0xc1 a meaning", () => {
    // A bundle whose main value `c1 01` stands for the string 'y' held after it (plain msgpackr: 'y').
    expect(() => decode(Buffer.from([0xd6, 0x62, 0, 0, 0, 6, 0xc1, 0x01, 0xa1, 0x78, 0xa1, 0x79]), null)).toThrow(/string bundles/)
  })

  it('malformed bytes throw ProtocolError, never anything else', () => {
    const cases = [
      [], // nothing
      [0x93, 0x01], // array cut short
      [0x01, 0x02], // trailing bytes
      [0xd4, 0x02, 0x00, 0x93, 1, 2, 3], // Map tag with an odd entry list
      [0xd4, 0x02, 0x00, 0x05], // Map tag that is not an array
      [0xd4, 0x01, 0x00, 0xff], // handle tag with a negative index
      [0xd4, 0x03, 0x00, 0x05], // error tag that is not a record
      [0xdb, 0xff, 0xff, 0xff, 0xff], // str32 claiming 4 GB
      [0xdd, 0xff, 0xff, 0xff, 0xff], // array32 claiming 4 G elements
    ]
    for (const c of cases) {
      let thrown: unknown = null
      try {
        decode(Buffer.from(c), (i) => i)
      } catch (e) {
        thrown = e
      }
      expect(thrown, Buffer.from(c).toString('hex')).toBeInstanceOf(ProtocolError)
    }
  })
})

/** Hand-written bytes: hex digits, spaces ignored. */
const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex')
/** What decode() throws for `bytes` (it must throw a ProtocolError). */
function refusal(bytes: Buffer): ProtocolError {
  try {
    decode(bytes, (i) => ({ handle: i }))
  } catch (e) {
    expect(e, bytes.toString('hex')).toBeInstanceOf(ProtocolError)
    return e as ProtocolError
  }
  throw new Error(`${bytes.toString('hex')} was accepted`)
}
/** Words of msgpackr's own refusals: ipfi's messages say what the protocol says instead. */
const MSGPACKR_WORDS = /currentExtensions|Unknown extension|Could not find typed array|is not iterable|is not a function|Structured clone extension is disabled|Invalid flags/

describe('the Error tag (0x03) is followed by a map', () => {
  it('anything else after it (an array, a binary, a scalar, nil, another tag) is a ProtocolError', () => {
    for (const value of ['90', '92 a1 61 a1 62', 'c4 01 01', '05', 'a1 61', 'c0', 'c3', 'd4 02 00 90', 'd4 06 00 80', 'd6 ff 00 00 00 01', 'd4 73 00 90']) {
      const e = refusal(hex(`d4 03 00 ${value}`))
      expect(e.message, value).toMatch(/the Error tag must be followed by a map/)
    }
    // Also in a payload decoded with its maps as Maps (one with a __proto__ key), at depth.
    const e = refusal(Buffer.concat([hex('92 d4 03 00 91'), encode(JSON.parse('{"__proto__": 1}')).payload, hex('01')]))
    expect(e.message).toMatch(/the Error tag must be followed by a map/)
  })

  it('an empty map is an Error named "Error" with message ""; members of the wrong type count as absent', () => {
    const empty = decode(hex('d4 03 00 80'), null) as Error
    expect(Object.getPrototypeOf(empty)).toBe(Error.prototype)
    expect([empty.name, empty.message, empty.stack]).toEqual(['Error', '', 'Error: '])
    // { name: 5, message: true, stack: 7, errors: 1, fields: [1, 2] }
    const odd = new Packr({ useRecords: false }).pack({ name: 5, message: true, stack: 7, errors: 1, fields: [1, 2] })
    const got = decode(Buffer.concat([hex('d4 03 00'), odd]), null) as Error
    expect([got.name, got.message, got.stack]).toEqual(['Error', '', 'Error: '])
    expect(Object.keys(got)).toEqual([])
    expect('errors' in got).toBe(false)
  })
})

describe('ext types: tags are fixext 1 of a tag-table type; other ext types are ordinary or refused', () => {
  it('d4 42 05 is an ordinary 1-byte BigInt (5n), like any other length of ext 0x42', () => {
    expect(decode(hex('d4 42 05'), null)).toBe(5n)
    expect(decode(hex('d4 42 ff'), null)).toBe(-1n)
    expect(decode(hex('d5 42 01 00'), null)).toBe(256n)
    expect(decode(hex('c7 03 42 01 00 00'), null)).toBe(65536n)
    expect(decode(hex('92 d4 42 05 01'), null)).toEqual([5n, 1]) // one element: no value follows it
    expect(decode(hex('c7 09 42 00 ff ff ff ff ff ff ff ff'), null)).toBe(2n ** 64n - 1n)
    expect(decode(hex('c7 09 42 ff 00 00 00 00 00 00 00 00'), null)).toBe(-(2n ** 64n))
    for (const big of [2n ** 64n, -(2n ** 64n) - 1n, 2n ** 300n + 12345n, -(2n ** 200n)]) expect(decode(encode(big).payload, null)).toBe(big)
  })

  it('an ext 0x42 with no bytes is refused with a ProtocolError of its own (a BigInt has at least one byte)', () => {
    for (const bytes of ['c7 00 42', 'c8 00 00 42', 'c9 00 00 00 00 42']) {
      const e = refusal(hex(bytes))
      expect(e.message, bytes).toBe('malformed BigInt: ext 0x42 with no bytes')
    }
  })

  it('a tag type in any ext format but fixext 1 is refused with a ProtocolError that says so', () => {
    for (const t of [0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x65, 0x73, 0x78]) {
      const tt = t.toString(16).padStart(2, '0')
      for (const bytes of [`d5 ${tt} 00 00 90`, `d6 ${tt} 00 00 00 00 90`, `d7 ${tt} ${'00'.repeat(8)} 90`, `d8 ${tt} ${'00'.repeat(16)} 90`, `c7 00 ${tt} 90`, `c7 01 ${tt} 00 90`, `c8 00 01 ${tt} 00 90`, `c9 00 00 00 01 ${tt} 00 90`]) {
        const e = refusal(hex(bytes))
        expect(e.message, bytes).toMatch(new RegExp(`ext type 0x${tt} .* a tag is the fixext 1 d4 ${tt} 00 followed by its value`))
        expect(e.message).not.toMatch(MSGPACKR_WORDS)
      }
    }
    // undefined is d4 00 00 only (its filler is ignored).
    expect(decode(hex('d4 00 00'), null)).toBeUndefined()
    expect(decode(hex('d4 00 7f'), null)).toBeUndefined()
    for (const bytes of ['d5 00 00 00', 'c7 00 00', 'c7 01 00 00', 'd6 00 00 00 00 00']) {
      expect(refusal(hex(bytes)).message, bytes).toMatch(/undefined is the fixext 1 d4 00 00/)
    }
  })

  it("an application's own msgpackr extensions keep working beside ipfi, whichever is loaded first", () => {
    // msgpackr's extension table is process-wide: ipfi registers only the types it uses. Run in a
    // child, so the extension registered there does not reach this process's decoder.
    const script = (ipfiFirst: boolean) => `
      ${ipfiFirst ? "await import('ipfi')" : ''}
      const { Packr, addExtension } = await import('msgpackr')
      class Point { constructor(x, y) { this.x = x; this.y = y } }
      addExtension({ Class: Point, type: 0x30, write: (p) => [p.x, p.y], read: ([x, y]) => new Point(x, y) })
      ${ipfiFirst ? '' : "await import('ipfi')"}
      const back = new Packr().unpack(new Packr().pack({ p: new Point(1, 2) }))
      console.log(back.p instanceof Point, back.p.x, back.p.y)`
    for (const first of [true, false]) {
      const out = execFileSync(process.execPath, ['--input-type=module', '-e', script(first)], { cwd: new URL('..', import.meta.url), encoding: 'utf8' })
      expect(out.trim(), `ipfi loaded ${first ? 'first' : 'second'}`).toBe('true 1 2')
    }
  })

  it('an ext type outside the tables is refused in every ext format, with an ipfi message', () => {
    for (const bytes of ['d4 09 00', 'd4 09 00 01', 'c7 01 09 00', 'd5 08 00 00', 'd4 80 00', 'd6 fe 00 00 00 00', 'c7 00 41', 'd4 75 00']) {
      const e = refusal(hex(bytes))
      expect(e.message, bytes).toMatch(/ext type 0x[0-9a-f]{2} is not part of the ipfi protocol/)
      expect(e.message).not.toMatch(MSGPACKR_WORDS)
    }
    // A record definition in a format msgpackr does not read as one.
    expect(refusal(hex('c7 01 72 00')).message).toMatch(/ext type 0x72 \(a msgpackr record definition\) is not part of the ipfi protocol/)
    // Structured-clone references (msgpackr refuses them itself: the message is ipfi's).
    for (const bytes of ['d6 69 00 00 00 01 90', 'd6 70 00 00 00 01']) {
      const e = refusal(hex(bytes))
      expect(e.message, bytes).toMatch(/structured-clone references \(ext types 0x69, 0x70\) are not part of the ipfi protocol/)
    }
  })

  it('a Set, a RegExp or a typed array that is malformed is a ProtocolError with an ipfi message', () => {
    expect(decode(hex('d4 73 00 92 01 a1 61'), null)).toEqual(new Set([1, 'a']))
    expect(decode(hex('d4 78 00 92 a1 61 a1 67'), null)).toEqual(/a/g)
    expect(decode(hex('c7 05 74 07 00 00 80 3f'), null)).toEqual(new Float32Array([1]))
    const cases: [string, RegExp][] = [
      ['d4 73 00 05', /malformed Set/],
      ['d4 73 00 80', /malformed Set/],
      ['d4 78 00 a3 61 62 63', /malformed RegExp/],
      ['d4 78 00 91 a1 61', /malformed RegExp/],
      ['d4 78 00 92 a1 28 a0', /malformed RegExp: Invalid regular expression/],
      ['d4 78 00 92 a1 61 a1 51', /malformed RegExp: Invalid flags/],
      ['c7 00 74', /malformed typed array: ext 0x74 without a type code/],
      ['c7 02 74 20 00', /malformed typed array: unknown type code 32/],
      ['c7 04 74 09 01 02 03', /malformed typed array: 3 bytes are not a whole number of BigInt64Array elements/],
      ['c7 04 74 03 01 02 03', /malformed typed array: 3 bytes are not a whole number of Int16Array elements/],
    ]
    for (const [bytes, message] of cases) {
      const e = refusal(hex(bytes))
      expect(e.message, bytes).toMatch(message)
      expect(e.message.replace(/Invalid (flags|regular expression)/, '')).not.toMatch(MSGPACKR_WORDS)
    }
  })
})

describe('nesting depth: at most MAX_NESTING_DEPTH (512) arrays and maps', () => {
  const rep = (hexBytes: string, n: number) => hex(hexBytes.repeat(n))
  /** `n` arrays, one in the other, around `inner`. */
  const arrays = (n: number, inner: unknown): unknown => (n === 0 ? inner : [arrays(n - 1, inner)])
  const depthOf = (v: unknown): number => (Array.isArray(v) ? 1 + Math.max(0, ...v.map(depthOf)) : v instanceof Map ? 1 + Math.max(0, ...[...v].flat().map(depthOf)) : typeof v === 'object' && v !== null && !ArrayBuffer.isView(v) && !(v instanceof Date) ? 1 + Math.max(0, ...Object.values(v).map(depthOf)) : 0)

  it('is the constant the protocol page names', () => {
    expect(MAX_NESTING_DEPTH).toBe(512)
  })

  it('decoding: 512 levels are accepted and 513 refused with LimitExceededError, in every array and map format', () => {
    const formats: [string, string, string][] = [
      ['fixarray', '91', '90'],
      ['array 16', 'dc 00 01', 'dc 00 00'],
      ['array 32', 'dd 00 00 00 01', 'dd 00 00 00 00'],
      ['fixmap', '81 a0', '80'],
      ['map 16', 'de 00 01 a1 6b', 'de 00 00'],
      ['map 32', 'df 00 00 00 01 c0', 'df 00 00 00 00'],
    ]
    for (const [name, open, empty] of formats) {
      for (const innermost of [hex('01'), hex(empty)]) {
        const ok = Buffer.concat([rep(open, innermost.equals(hex('01')) ? 512 : 511), innermost])
        expect(depthOf(decode(ok, null)), name).toBe(512)
        const deep = Buffer.concat([rep(open, innermost.equals(hex('01')) ? 513 : 512), innermost])
        let thrown: unknown
        try {
          decode(deep, null)
        } catch (e) {
          thrown = e
        }
        expect(thrown, name).toBeInstanceOf(LimitExceededError)
        expect((thrown as Error).message).toMatch(/nested deeper than 512 levels \(MAX_NESTING_DEPTH\)/)
      }
    }
    // Far deeper than the JS stack would take (msgpackr recurses once per level): the same refusal.
    expect(() => decode(Buffer.concat([rep('91', 200_000), hex('01')]), null)).toThrow(LimitExceededError)
  })

  it('decoding: tags count as their value, and strings, binaries and ext data as scalars', () => {
    // A Map tag at level 512 (its array), a handle, a Set, an Error record, undefined, a Date.
    const inner511 = (s: string) => Buffer.concat([rep('91', 511), hex(s)])
    expect(decode(inner511('d4 02 00 92 01 02'), null)).toBeDefined()
    expect(decode(inner511('d4 73 00 91 01'), null)).toBeDefined()
    expect(decode(inner511('d4 03 00 81 a4 6e 61 6d 65 a1 45'), null)).toBeDefined()
    expect(decode(inner511('d4 78 00 92 a1 61 a0'), null)).toBeDefined()
    expect(decode(Buffer.concat([rep('91', 512), hex('d4 01 00 00')]), (i) => ({ handle: i }))).toBeDefined()
    expect(decode(Buffer.concat([rep('91', 512), hex('d4 00 00')]), null)).toBeDefined()
    expect(decode(Buffer.concat([rep('91', 512), hex('d6 ff 00 00 00 01')]), null)).toBeDefined()
    // ... one level further, each is refused.
    for (const s of ['d4 02 00 92 01 02', 'd4 73 00 91 01', 'd4 03 00 81 a4 6e 61 6d 65 a1 45', 'd4 78 00 92 a1 61 a0']) {
      expect(() => decode(Buffer.concat([rep('91', 512), hex(s)]), null), s).toThrow(LimitExceededError)
    }
    // Bytes that look like array headers inside strings and binaries are data.
    expect(decode(Buffer.concat([hex('d9 ff'), Buffer.alloc(255, 0x91)]), null)).toHaveLength(255)
    expect(decode(Buffer.concat([hex('c5 04 00'), Buffer.alloc(1024, 0x91)]), null)).toHaveLength(1024)
    expect(decode(Buffer.concat([hex('c7 ff 42'), Buffer.alloc(255, 0x91)]), null)).toBeTypeOf('bigint')
    // Deep branches side by side are each within the limit.
    const branch = Buffer.concat([rep('91', 511), hex('01')])
    expect(depthOf(decode(Buffer.concat([hex('93'), branch, branch, branch]), null))).toBe(512)
    // A wide value is not deep.
    expect(decode(encode(Array.from({ length: 5000 }, (_, i) => [i, { k: [i] }])).payload, null)).toHaveLength(5000)
  })

  it('encoding: what decodes is sendable and what does not is refused with UnsupportedValueError before anything is sent', () => {
    const builders: [string, (n: number) => unknown][] = [
      ['arrays', (n) => arrays(n, 1)],
      ['objects', (n) => (n === 0 ? 1 : { k: builders[1]![1](n - 1) })],
      ['Maps', (n) => (n === 0 ? 1 : new Map([[1, builders[2]![1](n - 1)]]))],
      ['Sets', (n) => (n === 0 ? 1 : new Set([builders[3]![1](n - 1)]))],
      ['objects without a prototype', (n) => (n === 0 ? 1 : noProto({ k: builders[4]![1](n - 1) }))],
      ['an Error at the bottom', (n) => arrays(n - 1, new Error('e'))],
      ['an Error with fields at the bottom', (n) => arrays(n - 2, Object.assign(new Error('e'), { code: 'E' }))],
      ['a RegExp at the bottom', (n) => arrays(n - 1, /x/g)],
    ]
    for (const [name, build] of builders) {
      const { payload } = encode(build(512))
      expect(() => decode(payload, null), `${name} 512`).not.toThrow()
      expect(() => encode(build(513)), `${name} 513`).toThrow(UnsupportedValueError)
      expect(() => encode(build(513)), `${name} 513`).toThrow(/nested deeper than 512 levels of arrays and maps \(MAX_NESTING_DEPTH\)/)
    }
    // Leaves at level 513 are no level of their own.
    for (const leaf of [new Date(1), new Uint8Array(2), Buffer.from('x'), new URL('http://x/'), 5n, 'str', -0]) {
      expect(() => decode(encode(arrays(512, leaf)).payload, null)).not.toThrow()
    }
  })

  it('a value nested too deep is refused in process and over a link alike, and the link stays up', async () => {
    const [tx] = channel<unknown>()
    expect(() => tx.send(arrays(513, 1))).toThrow(UnsupportedValueError)
    tx.close()
    expect(() => A.sender.send(arrays(513, 1))).toThrow(UnsupportedValueError)
    const deep = arrays(512, 'ok')
    expect(depthOf(await overLink(deep))).toBe(512)
  })
})

describe('maps, keys and strings as hand-written bytes decode them', () => {
  /** The same map with a `__proto__` key added, so that it is decoded the other way (its maps as Maps first). */
  const withProto = (entries: string, n: number) => hex(`${(0x80 + n + 1).toString(16)} a9 5f5f70726f746f5f5f c0 ${entries}`)

  it('a key that occurs twice: the last value wins, at the place of the first (objects, error fields, Maps)', () => {
    const entries = 'a1 61 01 a1 62 03 a1 61 02' // { a: 1, b: 3, a: 2 }
    const plain = decode(hex(`83 ${entries}`), null) as Record<string, unknown>
    expect(plain).toEqual({ a: 2, b: 3 })
    expect(Object.keys(plain)).toEqual(['a', 'b'])
    const proto = decode(withProto(entries, 3), null) as Record<string, unknown>
    expect(Object.keys(proto)).toEqual(['__proto__', 'a', 'b'])
    expect([proto.a, proto.b]).toEqual([2, 3])
    // Keys that become the same string: 1 and "1".
    expect(decode(hex('82 01 a1 78 a1 31 a1 79'), null)).toEqual({ 1: 'y' })
    expect((decode(withProto('01 a1 78 a1 31 a1 79', 2), null) as Record<string, unknown>)['1']).toBe('y')
    // Error record members and fields.
    const e = decode(hex('d4 03 00 83 a7 6d657373616765 a1 61 a6 6669656c6473 81 a1 6b 01 a7 6d657373616765 a1 62'), null) as Error & { k: number }
    expect([e.message, e.k]).toEqual(['b', 1])
    // A Map tag: keys compare as in a JS Map (SameValueZero: 0 and -0 are one key, [1] and [1] two).
    const m = decode(hex('d4 02 00 94 00 a1 78 cb 8000000000000000 a1 79'), null) as Map<unknown, unknown>
    expect([...m]).toEqual([[0, 'y']])
    expect(Object.is([...m.keys()][0], 0)).toBe(true)
    expect((decode(hex('d4 02 00 94 91 01 a1 78 91 01 a1 79'), null) as Map<unknown, unknown>).size).toBe(2)
  })

  it('keys that are not strings become the JavaScript String() of their value; other key types are refused', () => {
    const cases: [string, string][] = [
      ['01', '1'],
      ['ff', '-1'],
      ['cd 01 00', '256'],
      ['cf ffffffffffffffff', '18446744073709551615'],
      ['d3 0000000000000005', '5'],
      ['d4 42 05', '5'],
      ['ca 3fc00000', '1.5'],
      ['cb 3ff8000000000000', '1.5'],
      ['cb 3fb999999999999a', '0.1'],
      ['cb 8000000000000000', '0'],
      ['cb 7ff8000000000000', 'NaN'],
      ['cb 7ff0000000000000', 'Infinity'],
      ['cb fff0000000000000', '-Infinity'],
      ['cb 444b1ae4d6e2ef50', '1e+21'],
      ['cb 4415af1d78b58c40', '100000000000000000000'],
      ['c3', 'true'],
      ['c2', 'false'],
      ['c0', 'null'],
      ['d4 00 00', 'undefined'],
    ]
    for (const [key, name] of cases) {
      for (const bytes of [hex(`81 ${key} a1 76`), withProto(`${key} a1 76`, 1)]) {
        const o = decode(bytes, null) as Record<string, unknown>
        expect(Object.keys(o).filter((k) => k !== '__proto__'), key).toEqual([name])
        expect(o[name]).toBe('v')
      }
    }
    // Containers, binaries, Dates and tags as keys are refused.
    for (const key of ['90', '80', 'c4 01 61', 'd6 ff 00000001', 'd4 02 00 90', 'd4 73 00 90', 'd4 03 00 80', 'd4 07 00 a8 687474703a2f2f78', 'c7 02 74 01 00']) {
      for (const bytes of [hex(`81 ${key} a1 76`), withProto(`${key} a1 76`, 1)]) refusal(bytes)
    }
  })

  it('a JavaScript object lists integer-like keys first, in numeric order (as any JS object does)', () => {
    expect(Object.keys(decode(hex('83 a1 62 01 a1 32 02 a1 31 03'), null) as object)).toEqual(['1', '2', 'b'])
  })

  it('invalid UTF-8 decodes with U+FFFD for each maximal bad subsequence (WHATWG, as TextDecoder), in values and keys', () => {
    const cases: [string, string][] = [
      ['61 ff 62', 'a\uFFFDb'],
      ['ed a0 80', '\uFFFD\uFFFD\uFFFD'], // an encoded surrogate
      ['c0 af', '\uFFFD\uFFFD'], // an overlong form
      ['e2 82 41', '\uFFFDA'], // a truncated sequence, then a letter
      ['61 f0 9f 98', 'a\uFFFD'], // truncated at the end
      ['f4 90 80 80', '\uFFFD\uFFFD\uFFFD\uFFFD'], // past U+10FFFF
      ['ef bb bf 61', '\uFEFFa'], // a byte order mark is a character like any other
      ['f0 9f 98 80', '\u{1F600}'],
    ]
    for (const [bytes, want] of cases) {
      const b = hex(bytes)
      const str = Buffer.concat([Buffer.from([0xa0 + b.length]), b])
      expect(decode(str, null), bytes).toBe(want)
      expect(Object.keys(decode(Buffer.concat([hex('81'), str, hex('01')]), null) as object), bytes).toEqual([want])
      // Longer strings (read another way by msgpackr): the same.
      const long = Buffer.concat([hex('d9 c8'), Buffer.alloc(200 - b.length, 0x61), b])
      expect(decode(long, null), bytes).toBe('a'.repeat(200 - b.length) + want)
    }
    // Random bytes, short and long: exactly what TextDecoder makes of them.
    const td = new TextDecoder('utf-8', { ignoreBOM: true })
    let seed = 7
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31)
    const pool = [0x41, 0x7f, 0x80, 0xbf, 0xc0, 0xc2, 0xdf, 0xe0, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xff]
    for (let i = 0; i < 2000; i++) {
      const len = [1, 3, 7, 15, 16, 40, 70, 150][i % 8]!
      const b = Buffer.from(Array.from({ length: len }, () => (next() % 3 ? pool[next() % pool.length]! : next() % 256)))
      const str = Buffer.concat([len < 32 ? Buffer.from([0xa0 + len]) : Buffer.from([0xd9, len]), b])
      expect(decode(str, null), b.toString('hex')).toBe(td.decode(b))
    }
  })
})
