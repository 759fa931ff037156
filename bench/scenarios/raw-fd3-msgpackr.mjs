// Raw baseline: a child process with an extra pipe on fd 3 (Node makes it a Unix socketpair),
// 4-byte length framing + msgpackr, one write per message. Written minimal on purpose.
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { FrameReader, decodeBody, encodeFrame } from '../lib/raw-wires.mjs'
import { track, waitExit } from '../lib/procs.mjs'

export default {
  id: 'raw-fd3-msgpackr',
  label: 'fd-3 pipe, length + msgpackr',
  impl: 'raw',
  kind: 'process',
  type: 'echo',
  async open(sink) {
    const child = track(
      spawn(process.execPath, [fileURLToPath(new URL('../children/raw-fd3-echo.mjs', import.meta.url))], {
        stdio: ['ignore', 'inherit', 'inherit', 'pipe'],
      }),
    )
    let closing = false
    child.on('exit', (code, signal) => closing || sink.fail(new Error(`fd-3 echo child exited early (${code ?? signal})`)))
    const sock = child.stdio[3]
    const reader = new FrameReader((body) => sink.deliver(decodeBody(body)))
    sock.on('data', (chunk) => reader.push(chunk))
    sock.on('error', (e) => closing || sink.fail(e))
    await once(child, 'spawn')
    return {
      send: (m) => sock.write(encodeFrame(m)),
      async close() {
        closing = true
        sock.end()
        const exit = await waitExit(child)
        sock.destroy()
        return [{ what: 'fd-3 echo child', ...exit }]
      },
    }
  },
}
