// ipfi echo child over a socket: connect to the address in argv[2] (unix:/path), speak ipfi with
// connectWire(duplexWire(socket)), echo on the link's bootstrap channels until the parent closes
// its sender, then close the link and end.
import { ConnectionLostError, DisconnectedError, connectWire, duplexWire } from 'ipfi'
import { connectAddress } from '../lib/connect-address.mjs'

const conn = connectWire(duplexWire(connectAddress(process.argv[2])), { name: 'bench socket child' })
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
