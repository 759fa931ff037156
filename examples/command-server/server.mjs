// @ts-check
// A lazy command server: clients' commands wait until the application's own loop calls poll().
//   node examples/command-server/server.mjs            (starts three client processes to show it)
import { fork } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { commandServer } from 'ipfi'

/** @typedef {import('./commands.mjs').Commands} Commands */
/** @typedef {import('./commands.mjs').Responses} Responses */
/** @typedef {import('./commands.mjs').Context} Context */

const address = `unix:${join(mkdtempSync(join(tmpdir(), 'commands-')), 'server.sock')}`

/** @type {import('ipfi').CommandServer<Commands, Responses, Context>} */
const server = await commandServer(address, {
  print(command, ctx) {
    ctx.printed.push(command.text)
    console.log(`[server] print: ${command.text}`)
    return null
  },
  add: (command) => command.a + command.b,
  push(command, ctx) {
    ctx.stack.push(command.value)
    return [...ctx.stack]
  },
})

/** @type {Context} */
const context = { stack: [], printed: [] }

// Three clients, in three processes, each sending commands with one call apiece.
const clients = [1, 2, 3].map((i) => fork(new URL('./client.mjs', import.meta.url), [address, String(i)]))
let running = clients.length
for (const c of clients) c.on('exit', () => running--)

// The application's own loop: nothing is handled between polls.
let tick = 0
while (running > 0 || server.pending > 0) {
  await new Promise((r) => setTimeout(r, 50))
  const handled = server.poll(context)
  if (handled) console.log(`[server] tick ${++tick}: handled ${handled} command${handled === 1 ? '' : 's'}`)
}
console.log(`[server] stack at the end: ${context.stack.length} values, printed ${context.printed.length} lines`)
await server.close()
