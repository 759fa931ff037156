// Raw baseline, child process with an extra pipe on fd 3 (a Unix socketpair): decode each
// length-prefixed msgpackr frame and write it back re-encoded, one write per message.
// A stats request (payload scenarios) is answered with this process's memory figures.
// Exits once the parent ends the stream.
import net from 'node:net'
import { FrameReader, decodeBody, encodeFrame } from '../lib/raw-wires.mjs'
import { isStatsRequest, usage } from '../lib/usage.mjs'

const sock = new net.Socket({ fd: 3, readable: true, writable: true })
const reader = new FrameReader((body) => {
  const m = decodeBody(body)
  sock.write(encodeFrame(isStatsRequest(m) ? usage() : m))
})
sock.on('data', (chunk) => reader.push(chunk))
sock.on('end', () => sock.end())
sock.on('error', (e) => {
  console.error('raw-fd3-echo:', e)
  process.exitCode = 1
})
