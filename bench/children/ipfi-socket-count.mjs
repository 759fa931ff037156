// ipfi one-way child over a socket: connect to the address in argv[2], count what arrives on the
// link's bootstrap channel, answer the end marker with the count (bench/lib/peers/oneway-count.mjs),
// until the parent closes its sender; then close the link and end.
import { connectWire, duplexWire } from 'ipfi'
import { connectAddress } from '../lib/peers/connect-address.mjs'
import { drain } from '../lib/peers/ipfi-pump.mjs'
import { counter } from '../lib/peers/oneway-count.mjs'

const conn = connectWire(duplexWire(connectAddress(process.argv[2])), { name: 'bench socket counting child' })
await drain(conn.receiver, counter((r) => conn.sender.send(r)))
conn.sender.close()
conn.close('count done')
