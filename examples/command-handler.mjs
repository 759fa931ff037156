// @ts-check
// A typed command handler in a child process, after the ipc-server crate's example: commands are a
// discriminated union, each has a handler `(command, ctx) => response` that works on the server's
// own context (a stack), and the caller gets the response type of the command it sent.
//
//   npx tsup && node examples/command-handler.mjs
//
// This one file is both sides: run plainly it is the client and forks itself with `serve`.
import { expose, fork, parent, remote } from 'ipfi'

/**
 * What each command carries, and what it answers.
 * @typedef {{ print: { payload: string }, add: { a: number, b: number }, push: { x: number } }} Payloads
 * @typedef {{ print: { printed: true }, add: { sum: number }, push: { stack: number[] } }} Responses
 */
/**
 * The commands: `{ type: 'print', payload } | { type: 'add', a, b } | { type: 'push', x }`, or only those of type K.
 * @template {keyof Payloads} [K=keyof Payloads]
 * @typedef {{ [P in K]: { type: P } & Payloads[P] }[K]} Command
 */
/** The server's state, handed to every handler. @typedef {{ stack: number[], handled: number }} Context */
/** One handler per command. @typedef {{ [P in keyof Payloads]: (command: Command<P>, ctx: Context) => Responses[P] }} Handler */
/** What the server exposes: each command by name. @typedef {{ [P in keyof Payloads]: (command: Command<P>) => Responses[P] }} Server */
/** What the client sees (what `remote()` gives for a Server). @typedef {{ [P in keyof Payloads]: (command: Command<P>) => Promise<Responses[P]> }} Client */

if (process.argv[2] === 'serve') {
  // ----- the server (the forked child) -----
  /** @type {Handler} */
  const handler = {
    print({ payload }, ctx) {
      console.log(`  server: print "${payload}" (stack [${ctx.stack}])`)
      return { printed: true }
    },
    add: ({ a, b }) => ({ sum: a + b }),
    push({ x }, ctx) {
      if (!Number.isInteger(x) || x < 0) throw Object.assign(new RangeError(`push takes a non-negative integer, got ${x}`), { code: 'E_BAD_ARG' })
      ctx.stack.push(x)
      return { stack: [...ctx.stack] }
    },
  }
  /** @type {Context} */
  const ctx = { stack: [], handled: 0 }

  /**
   * Run any command with its handler (the match of ipc-server's `process(self, context)`).
   * @template {keyof Payloads} K
   * @param {Command<K>} command
   * @returns {Responses[K]}
   */
  const processCommand = (command) => {
    ctx.handled++
    return handler[command.type](command, ctx)
  }
  /** @type {Server} */
  const server = { print: processCommand, add: processCommand, push: processCommand }

  /** @type {import('ipfi').ParentEnds<never, import('ipfi').Endpoint<Server>>} */
  const { sender } = await parent()
  sender.send(expose(server)) // served until the client lets go; then this process ends
} else {
  // ----- the client (the parent) -----
  /** @type {import('ipfi').ChildProcessHandle<never, import('ipfi').Endpoint<Server>>} */
  const child = fork(new URL(import.meta.url), { args: ['serve'] })
  const endpoint = await child.receiver.recv()
  const proxy = remote(endpoint) // Remote<Server>
  endpoint.close()
  /** @type {Client} */
  const client = proxy

  /**
   * Send any command; the response has that command's type.
   * @template {keyof Payloads} K
   * @param {Command<K>} command
   * @returns {Promise<Responses[K]>}
   */
  const send = (command) => client[command.type](command)

  const { sum } = await send({ type: 'add', a: 2, b: 40 }) // { sum: number }
  console.log(`add 2 40 -> sum ${sum}`)
  for (const x of [1, 2, 3]) {
    const { stack } = await send({ type: 'push', x }) // { stack: number[] }
    console.log(`push ${x} -> stack [${stack}]`)
  }
  const { printed } = await send({ type: 'print', payload: 'hello' }) // { printed: true }
  console.log(`print -> printed ${printed}`)

  // A list of mixed commands is a Command[]; each response is one of Responses[keyof Payloads].
  /** @type {Command[]} */
  const script = [{ type: 'push', x: 4 }, { type: 'add', a: 1, b: 1 }]
  console.log('script ->', JSON.stringify(await Promise.all(script.map(send))))

  // A handler that throws: the error arrives with its class, message and code.
  try {
    await send({ type: 'push', x: -1 })
  } catch (e) {
    const err = /** @type {RangeError & { code: string }} */ (e)
    console.log(`push -1 -> ${err.name} (${err.code}): ${err.message}`)
  }

  proxy[Symbol.dispose]() // the server has nothing left to serve and ends
  const { code } = await child.exited
  console.log(`server exited with code ${code}`)
}
