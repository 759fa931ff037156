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

/**
 * Splits a byte stream into frame bodies; input may be cut anywhere. A frame that spans chunks is
 * joined once, when it is complete (a 1 MiB frame arrives in many chunks).
 */
export class FrameReader {
  constructor(onFrame) {
    this.onFrame = onFrame
    this.chunks = [] // a partial frame, not yet joined
    this.have = 0 // bytes in chunks
    this.need = 0 // bytes the partial frame needs in all (0: not known yet)
  }

  push(chunk) {
    let buf = chunk
    if (this.have) {
      this.chunks.push(chunk)
      this.have += chunk.length
      if (this.need === 0 && this.have >= 4) this.need = 4 + Buffer.concat(this.chunks, 4).readUInt32BE(0)
      if (this.need === 0 || this.have < this.need) return
      buf = Buffer.concat(this.chunks, this.have)
      this.chunks = []
      this.have = 0
      this.need = 0
    }
    let off = 0
    while (buf.length - off >= 4) {
      const len = buf.readUInt32BE(off)
      if (buf.length - off - 4 < len) break
      this.onFrame(buf.subarray(off + 4, off + 4 + len))
      off += 4 + len
    }
    if (off < buf.length) {
      const rest = buf.subarray(off)
      this.chunks = [rest]
      this.have = rest.length
      this.need = rest.length >= 4 ? 4 + rest.readUInt32BE(0) : 0
    }
  }

  get partial() {
    return this.have !== 0
  }
}
