// ipfi over a Unix socket: connectWire(duplexWire(socket)) on both ends; the echo child is a
// plain spawned node process that connects to our server.
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { rmSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { connectWire, duplexWire } from 'ipfi'
import { pump } from '../lib/ipfi-pump.mjs'
import { track, waitExit, withDeadline } from '../lib/procs.mjs'

export default {
  id: 'ipfi-unix-socket',
  label: 'ipfi connectWire, Unix socket',
  impl: 'ipfi',
  kind: 'process',
  type: 'echo',
  compareWith: ['raw-fd3-msgpackr', 'raw-ipc-json'],
  async open(sink) {
    const path = join(tmpdir(), `ipfi-bench-${process.pid}-${Date.now()}.sock`)
    rmSync(path, { force: true })
    const server = net.createServer()
    server.listen(path)
    await once(server, 'listening')
    const child = track(
      spawn(process.execPath, [fileURLToPath(new URL('../children/ipfi-socket-echo.mjs', import.meta.url)), path], {
        stdio: ['ignore', 'inherit', 'inherit'],
      }),
    )
    let closing = false
    child.on('exit', (code, signal) => closing || sink.fail(new Error(`socket echo child exited early (${code ?? signal})`)))
    const accepted = once(server, 'connection')
    const [socket] = await withDeadline(accepted, 15_000, () =>
      Promise.reject(new Error('the socket echo child did not connect within 15 s')),
    )
    server.close() // stop listening; the accepted connection stays
    rmSync(path, { force: true })
    const conn = connectWire(duplexWire(socket), { name: 'bench socket parent' })
    await conn.ready
    const main = pump(conn.receiver, sink.deliver, sink.fail)
    return {
      send: (m) => conn.sender.send(m),
      async close() {
        closing = true
        main.stop()
        conn.sender.close() // the child's loop ends, it closes the link and exits
        const e = await waitExit(child)
        await withDeadline(conn.closed, 5000, () => undefined)
        conn.close()
        conn.receiver.close()
        return [{ what: 'ipfi socket echo child', ...e }]
      },
    }
  },
}
