// Raw baselines: a child process connected over a Unix socket, or loopback TCP, with the same
// framing as the fd-3 pipe (4-byte length + msgpackr, one write per message).
import { framedTransport } from '../lib/open/framed-transport.mjs'
import { acceptChild } from '../lib/open/socket-child.mjs'

const rawSocket = (wire) => ({
  id: wire === 'unix' ? 'raw-unix-socket' : 'raw-tcp',
  label: `${wire === 'unix' ? 'Unix socket' : 'loopback TCP'}, length + msgpackr`,
  impl: 'raw',
  kind: 'process',
  type: 'echo',
  raw: 'raw-fd3-msgpackr',
  compareWith: ['raw-fd3-msgpackr'],
  async open(sink) {
    const { child, socket } = await acceptChild('raw-socket-echo.mjs', wire)
    return framedTransport(socket, child, sink, `${wire} socket echo child`)
  },
})

export const rawUnixSocket = rawSocket('unix')
export const rawTcp = rawSocket('tcp')
