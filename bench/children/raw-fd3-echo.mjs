// Raw baseline, child process with an extra pipe on fd 3 (a Unix socketpair): the framed echo
// (bench/lib/peers/framed-echo.mjs). Exits once the parent ends the stream.
import net from 'node:net'
import { framedEcho } from '../lib/peers/framed-echo.mjs'

framedEcho(new net.Socket({ fd: 3, readable: true, writable: true }), 'raw-fd3-echo')
