/**
 * Server addresses: `unix:/path/to/socket`, `tcp://host:port`, `tls://host:port`. A host left out
 * (`tcp://:7000`) is the loopback address; a port of 0 asks the system for a free one.
 */
export type Address =
  | { kind: 'unix'; path: string }
  | { kind: 'tcp' | 'tls'; host: string; port: number }

export function parseAddress(address: string): Address {
  if (typeof address !== 'string') throw new TypeError('an address is a string such as "unix:/run/app.sock" or "tcp://127.0.0.1:7000"')
  if (address.startsWith('unix:')) {
    const path = address.slice(5)
    if (!path) throw new TypeError(`no socket path in ${JSON.stringify(address)}`)
    return { kind: 'unix', path }
  }
  const m = /^(tcp|tls):\/\/(\[[0-9a-fA-F:.]+\]|[^:/[\]]*):(\d{1,5})$/.exec(address)
  if (!m) throw new TypeError(`not an ipfi address: ${JSON.stringify(address)} (use unix:/path, tcp://host:port or tls://host:port)`)
  const port = Number(m[3])
  if (port > 65535) throw new TypeError(`port out of range in ${JSON.stringify(address)}`)
  let host = m[2]!
  if (host.startsWith('[')) host = host.slice(1, -1)
  return { kind: m[1] as 'tcp' | 'tls', host: host || '127.0.0.1', port }
}

export function formatAddress(a: Address): string {
  if (a.kind === 'unix') return `unix:${a.path}`
  return `${a.kind}://${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}`
}
