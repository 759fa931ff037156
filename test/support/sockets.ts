/**
 * Real sockets for tests: a server that takes one connection (a Unix socket on a fresh tmp path, or
 * loopback TCP), and a connected pair made with it. The server stops listening once it accepted;
 * the caller destroys the sockets.
 */
import { randomUUID } from 'node:crypto'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'

export type SocketKind = 'unix' | 'tcp'

/** Where to connect (a path for a Unix socket, a port on 127.0.0.1 for TCP), and the one socket accepted there. */
export interface ListeningOnce {
  address: string | number
  accepted: Promise<net.Socket>
}

export async function listenOnce(kind: SocketKind): Promise<ListeningOnce> {
  const server = net.createServer()
  const accepted = new Promise<net.Socket>((resolve) =>
    server.once('connection', (s) => {
      server.unref().close() // (it closes on the next turn: till then it should not hold the event loop)
      resolve(s)
    }),
  )
  const where = kind === 'unix' ? path.join(os.tmpdir(), `ipfi-test-${process.pid}-${randomUUID().slice(0, 8)}.sock`) : { port: 0, host: '127.0.0.1' }
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(where, resolve)
  })
  return { address: kind === 'unix' ? (where as string) : (server.address() as net.AddressInfo).port, accepted }
}

/** A socket connected to `address` (see ListeningOnce). */
export async function connectTo(address: string | number): Promise<net.Socket> {
  const socket = typeof address === 'string' ? net.connect(address) : net.connect(address, '127.0.0.1')
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve)
    socket.once('error', reject)
  })
  return socket
}

/** Two connected sockets: [the one that connected, the one accepted]. */
export async function socketPair(kind: SocketKind): Promise<[net.Socket, net.Socket]> {
  const { address, accepted } = await listenOnce(kind)
  const client = await connectTo(address)
  return [client, await accepted]
}
