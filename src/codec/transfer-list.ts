/**
 * Transfer lists: `transfer(value, buffers)` marks a value so that the send that takes it hands the
 * listed ArrayBuffers over instead of copying them, as `postMessage`'s transfer list does. The
 * bytes on the wire are the same; what changes is who owns the memory: after the send the buffers
 * are detached here (byteLength 0), and the bytes go from them to the wire (or to the receiver in
 * this process) without a copy.
 *
 * A buffer ipfi cannot take away from everyone else is copied at the send instead of moved: the
 * pool Node's small Buffers share (Node will not let it go), and a buffer a message arrived in
 * alongside other data (`lend`: a binary decoded in place is a view of the chunk it came in). So a
 * transfer never detaches memory anything but the transferred value refers to.
 */

/** What two loaded copies of ipfi share (a value marked by one may be sent by the other), under a `Symbol.for` key. */
interface TransferState {
  marks: WeakMap<object, ArrayBuffer[]>
  /** Whether any value was ever marked (until then, carrying marks is one check). */
  used: boolean
  lent: WeakSet<ArrayBufferLike>
  alone: WeakSet<ArrayBufferLike>
}
const KEY = Symbol.for('ipfi.transfer')
const state = ((globalThis as { [KEY]?: TransferState })[KEY] ??= { marks: new WeakMap(), used: false, lent: new WeakSet(), alone: new WeakSet() })
const { marks, lent, alone } = state

/** Something a transfer list may name: an ArrayBuffer, or a view of one (Buffer, typed array, DataView); a SharedArrayBuffer is refused when given. */
export type Transferable = ArrayBufferLike | ArrayBufferView

/**
 * Mark `value` so that sending it (`tx.send(value)`, a procedure's argument or result, a stream's
 * item) moves `buffers` rather than copying them; returns `value`. After that send the buffers are
 * detached: their views read as empty, as after `postMessage(value, transfer)`. A view names the
 * whole ArrayBuffer behind it. The mark is taken by the first send of the value that succeeds; a
 * send that throws moves nothing. The bytes sent are the same as without the mark.
 *
 * ```js
 * const [tx, rx] = channel()
 * const data = Buffer.alloc(1 << 20, 7)
 * tx.send(transfer({ data }, [data]))
 * console.log(data.byteLength) // 0
 * console.log((await rx.recv()).data.length) // 1048576
 * ```
 */
export function transfer<T>(value: T, buffers: Iterable<Transferable>): T {
  if ((typeof value !== 'object' && typeof value !== 'function') || value === null) {
    throw new TypeError(`transfer() marks the object to be sent (a message, an argument, a result); got ${value === null ? 'null' : typeof value}`)
  }
  const list = marks.get(value) ?? []
  for (const b of buffers) {
    const ab = b instanceof ArrayBuffer ? b : ArrayBuffer.isView(b) ? b.buffer : undefined
    if (!(ab instanceof ArrayBuffer)) {
      throw new TypeError('transfer() takes ArrayBuffers and views of them (Buffer, typed arrays, DataView); a SharedArrayBuffer is shared by design and cannot be moved')
    }
    if (!list.includes(ab)) list.push(ab)
  }
  marks.set(value, list)
  state.used = true
  return value
}

/** The buffers `value` was marked to transfer (see transfer), if any. */
export function transferListOf(value: unknown): readonly ArrayBuffer[] | undefined {
  if (!state.used) return undefined
  return typeof value === 'object' || typeof value === 'function' ? marks.get(value as object) : undefined
}

/** The send of `value` succeeded: its mark is used up. */
export function clearTransferMark(value: unknown): void {
  marks.delete(value as object)
}

/**
 * Put the marks of `parts` on `whole`, the message that carries them (a procedure's CALL carries
 * its arguments, a RESULT its value); returns `whole`. The parts keep theirs until the message is
 * sent (clearTransferMarks), so a send that fails leaves them marked.
 */
export function carryTransfer<T extends object>(parts: readonly unknown[], whole: T): T {
  if (!state.used) return whole // nothing was ever marked: the common case costs one check
  let list: ArrayBuffer[] | undefined
  for (const p of parts) {
    const l = transferListOf(p)
    if (!l) continue
    list ??= marks.get(whole) ?? []
    for (const ab of l) if (!list.includes(ab)) list.push(ab)
  }
  if (list) marks.set(whole, list)
  return whole
}

/** The message carrying `parts` was sent: their marks are used up. */
export function clearTransferMarks(parts: readonly unknown[]): void {
  if (state.used) for (const p of parts) clearTransferMark(p)
}

// `lent`: buffers a decoded value shares with other data (what it arrived in): copied, never
// detached, by a transfer. `alone`: buffers that hold one arrived frame and nothing else (the
// framing joined it there, or it came by itself in a buffer the wire owned): a value read from one may move it.

/** `buffer` holds one frame and nothing else that anyone reads (see transfer): its binaries may be moved. */
export function markAlone(buffer: ArrayBufferLike): void {
  alone.add(buffer)
}

/** A value was decoded with views of `buffer`: unless the buffer holds that one frame alone, a transfer copies it. */
export function lend(buffer: ArrayBufferLike): void {
  if (!alone.has(buffer)) lent.add(buffer)
}

/**
 * Take each buffer of `list` from its owner: the old one is detached (where it can be) and the
 * map gives, for each, the buffer that now holds its bytes for ipfi alone. A buffer that cannot be
 * moved (Node's pool, a lent buffer) is copied and left as it is.
 */
export function moveBuffers(list: readonly ArrayBuffer[]): Map<ArrayBufferLike, ArrayBuffer> {
  const moved = new Map<ArrayBufferLike, ArrayBuffer>()
  for (const ab of list) {
    if (lent.has(ab)) {
      moved.set(ab, ab.slice(0))
      continue
    }
    let to: ArrayBuffer
    try {
      // Node keeps its rules here: a buffer marked untransferable (the Buffer pool) comes back a copy
      // (Node 20) or throws (newer lines), and is never detached. ArrayBuffer.prototype.transfer would
      // detach it regardless.
      to = structuredClone(ab, { transfer: [ab] })
    } catch {
      to = ab.slice(0)
    }
    moved.set(ab, to)
  }
  return moved
}

/**
 * Where a binary lies: its buffer and byte range, read before that buffer moves (a view of a
 * detached buffer reads as empty), and the same binary seen again in the buffer that took the bytes over.
 */
export class Place {
  readonly buffer: ArrayBuffer
  readonly offset: number
  readonly length: number
  readonly #binary: ArrayBuffer | ArrayBufferView

  constructor(binary: ArrayBuffer | ArrayBufferView) {
    this.#binary = binary
    if (binary instanceof ArrayBuffer) {
      this.buffer = binary
      this.offset = 0
      this.length = binary.byteLength
    } else {
      this.buffer = binary.buffer as ArrayBuffer
      this.offset = binary.byteOffset
      this.length = binary.byteLength
    }
  }

  /** The binary of the same kind over the same bytes, in the buffer `moved` gives for its own (itself if none). */
  in(moved: ReadonlyMap<ArrayBufferLike, ArrayBuffer>): ArrayBuffer | ArrayBufferView {
    const b = this.#binary
    const to = moved.get(this.buffer)
    if (!to) return b
    if (b instanceof ArrayBuffer) return to
    if (b instanceof DataView) return new DataView(to, this.offset, this.length)
    if (Buffer.isBuffer(b)) return Buffer.from(to, this.offset, this.length)
    const Ctor = b.constructor as new (buffer: ArrayBuffer, offset: number, length: number) => ArrayBufferView
    return new Ctor(to, this.offset, this.length / (b as unknown as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT)
  }
}

/** The ArrayBuffer behind a binary. */
export function bufferOf(b: ArrayBuffer | ArrayBufferView): ArrayBuffer {
  return b instanceof ArrayBuffer ? b : (b.buffer as ArrayBuffer)
}
