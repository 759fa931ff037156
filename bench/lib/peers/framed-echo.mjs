// The raw echo peer over any byte stream (fd-3 pipe, Unix socket, TCP): decode each
// length-prefixed msgpackr frame and write it back re-encoded, one write per message. A stats
// request (payload scenarios) is answered with this process's memory figures. Ends its side once
// the parent ends the stream.
import { FrameReader, decodeBody, encodeFrame } from './raw-wires.mjs'
import { isStatsRequest, usage } from './usage.mjs'

export function framedEcho(sock, name) {
  const reader = new FrameReader((body) => {
    const m = decodeBody(body)
    sock.write(encodeFrame(isStatsRequest(m) ? usage() : m))
  })
  sock.on('data', (chunk) => reader.push(chunk))
  sock.on('end', () => sock.end())
  sock.on('error', (e) => {
    console.error(`${name}:`, e)
    process.exitCode = 1
  })
}
