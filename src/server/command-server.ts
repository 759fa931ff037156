/**
 * The lazy command server (ipc-server's model): clients send typed commands; nothing handles them
 * until the application calls `server.poll(context)` from its own loop, which runs every queued
 * command with that context and answers each client. The server does no work of its own between
 * polls: it only accepts connections and queues what arrives.
 */
import { channel, Receiver, Sender } from '../channel/index.js'
import { LimitExceededError } from '../errors.js'
import { lookup } from '../procedures/lookup.js'
import { fromRemote } from '../procedures/remote-error.js'
import { connect, type ConnectOptions } from './connect.js'
import { listen, type ListenOptions, type Server } from './listen.js'

/** A command is a discriminated union on `type`. */
export type Command = { type: string }

/** One handler per command type, given the command and the context passed to `poll()`. */
export type CommandHandlers<C extends Command, R extends { [K in C['type']]: unknown }, Ctx> = {
  [K in C['type']]: (command: Extract<C, { type: K }>, context: Ctx) => R[K] | Promise<R[K]>
}

type Reply = [ok: true, value: unknown] | [ok: false, error: unknown]
interface Envelope {
  command: unknown
  reply: Sender<Reply>
}

export interface CommandServerOptions extends ListenOptions {
  /** Most commands waiting for `poll()`; more are answered at once with LimitExceededError. Default 10,000. */
  maxQueued?: number
}

export class CommandServer<C extends Command, R extends { [K in C['type']]: unknown }, Ctx> {
  readonly #queue: Envelope[] = []
  readonly #server: Server<never, Envelope>
  readonly #handlers: CommandHandlers<C, R, Ctx>
  readonly #maxQueued: number

  /** @internal use commandServer() */
  constructor(server: Server<never, Envelope>, handlers: CommandHandlers<C, R, Ctx>, maxQueued: number) {
    this.#server = server
    this.#handlers = handlers
    this.#maxQueued = maxQueued
    void this.#accept()
  }

  /** Where clients send commands. */
  get address(): string {
    return this.#server.address
  }

  /** Commands waiting for the next poll. */
  get pending(): number {
    return this.#queue.length
  }

  async #accept(): Promise<void> {
    for await (const peer of this.#server) {
      void (async () => {
        for await (const m of peer.receiver) {
          const reply = (m as Partial<Envelope> | null)?.reply
          if (!(reply instanceof Sender)) continue // not a command envelope: nothing to answer on
          if (this.#queue.length >= this.#maxQueued) {
            answer(reply, [false, new LimitExceededError(`more than maxQueued (${this.#maxQueued}) commands are waiting`)])
            continue
          }
          this.#queue.push(m as Envelope)
        }
      })().catch(() => {}) // the client went away: its queued commands are still answered (into the void)
    }
  }

  /**
   * Handle every command queued now, in arrival order, with `context`; answer each client. Returns
   * how many were handled. A handler that returns a Promise answers when it settles (poll does not
   * wait for it); a handler that throws answers with the error.
   */
  poll(context: Ctx): number {
    const batch = this.#queue.splice(0)
    for (const { command, reply } of batch) {
      let out: unknown
      try {
        const type = (command as Partial<Command> | null)?.type
        const handler = lookup(this.#handlers, type) as (c: unknown, ctx: Ctx) => unknown
        out = handler.call(this.#handlers, command, context)
      } catch (e) {
        answer(reply, [false, e])
        continue
      }
      if (out instanceof Promise) out.then((v) => answer(reply, [true, v]), (e) => answer(reply, [false, e]))
      else answer(reply, [true, out])
    }
    return batch.length
  }

  /** Stop accepting, close every client (commands still queued are dropped). */
  async close(): Promise<void> {
    for (const { reply } of this.#queue.splice(0)) reply.close()
    await this.#server.close()
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }
}

function answer(reply: Sender<Reply>, r: Reply): void {
  try {
    reply.send(r)
  } catch (e) {
    // The client is gone, or the response cannot travel: say why if we still can.
    if (r[0]) {
      try {
        reply.send([false, e])
      } catch {
        // gone
      }
    }
  } finally {
    reply.close()
  }
}

/** Listen at `address` for commands that `handlers` will handle, each time the application polls. */
export async function commandServer<C extends Command, R extends { [K in C['type']]: unknown }, Ctx = undefined>(
  address: string,
  handlers: CommandHandlers<C, R, Ctx>,
  options: CommandServerOptions = {},
): Promise<CommandServer<C, R, Ctx>> {
  const { maxQueued = 10_000, ...listenOptions } = options
  const server = await listen<never, Envelope>(address, listenOptions)
  return new CommandServer<C, R, Ctx>(server, handlers, maxQueued)
}

/**
 * Send one command to the command server at `address` and resolve with its response (once the
 * server's application has polled). Rejects with what the handler threw.
 */
export async function sendCommand<C extends Command, R extends { [K in C['type']]: unknown }, T extends C = C>(
  address: string,
  command: T,
  options: ConnectOptions = {},
): Promise<R[T['type']]> {
  const peer = await connect<Envelope, never>(address, options)
  try {
    const [tx, rx] = channel<Reply>()
    peer.sender.send({ command, reply: tx })
    const [ok, value] = await (rx as Receiver<Reply>).recv()
    if (!ok) throw fromRemote(value, `command ${JSON.stringify(command.type)}`)
    return value as R[T['type']]
  } finally {
    peer.close()
  }
}

/** A typed one-call client for one command server: `send(command)` resolves with that command's response. */
export type CommandSender<C extends Command, R extends { [K in C['type']]: unknown }> = <T extends C>(command: T) => Promise<R[T['type']]>

/** `sendCommand` bound to an address (and typed once, e.g. from JSDoc: `@type {CommandSender<Commands, Responses>}`). */
export function commandClient<C extends Command, R extends { [K in C['type']]: unknown }>(address: string, options: ConnectOptions = {}): CommandSender<C, R> {
  return (command) => sendCommand<C, R, typeof command>(address, command, options)
}
