/**
 * Listen on a fresh Unix socket path or loopback TCP port, start a plain node child
 * (bench/children/<file>) that connects to the address given in its argv ('unix:/path' or
 * 'tcp://127.0.0.1:port', see bench/lib/peers/connect-address.mjs), accept that one connection and stop
 * listening. Used by the raw socket baselines and ipfi's connectWire Unix socket scenario.
 */
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { rmSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { childPath, track, withDeadline } from './procs.mjs'

let seq = 0

/** wire: 'unix' or 'tcp'. Returns { child, socket } once the child is connected. */
export async function acceptChild(file, wire) {
  const server = net.createServer()
  let address
  let path = null
  if (wire === 'unix') {
    path = join(tmpdir(), `ipfi-bench-${process.pid}-${Date.now()}-${seq++}.sock`)
    rmSync(path, { force: true })
    server.listen(path)
    await once(server, 'listening')
    address = `unix:${path}`
  } else {
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    address = `tcp://127.0.0.1:${server.address().port}`
  }
  const accepted = once(server, 'connection')
  const child = track(
    spawn(process.execPath, [childPath(file), address], {
      stdio: ['ignore', 'inherit', 'inherit'],
    }),
  )
  try {
    const [socket] = await withDeadline(accepted, 15_000, () => Promise.reject(new Error(`${file} did not connect to ${address} within 15 s`)))
    return { child, socket, address }
  } catch (e) {
    child.kill('SIGKILL')
    throw e
  } finally {
    server.close() // stop listening; the accepted connection stays
    if (path) rmSync(path, { force: true })
  }
}
