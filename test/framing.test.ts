/**
 * Length-prefixed framing (src/wire/framing.ts): the same frames come out however the byte stream
 * is split, lengths are checked from the header alone, and a cut frame is reported.
 */
import { describe, expect, it } from 'vitest'
import { LimitExceededError, ProtocolError } from '../src/errors.js'
import { FRAME_HEADER, FrameDecoder, writeLength } from '../src/wire/framing.js'

/** mulberry32: a small seeded PRNG, so every run sees the same "random" data. */
function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const KB = 1024
const FRAME_COUNT = 3000
const MAX_SIZE = 300 * KB

function frameSize(rand: () => number): number {
  const r = rand()
  if (r < 0.7) return 1 + Math.floor(rand() * 64)
  if (r < 0.94) return 65 + Math.floor(rand() * 2000)
  if (r < 0.997) return 2066 + Math.floor(rand() * 16 * KB)
  return 32 * KB + Math.floor(rand() * (MAX_SIZE - 32 * KB))
}

/** A long mixed sequence of frames, and the stream that carries them. */
function makeStream(seed: number): { frames: Buffer[]; stream: Buffer } {
  const rand = prng(seed)
  const sizes = Array.from({ length: FRAME_COUNT }, () => frameSize(rand))
  // Make sure the extremes are there, at fixed places.
  sizes[0] = 1
  sizes[1] = 1
  sizes[2] = 4
  sizes[100] = MAX_SIZE
  sizes[101] = 1
  sizes[1500] = MAX_SIZE - 1
  sizes[FRAME_COUNT - 1] = 2
  const frames = sizes.map((n) => {
    const b = Buffer.allocUnsafe(n)
    for (let i = 0; i < n; i += 4) {
      const v = (rand() * 4294967296) >>> 0
      b[i] = v & 0xff
      if (i + 1 < n) b[i + 1] = (v >>> 8) & 0xff
      if (i + 2 < n) b[i + 2] = (v >>> 16) & 0xff
      if (i + 3 < n) b[i + 3] = v >>> 24
    }
    return b
  })
  const total = frames.reduce((s, f) => s + FRAME_HEADER + f.length, 0)
  const stream = Buffer.allocUnsafe(total)
  let off = 0
  for (const f of frames) {
    writeLength(stream, off, f.length)
    f.copy(stream, off + FRAME_HEADER)
    off += FRAME_HEADER + f.length
  }
  expect(off).toBe(total)
  return { frames, stream }
}

const SEQ = makeStream(0x1badf00d)

function expectSameFrames(got: Uint8Array[], want: Buffer[]): void {
  expect(got.length).toBe(want.length)
  let mismatches = 0
  let first = -1
  for (let i = 0; i < want.length; i++) {
    const g = got[i]!
    if (g.length !== want[i]!.length || !Buffer.from(g.buffer, g.byteOffset, g.byteLength).equals(want[i]!)) {
      mismatches++
      if (first < 0) first = i
    }
  }
  expect({ mismatches, first }).toEqual({ mismatches: 0, first: -1 })
}

describe('FrameDecoder yields the same frames however the stream is split', () => {
  it('the sequence really is long and mixed', () => {
    const sizes = SEQ.frames.map((f) => f.length)
    expect(sizes.length).toBe(FRAME_COUNT)
    expect(Math.min(...sizes)).toBe(1)
    expect(Math.max(...sizes)).toBe(MAX_SIZE)
    expect(sizes.filter((n) => n <= 64).length).toBeGreaterThan(1000)
    expect(sizes.filter((n) => n > 2048).length).toBeGreaterThan(50)
    expect(sizes.filter((n) => n > 64 * KB).length).toBeGreaterThanOrEqual(2)
    expect(SEQ.stream.length).toBeGreaterThan(2 * KB * KB)
  })

  it('fed whole', () => {
    const got: Uint8Array[] = []
    const d = new FrameDecoder(MAX_SIZE, (b, s, e) => got.push(b.subarray(s, e)))
    d.push(SEQ.stream)
    expect(d.partial).toBe(false)
    expectSameFrames(got, SEQ.frames)
  })

  it('fed one byte at a time (through one reused one-byte buffer)', () => {
    const got: Uint8Array[] = []
    const d = new FrameDecoder(MAX_SIZE, (b, s, e) => got.push(b.subarray(s, e)))
    const one = new Uint8Array(1)
    const s = SEQ.stream
    let partialSeen = 0
    for (let i = 0; i < s.length; i++) {
      one[0] = s[i]!
      d.push(one)
      if (i % 997 === 0 && d.partial) partialSeen++
    }
    expect(partialSeen).toBeGreaterThan(0)
    expect(d.partial).toBe(false)
    // The reused input buffer was overwritten after every byte: the frames must not depend on it.
    expectSameFrames(got, SEQ.frames)
  })

  for (const seed of [1, 2, 3, 42, 0xdecafbad]) {
    it(`fed in random pieces (seed ${seed})`, () => {
      const rand = prng(seed)
      const got: Uint8Array[] = []
      const d = new FrameDecoder(MAX_SIZE, (b, s, e) => got.push(b.subarray(s, e)))
      const s = SEQ.stream
      let off = 0
      let pushes = 0
      while (off < s.length) {
        const r = rand()
        // Mostly tiny pieces (splitting headers), some medium, a few huge; sometimes empty.
        const n = r < 0.02 ? 0 : r < 0.6 ? 1 + Math.floor(rand() * 7) : r < 0.995 ? 8 + Math.floor(rand() * 4 * KB) : 1 + Math.floor(rand() * 400 * KB)
        d.push(s.subarray(off, off + n))
        off += n
        pushes++
      }
      expect(pushes).toBeGreaterThan(1000)
      expect(d.partial).toBe(false)
      expectSameFrames(got, SEQ.frames)
    })
  }

  it('fed in random pieces through a scratch buffer overwritten after each push', () => {
    const rand = prng(7)
    const got: Uint8Array[] = []
    // Frames may be views of the pushed chunk; copy them at once, as a consumer that keeps them must.
    const d = new FrameDecoder(MAX_SIZE, (b, s, e) => got.push(Uint8Array.prototype.slice.call(b, s, e)))
    // Under 64 KiB: a wire may only reuse buffers that small (Wire.start); the decoder keeps views of larger ones.
    const scratch = new Uint8Array(64 * KB - 1)
    const s = SEQ.stream
    let off = 0
    while (off < s.length) {
      const n = Math.min(1 + Math.floor(rand() * scratch.length), s.length - off)
      scratch.set(s.subarray(off, off + n))
      d.push(scratch.subarray(0, n))
      scratch.fill(0xee)
      off += n
    }
    expectSameFrames(got, SEQ.frames)
  })

  it('several frames in one chunk, and a chunk that ends exactly at a frame boundary', () => {
    const got: string[] = []
    const d = new FrameDecoder(100, (b, s, e) => got.push(b.toString('utf8', s, e)))
    const enc = (s: string) => {
      const b = Buffer.alloc(4 + s.length)
      writeLength(b, 0, s.length)
      b.write(s, 4)
      return b
    }
    d.push(Buffer.concat([enc('a'), enc('bc'), enc('def')]))
    expect(got).toEqual(['a', 'bc', 'def'])
    expect(d.partial).toBe(false)
    const two = Buffer.concat([enc('ghij'), enc('k')])
    d.push(two.subarray(0, 6))
    expect(got).toEqual(['a', 'bc', 'def'])
    d.push(two.subarray(6))
    expect(got).toEqual(['a', 'bc', 'def', 'ghij', 'k'])
  })
})

describe('FrameDecoder checks lengths from the header alone', () => {
  it('a length over the limit throws LimitExceededError on the 4 header bytes, before any body', () => {
    const calls: Uint8Array[] = []
    const d = new FrameDecoder(1000, (b, s, e) => calls.push(b.subarray(s, e)))
    let thrown: unknown
    try {
      d.push(Uint8Array.from([0, 0, 0x03, 0xe9])) // 1001
    } catch (e) {
      thrown = e
    }
    expect(thrown).toBeInstanceOf(LimitExceededError)
    expect((thrown as Error).message).toMatch(/frame of 1001 bytes is over the limit of 1000 bytes/)
    expect(calls).toEqual([])
  })

  it('the same when the header arrives one byte at a time: the fourth byte throws', () => {
    const d = new FrameDecoder(1000, () => {
      throw new Error('no frame expected')
    })
    d.push(Uint8Array.from([0]))
    d.push(Uint8Array.from([0]))
    d.push(Uint8Array.from([0x03]))
    expect(() => d.push(Uint8Array.from([0xe9]))).toThrow(LimitExceededError)
  })

  it('a header claiming 4 GB is refused without trying to allocate it', () => {
    for (const split of [false, true]) {
      const d = new FrameDecoder(64 * 1024 * 1024, () => {})
      const header = Uint8Array.from([0xff, 0xff, 0xff, 0xff])
      let thrown: unknown
      try {
        if (split) for (const b of header) d.push(Uint8Array.of(b))
        else d.push(header)
      } catch (e) {
        thrown = e
      }
      // An allocation of 4 GB would have thrown RangeError (or taken the memory) instead.
      expect(thrown).toBeInstanceOf(LimitExceededError)
      expect((thrown as Error).message).toMatch(/frame of 4294967295 bytes is over the limit of 67108864 bytes/)
    }
  })

  it('nothing is allocated for a frame whose length is refused', () => {
    const Real = globalThis.Uint8Array
    const allocations: number[] = []
    globalThis.Uint8Array = new Proxy(Real, {
      construct(target, args, newTarget) {
        if (typeof args[0] === 'number') allocations.push(args[0])
        return Reflect.construct(target, args, newTarget)
      },
    })
    const realAllocUnsafe = Buffer.allocUnsafe
    Buffer.allocUnsafe = (n: number) => {
      allocations.push(n)
      return realAllocUnsafe(n)
    }
    const thrown: unknown[] = []
    try {
      for (const bytes of [[0, 0, 0x03, 0xe9], [0xff, 0xff, 0xff, 0xff]]) {
        // Header byte by byte (the path that allocates a body), and whole.
        const d1 = new FrameDecoder(1000, () => {})
        try {
          for (const b of bytes) d1.push(Real.of(b))
        } catch (e) {
          thrown.push(e)
        }
        const d2 = new FrameDecoder(1000, () => {})
        try {
          d2.push(Real.from([...bytes, 1, 2, 3]))
        } catch (e) {
          thrown.push(e)
        }
      }
      // Control: an accepted partial frame does allocate its body.
      new FrameDecoder(1000, () => {}).push(Real.from([0, 0, 0x03, 0xe8, 1]))
    } finally {
      globalThis.Uint8Array = Real
      Buffer.allocUnsafe = realAllocUnsafe
    }
    expect(thrown).toHaveLength(4)
    for (const e of thrown) expect(e).toBeInstanceOf(LimitExceededError)
    expect(allocations.filter((n) => n > 1000)).toEqual([])
    expect(allocations).toContain(1000)
  })

  it('a header claiming 2^31 or more is read as unsigned, not as a negative length', () => {
    const d = new FrameDecoder(64 * 1024 * 1024, () => {})
    expect(() => d.push(Uint8Array.from([0x80, 0, 0, 0, 1, 2]))).toThrow(/frame of 2147483648 bytes/)
    const d2 = new FrameDecoder(64 * 1024 * 1024, () => {})
    for (const b of [0x80, 0, 0]) d2.push(Uint8Array.of(b))
    expect(() => d2.push(Uint8Array.of(1))).toThrow(/frame of 2147483649 bytes/)
  })

  it('a length exactly at the limit is accepted', () => {
    const got: Uint8Array[] = []
    const d = new FrameDecoder(1000, (b, s, e) => got.push(b.subarray(s, e)))
    const b = Buffer.alloc(4 + 1000, 0x5a)
    writeLength(b, 0, 1000)
    d.push(b.subarray(0, 4))
    d.push(b.subarray(4))
    expect(got).toHaveLength(1)
    expect(got[0]!.length).toBe(1000)
    expect(got[0]!.every((x) => x === 0x5a)).toBe(true)
  })

  it('the limit can be raised after construction (as after a handshake)', () => {
    const got: number[] = []
    const d = new FrameDecoder(16, (b, s, e) => got.push(e - s))
    const b = Buffer.alloc(4 + 100)
    writeLength(b, 0, 100)
    expect(() => new FrameDecoder(16, () => {}).push(b)).toThrow(LimitExceededError)
    d.maxFrame = 100
    d.push(b)
    expect(got).toEqual([100])
    d.maxFrame = 99
    expect(() => d.push(b)).toThrow(/frame of 100 bytes is over the limit of 99 bytes/)
  })

  it('a zero length throws ProtocolError (whole header and byte by byte)', () => {
    const d = new FrameDecoder(1000, () => {})
    expect(() => d.push(Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 1, 9]))).toThrow(ProtocolError)
    const d2 = new FrameDecoder(1000, () => {})
    d2.push(Uint8Array.of(0))
    d2.push(Uint8Array.of(0))
    d2.push(Uint8Array.of(0))
    let thrown: unknown
    try {
      d2.push(Uint8Array.of(0))
    } catch (e) {
      thrown = e
    }
    expect(thrown).toBeInstanceOf(ProtocolError)
    expect((thrown as Error).message).toMatch(/empty frame/)
  })

  it('a zero length after a good frame in the same chunk throws after delivering the good one', () => {
    const got: string[] = []
    const d = new FrameDecoder(1000, (b, s, e) => got.push(b.toString('utf8', s, e)))
    expect(() => d.push(Uint8Array.from([0, 0, 0, 2, 0x6f, 0x6b, 0, 0, 0, 0]))).toThrow(ProtocolError)
    expect(got).toEqual(['ok'])
  })
})

describe('FrameDecoder.partial', () => {
  it('reports a frame cut anywhere: in the header, after it, in the body', () => {
    const d = new FrameDecoder(1000, () => {})
    const b = Buffer.alloc(4 + 10, 1)
    writeLength(b, 0, 10)
    expect(d.partial).toBe(false)
    const seen: boolean[] = []
    for (let i = 0; i < b.length; i++) {
      d.push(b.subarray(i, i + 1))
      seen.push(d.partial)
    }
    // True after each of the first 13 bytes (1..3 header bytes, the header, 1..9 body bytes), false at the end.
    expect(seen).toEqual([...Array(13).fill(true), false])
  })

  it('is false between frames and true once the next one has begun', () => {
    const got: number[] = []
    const d = new FrameDecoder(1000, (b, s, e) => got.push(e - s))
    const b = Buffer.alloc(4 + 3 + 4 + 5)
    writeLength(b, 0, 3)
    writeLength(b, 7, 5)
    d.push(b.subarray(0, 7))
    expect(got).toEqual([3])
    expect(d.partial).toBe(false)
    d.push(b.subarray(7, 9)) // half of the second header
    expect(d.partial).toBe(true)
    d.push(b.subarray(9, 13)) // rest of the header and 2 body bytes
    expect(d.partial).toBe(true)
    d.push(b.subarray(13))
    expect(d.partial).toBe(false)
    expect(got).toEqual([3, 5])
  })

  it('a chunk holding a whole header but only part of the body leaves it partial', () => {
    const d = new FrameDecoder(1000, () => {
      throw new Error('not yet')
    })
    const b = Buffer.alloc(4 + 50)
    writeLength(b, 0, 50)
    d.push(b.subarray(0, 30))
    expect(d.partial).toBe(true)
  })
})

describe('FrameDecoder memory follows the bytes that arrived, not the length declared', () => {
  /** Sizes of the buffers allocated while `f` runs. */
  function allocations(f: () => void): number[] {
    const sizes: number[] = []
    const real = Buffer.allocUnsafe
    const realConcat = Buffer.concat
    // A join is one allocation, whether Buffer.concat asks allocUnsafe for it (Node 20) or not (Node 24).
    let joining = false
    Buffer.allocUnsafe = (n: number) => {
      if (!joining) sizes.push(n)
      return real(n)
    }
    Buffer.concat = (list: readonly Uint8Array[], total?: number) => {
      const joined = (() => {
        joining = true
        try {
          return realConcat(list, total)
        } finally {
          joining = false
        }
      })()
      sizes.push(joined.length)
      return joined
    }
    try {
      f()
    } finally {
      Buffer.allocUnsafe = real
      Buffer.concat = realConcat
    }
    return sizes
  }
  /** A copy of `b` in a buffer of its own (Node's pool is 8 KiB on Node 20 and 64 KiB on Node 24: not under test here). */
  const own = (b: Buffer) => {
    const c = Buffer.from(new ArrayBuffer(b.length))
    b.copy(c)
    return c
  }
  const MiB = 1024 * KB
  const header = (n: number) => {
    const b = Buffer.alloc(4)
    writeLength(b, 0, n)
    return b
  }

  it('a header declaring 64 MiB and one byte of it cost at most one 64 KiB slab; more bytes, what they are', () => {
    const d = new FrameDecoder(64 * MiB, () => {
      throw new Error('not complete')
    })
    const start = own(Buffer.concat([header(64 * MiB), Buffer.of(1)]))
    expect(allocations(() => d.push(start))).toEqual([64 * KB])
    // 1 MiB more in small (copied) pieces: slabs for what came, nothing near 64 MiB.
    const pieces = Array.from({ length: 64 }, (_, i) => Buffer.alloc(16 * KB, i))
    const sizes = allocations(() => {
      for (const p of pieces) d.push(p)
    })
    expect(sizes.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(MiB + 64 * KB)
    expect(d.partial).toBe(true)
  })

  it('pieces in large buffers are kept as views and joined once; a body in one of them is handed over in place', () => {
    const got: Buffer[] = []
    const d = new FrameDecoder(64 * MiB, (b, s, e) => got.push(b.subarray(s, e)))
    const big = (n: number, fill: number) => Buffer.from(new ArrayBuffer(Math.max(n, 64 * KB)), 0, n).fill(fill)
    // large, small (copied), large: under half of the frame before the last piece, which completes it
    const parts = [big(40 * KB, 1), Buffer.alloc(10, 2), big(70 * KB, 3)]
    const len = parts.reduce((a, p) => a + p.length, 0)
    const head = header(len)
    const sizes = allocations(() => {
      d.push(head)
      for (const p of parts) d.push(p)
    })
    expect(got).toHaveLength(1)
    expect(got[0]!.equals(Buffer.concat(parts))).toBe(true)
    expect(sizes).toEqual([64 * KB, len]) // a slab for the small piece's copy, then the join: nothing else
    const body = big(200 * KB, 4)
    const head2 = header(body.length)
    d.push(head2)
    d.push(body)
    expect(got[1]!.buffer).toBe(body.buffer) // not copied
  })

  it('once half of a large frame has arrived it is gathered in one buffer: the pieces are let go of, never joined', async () => {
    const got: Buffer[] = []
    const d = new FrameDecoder(64 * MiB, (b, s, e) => got.push(b.subarray(s, e)))
    const len = 8 * MiB
    // The frame in 64 KiB chunks of their own buffers (as a socket delivers them), kept only as weak references.
    const chunks: WeakRef<ArrayBuffer>[] = []
    const expected = Buffer.alloc(len)
    for (let i = 0; i < len; i += 4096) expected.writeUInt32BE(i, i)
    const push = (from: number, to: number) => {
      for (let at = from; at < to; at += 64 * KB) {
        const c = Buffer.from(new ArrayBuffer(64 * KB))
        expected.copy(c, 0, at, at + c.length)
        chunks.push(new WeakRef(c.buffer))
        d.push(c)
      }
    }
    // Three quarters in: what arrived is in one buffer of the frame's size, allocated when half had come.
    expect(allocations(() => {
      d.push(header(len))
      push(0, (len * 3) / 4)
    })).toEqual([len])
    await new Promise((r) => setImmediate(r)) // a WeakRef holds its target until the end of the job that made it
    globalThis.gc!()
    expect(chunks.filter((w) => w.deref() !== undefined)).toHaveLength(0) // no chunk is kept
    // The rest is copied into that buffer: nothing allocated, no join.
    expect(allocations(() => push((len * 3) / 4, len))).toEqual([])
    expect(got).toHaveLength(1)
    expect(got[0]!.equals(expected)).toBe(true)
    expect(got[0]!.buffer.byteLength).toBe(len)
  })

  it('a header declaring 64 MiB and under half of it allocate no buffer of 64 MiB; half of it does', () => {
    const d = new FrameDecoder(64 * MiB, () => {
      throw new Error('not complete')
    })
    const piece = () => Buffer.from(new ArrayBuffer(MiB))
    d.push(header(64 * MiB))
    const before = allocations(() => {
      for (let i = 0; i < 31; i++) d.push(piece())
    })
    expect(before).toEqual([]) // 31 MiB kept as views: nothing allocated
    expect(allocations(() => d.push(piece()))).toEqual([64 * MiB]) // 32 MiB came: twice that at most
    expect(d.partial).toBe(true)
  })
})
