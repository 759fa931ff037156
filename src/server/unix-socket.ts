/**
 * Unix socket files for the current user only: the directory must be ours and not group- or
 * world-writable (created 0700 when missing), the socket is made 0600, a stale socket left by a dead
 * server is replaced, and a live one is refused.
 */
import { chmod, lstat, mkdir, stat, unlink } from 'node:fs/promises'
import * as net from 'node:net'
import { dirname, resolve } from 'node:path'
import { AddressInUseError } from '../errors.js'

export async function prepareSocketPath(path: string): Promise<string> {
  const full = resolve(path)
  const dir = dirname(full)
  try {
    await makeDirectory(dir)
  } catch (e) {
    const err = new Error(`ipfi: cannot create the socket directory ${dir}: ${(e as Error).message}`, { cause: e })
    throw Object.assign(err, { code: (e as NodeJS.ErrnoException).code })
  }
  const d = await stat(dir)
  const uid = process.getuid?.()
  if (!d.isDirectory()) throw new Error(`ipfi: ${dir} is not a directory`)
  if (uid !== undefined && d.uid !== uid) throw new Error(`ipfi: the socket directory ${dir} belongs to uid ${d.uid}, not to this user (${uid})`)
  if (d.mode & 0o022) {
    throw new Error(`ipfi: the socket directory ${dir} is writable by group or others (mode ${(d.mode & 0o777).toString(8)}); use a private directory (0700)`)
  }
  let existing
  try {
    existing = await lstat(full)
  } catch {
    return full // nothing there
  }
  if (!existing.isSocket()) throw new AddressInUseError(`ipfi: ${full} exists and is not a socket; not replacing it`)
  if (await isLive(full)) throw new AddressInUseError(`ipfi: a server is already listening on ${full}`)
  await unlink(full) // stale: its server is gone
  return full
}

/**
 * `mkdir -p` with mode 0700, one level at a time. Not `mkdir(dir, { recursive: true })`: Node 20's
 * loops forever where mkdir fails with ENOENT although the parent exists (anywhere under /proc).
 */
async function makeDirectory(dir: string): Promise<void> {
  const missing: string[] = []
  for (let d = dir; d !== dirname(d); d = dirname(d)) {
    try {
      await stat(d)
      break // it exists (if it is not a directory, making the next level says so)
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e
      missing.unshift(d)
    }
  }
  for (const d of missing) {
    try {
      await mkdir(d, { mode: 0o700 })
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e // made meanwhile: checked below
    }
  }
}

function isLive(path: string): Promise<boolean> {
  return new Promise((res) => {
    const s = net.connect(path)
    s.once('connect', () => {
      s.destroy()
      res(true)
    })
    s.once('error', () => res(false))
  })
}

export async function secureSocketFile(path: string): Promise<void> {
  await chmod(path, 0o600)
}

export async function removeSocketFile(path: string): Promise<void> {
  try {
    await unlink(path)
  } catch {
    // already gone
  }
}
