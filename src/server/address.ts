/**
 * Server addresses: `unix:/path/to/socket`, `tcp://host:port`, `tls://host:port`. A host left out
 * (`tcp://:7000`) is the loopback address; a port of 0 asks the system for a free one.
 * `nats://host:port/name` names a service on a NATS server (several, comma-separated, for a
 * cluster: `nats://h1:4222,h2:4222/name`); a host left out is loopback, a port left out 4222.
 */
export type Address =
  | { kind: 'unix'; path: string }
  | { kind: 'tcp' | 'tls'; host: string; port: number }
  | { kind: 'nats'; servers: string[]; name: string }

const NATS_NAME = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/
const NATS_SERVER = /^(\[[0-9a-fA-F:.]+\]|[^:/[\],@]*)(?::(\d{1,5}))?$/

function parseNats(address: string): Address {
  const rest = address.slice('nats://'.length)
  const slash = rest.indexOf('/')
  const name = slash < 0 ? '' : rest.slice(slash + 1)
  if (!NATS_NAME.test(name)) {
    throw new TypeError(`no service name in ${JSON.stringify(address)} (use nats://host:port/name; a name is NATS subject tokens: letters, digits, _ and -, dot-separated)`)
  }
  const servers = rest
    .slice(0, slash)
    .split(',')
    .map((s) => {
      const m = NATS_SERVER.exec(s)
      if (!m) throw new TypeError(`not a NATS server in ${JSON.stringify(address)}: ${JSON.stringify(s)} (use host:port; credentials go in options.nats.connection)`)
      const port = m[2] === undefined ? 4222 : Number(m[2])
      if (port < 1 || port > 65535) throw new TypeError(`port out of range in ${JSON.stringify(address)}`)
      return `${m[1] || '127.0.0.1'}:${port}`
    })
  return { kind: 'nats', servers, name }
}

export function parseAddress(address: string): Address {
  if (typeof address !== 'string') throw new TypeError('an address is a string such as "unix:/run/app.sock" or "tcp://127.0.0.1:7000"')
  if (address.startsWith('unix:')) {
    const path = address.slice(5)
    if (!path) throw new TypeError(`no socket path in ${JSON.stringify(address)}`)
    return { kind: 'unix', path }
  }
  if (address.startsWith('nats://')) return parseNats(address)
  const m = /^(tcp|tls):\/\/(\[[0-9a-fA-F:.]+\]|[^:/[\]]*):(\d{1,5})$/.exec(address)
  if (!m) throw new TypeError(`not an ipfi address: ${JSON.stringify(address)} (use unix:/path, tcp://host:port, tls://host:port or nats://host:port/name)`)
  const port = Number(m[3])
  if (port > 65535) throw new TypeError(`port out of range in ${JSON.stringify(address)}`)
  let host = m[2]!
  if (host.startsWith('[')) host = host.slice(1, -1)
  return { kind: m[1] as 'tcp' | 'tls', host: host || '127.0.0.1', port }
}

export function formatAddress(a: Address): string {
  if (a.kind === 'unix') return `unix:${a.path}`
  if (a.kind === 'nats') return `nats://${a.servers.join(',')}/${a.name}`
  return `${a.kind}://${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}`
}
