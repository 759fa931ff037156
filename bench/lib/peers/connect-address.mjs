// Child side of bench/lib/open/socket-child.mjs: connect to 'unix:/path' or 'tcp://host:port' (Node's defaults,
// Nagle's algorithm on, as ipfi's own connect()).
import net from 'node:net'

export function connectAddress(address) {
  if (address?.startsWith('unix:')) return net.connect(address.slice(5))
  const m = /^tcp:\/\/([^:]+):(\d+)$/.exec(address ?? '')
  if (!m) throw new Error(`expected unix:/path or tcp://host:port, got ${address}`)
  return net.connect(Number(m[2]), m[1])
}
