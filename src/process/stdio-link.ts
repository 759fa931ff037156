/**
 * stdioLink(): serve this program's own stdin and stdout as a link to whoever started it (with
 * `spawn()`, or any program in any language that speaks the protocol). Its stdout then carries
 * frames only: console.log, console.info and console.debug are sent to stderr instead, and anything
 * else written to stdout breaks the framing (the other side closes the link with a ProtocolError).
 */
import { Console } from 'node:console'
import type { Duplex } from 'node:stream'
import { LinkImpl, type LinkOptions } from '../link/link.js'
import { duplexWire } from '../wire/duplex.js'
import { takeEnds } from './bootstrap.js'
import type { ParentEnds } from './parent.js'

export interface StdioLinkOptions extends Partial<LinkOptions> {
  /** Send console.log/info/debug to stderr so they cannot corrupt the wire. Default true. */
  redirectConsole?: boolean
}

let ends: Promise<ParentEnds<unknown, unknown>> | null = null

export function stdioLink<ToChild, ToParent>(options: StdioLinkOptions = {}): Promise<ParentEnds<ToChild, ToParent>> {
  ends ??= open(options)
  return ends as Promise<ParentEnds<ToChild, ToParent>>
}

async function open(options: StdioLinkOptions): Promise<ParentEnds<unknown, unknown>> {
  const { redirectConsole = true, ...linkOptions } = options
  if (redirectConsole) {
    const toStderr = new Console({ stdout: process.stderr, stderr: process.stderr })
    console.log = toStderr.log.bind(toStderr)
    console.info = toStderr.info.bind(toStderr)
    console.debug = toStderr.debug.bind(toStderr)
    console.dir = toStderr.dir.bind(toStderr)
    console.table = toStderr.table.bind(toStderr)
  }
  const wire = duplexWire(process.stdout as unknown as Duplex, { input: process.stdin as unknown as NodeJS.ReadableStream & Duplex })
  const link = new LinkImpl(wire, { name: 'stdio', ...linkOptions })
  const { receiver, sender, data } = await takeEnds<unknown, unknown>(link)
  return { receiver, sender, data, link }
}
