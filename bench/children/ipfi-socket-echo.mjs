// ipfi echo child over a Unix socket: connect to the path in argv[2], speak ipfi with
// connectWire(duplexWire(socket)), echo on the link's bootstrap channels until the parent closes
// its sender, then close the link and end.
import net from 'node:net'
import { ConnectionLostError, DisconnectedError, connectWire, duplexWire } from 'ipfi'

const path = process.argv[2]
if (!path) throw new Error('usage: ipfi-socket-echo.mjs <socket path>')
const conn = connectWire(duplexWire(net.connect(path)), { name: 'bench socket child' })
for (;;) {
  let m
  try {
    m = await conn.receiver.recv()
  } catch (e) {
    if (e instanceof DisconnectedError && !(e instanceof ConnectionLostError)) break
    throw e
  }
  conn.sender.send(m)
}
conn.sender.close()
conn.close('echo done')
