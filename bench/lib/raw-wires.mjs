/**
 * The raw byte-wire baseline, written as plainly as possible: each message is msgpackr-encoded
 * (plain MessagePack, no records, as ipfi's codec) behind a 4-byte big-endian length, one write
 * per message, no coalescing. Used by the parent (bench/scenarios/raw-fd3-msgpackr.mjs) and by
 * the echo child (bench/children/raw-fd3-echo.mjs).
 */
import { Packr, Unpackr } from 'msgpackr'

const packr = new Packr({ useRecords: false })
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true })

/** One frame: length prefix + MessagePack body, in a buffer of its own. */
export function encodeFrame(value) {
  const body = packr.pack(value) // a view into msgpackr's reused buffer: copy it out
  const frame = Buffer.allocUnsafe(4 + body.length)
  frame.writeUInt32BE(body.length, 0)
  body.copy(frame, 4)
  return frame
}

export function decodeBody(bytes) {
  return unpackr.unpack(bytes)
}

/** Splits a byte stream into frame bodies; input may be cut anywhere. */
export class FrameReader {
  constructor(onFrame) {
    this.onFrame = onFrame
    this.pending = null
  }

  push(chunk) {
    const buf = this.pending ? Buffer.concat([this.pending, chunk]) : chunk
    let off = 0
    while (buf.length - off >= 4) {
      const len = buf.readUInt32BE(off)
      if (buf.length - off - 4 < len) break
      this.onFrame(buf.subarray(off + 4, off + 4 + len))
      off += 4 + len
    }
    this.pending = off < buf.length ? buf.subarray(off) : null
  }

  get partial() {
    return this.pending !== null
  }
}
