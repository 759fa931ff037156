// @ts-check
// A client: each command is one call (connect, send, wait for the answer once the server polls).
//   node examples/command-server/client.mjs unix:/path/to/server.sock [name]
import { commandClient } from 'ipfi'

/** @typedef {import('./commands.mjs').Commands} Commands */
/** @typedef {import('./commands.mjs').Responses} Responses */

const [address, name = 'client'] = process.argv.slice(2)
if (!address) throw new Error('usage: client.mjs <address> [name]')

/** @type {import('ipfi').CommandSender<Commands, Responses>} */
const send = commandClient(address)

const printed = await send({ type: 'print', text: `hello from ${name}` }) // null
const sum = await send({ type: 'add', a: name.length, b: 40 }) // number
const stack = await send({ type: 'push', value: sum }) // number[]
console.log(`[${name}] print -> ${printed}, add -> ${sum}, push -> stack of ${stack.length}`)
