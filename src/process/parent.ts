/**
 * The child's side: `await parent()` gives the two ends the parent made for this child, over the
 * link the parent set up (fd 3 for a forked process, a MessagePort for a worker thread).
 */
import * as net from 'node:net'
import type { MessagePort } from 'node:worker_threads'
import type { Receiver, Sender } from '../channel/index.js'
import { LinkImpl, type Link, type LinkOptions } from '../link/link.js'
import { duplexWire } from '../wire/duplex.js'
import { messagePortWire } from '../wire/message-port.js'
import type { Wire } from '../wire/wire.js'
import { takeEnds } from './bootstrap.js'
import { FD_ENV } from './ship.js'

/** Where a worker's boot code leaves the parent's port (shared by every copy of ipfi in the thread). */
export const WORKER_PORT = Symbol.for('ipfi.parentPort')

export interface ParentEnds<ToChild, ToParent> {
  /** What the parent sends (its `sender: Sender<ToChild>`) arrives here. */
  receiver: Receiver<ToChild>
  /** What is sent here arrives at the parent's `receiver: Receiver<ToParent>`. */
  sender: Sender<ToParent>
  /** `options.data` given to fork()/spawnWorker(). */
  data: unknown
  /** The link to the parent (closing it disconnects everything that crosses it). */
  link: Link
}

let ends: Promise<ParentEnds<unknown, unknown>> | null = null

/**
 * In a process started by `fork()` or a thread started by `spawnWorker()`: the ends the parent
 * made. Type parameters as on the parent's side: `parent<ToChild, ToParent>()`. Call it as often as
 * you like: it is the same pair each time.
 */
export function parent<ToChild, ToParent>(options: Partial<LinkOptions> = {}): Promise<ParentEnds<ToChild, ToParent>> {
  ends ??= open(options)
  return ends as Promise<ParentEnds<ToChild, ToParent>>
}

async function open(options: Partial<LinkOptions>): Promise<ParentEnds<unknown, unknown>> {
  const wire = parentWire()
  if (!wire) {
    throw new Error('ipfi: parent() was called in a process that was not started by ipfi fork() or spawnWorker()')
  }
  const link = new LinkImpl(wire, { name: 'parent', ...options })
  const { receiver, sender, data } = await takeEnds<unknown, unknown>(link)
  return { receiver, sender, data, link }
}

function parentWire(): Wire | null {
  const g = globalThis as Record<symbol, unknown>
  const port = g[WORKER_PORT] as MessagePort | undefined
  if (port) {
    delete g[WORKER_PORT]
    return messagePortWire(port)
  }
  const fd = process.env[FD_ENV]
  if (fd === undefined) return null
  delete process.env[FD_ENV]
  const socket = new net.Socket({ fd: Number(fd), readable: true, writable: true })
  return duplexWire(socket)
}
