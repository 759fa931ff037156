// ipfi over a Unix socket: connectWire(duplexWire(socket)) on both ends; the echo child is a
// plain spawned node process that connects to our server.
import { connectWire, duplexWire } from 'ipfi'
import { pump } from '../lib/peers/ipfi-pump.mjs'
import { waitExit, watchExit, withDeadline } from '../lib/open/procs.mjs'
import { acceptChild } from '../lib/open/socket-child.mjs'

/** This process's ipfi end of a socket whose other end is `child` (a JS or a Python peer). */
export async function ipfiOverSocket({ child, socket }, sink, what) {
  const watch = watchExit(child, sink, what)
  const conn = connectWire(duplexWire(socket), { name: `bench ${what}` })
  await conn.ready
  const main = pump(conn.receiver, sink.deliver, sink.fail)
  return {
    send: (m) => conn.sender.send(m),
    async close() {
      watch.closing = true
      main.stop()
      conn.sender.close() // the child's loop ends, it closes the link and exits
      const e = await waitExit(child)
      await withDeadline(conn.closed, 5000, () => undefined)
      conn.close()
      conn.receiver.close()
      return [{ what, ...e }]
    },
  }
}

export default {
  id: 'ipfi-unix-socket',
  label: 'ipfi connectWire, Unix socket',
  impl: 'ipfi',
  kind: 'process',
  type: 'echo',
  raw: 'raw-unix-socket',
  compareWith: ['raw-unix-socket', 'raw-fd3-msgpackr', 'raw-ipc-json'],
  open: async (sink) => ipfiOverSocket(await acceptChild('ipfi-socket-echo.mjs', 'unix'), sink, 'ipfi socket echo child'),
}
