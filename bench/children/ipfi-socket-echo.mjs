// ipfi echo child over a socket: connect to the address in argv[2] (unix:/path), speak ipfi with
// connectWire(duplexWire(socket)), echo on the link's bootstrap channels until the parent closes
// its sender, then close the link and end.
import { connectWire, duplexWire } from 'ipfi'
import { connectAddress } from '../lib/peers/connect-address.mjs'
import { drain } from '../lib/peers/ipfi-pump.mjs'

const conn = connectWire(duplexWire(connectAddress(process.argv[2])), { name: 'bench socket child' })
await drain(conn.receiver, (m) => conn.sender.send(m))
conn.sender.close()
conn.close('echo done')
