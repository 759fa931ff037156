// Parent side of the raw framed baselines: a transport over a byte stream `sock` (fd-3 pipe, Unix
// socket, TCP) whose peer is bench/lib/peers/framed-echo.mjs. `child` is the peer process; close() ends the stream
// and waits for it to exit.
import { FrameReader, decodeBody, encodeFrame } from '../peers/raw-wires.mjs'
import { waitExit, watchExit } from './procs.mjs'

export function framedTransport(sock, child, sink, what) {
  const watch = watchExit(child, sink, what)
  const reader = new FrameReader((body) => sink.deliver(decodeBody(body)))
  sock.on('data', (chunk) => reader.push(chunk))
  sock.on('error', (e) => watch.closing || sink.fail(e))
  return {
    send: (m) => sock.write(encodeFrame(m)),
    async close() {
      watch.closing = true
      sock.end()
      const exit = await waitExit(child)
      sock.destroy()
      return [{ what, ...exit }]
    },
  }
}
