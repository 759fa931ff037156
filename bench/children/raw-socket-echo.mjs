// Raw baseline, child process connected over a Unix socket or loopback TCP to the address in
// argv[2]: the framed echo (bench/lib/peers/framed-echo.mjs). Exits once the parent ends the stream.
import { connectAddress } from '../lib/peers/connect-address.mjs'
import { framedEcho } from '../lib/peers/framed-echo.mjs'

framedEcho(connectAddress(process.argv[2]), 'raw-socket-echo')
