/**
 * Admission: the exchange a `listen()` server and a `connect()` client run on a fresh socket before
 * any link exists (docs/PROTOCOL.md §3). It says whether the server takes the client (it may be
 * full) and, when a shared secret is set, proves on both sides that the other knows it, by
 * challenge and response: the secret never crosses the wire, and proofs are compared in constant
 * time. Bytes that arrive after the exchange are put back for the link. The exchange runs over an
 * AdmissionIO: a socket (socketIO, here) or any Wire (wire-admission.ts: a link over NATS).
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import type { Duplex } from 'node:stream'
import { AuthenticationError } from '../errors.js'

const MAGIC = Buffer.from('IPFA')
const VERSION = 1
const NONCE = 32
const PROOF = 32

/** Server → client first message: magic, version, status, flags, server nonce. */
const OFFER_LEN = 4 + 1 + 1 + 1 + NONCE
/** Client → server: magic, version, flags, proof, client nonce. */
const ANSWER_LEN = 4 + 1 + 1 + PROOF + NONCE
/** Server → client verdict: magic, version, status, proof. */
const VERDICT_LEN = 4 + 1 + 1 + PROOF

export const STATUS_OK = 0
export const STATUS_BAD_SECRET = 1
export const STATUS_SECRET_REQUIRED = 2
export const STATUS_FULL = 3
export const STATUS_NOT_IPFI = 4

const FLAG_SECRET = 1

const STATUS_TEXT: Record<number, string> = {
  [STATUS_BAD_SECRET]: 'the server refused the shared secret',
  [STATUS_SECRET_REQUIRED]: 'the server requires a shared secret, and none was given',
  [STATUS_FULL]: 'the server has its maximum number of clients',
  [STATUS_NOT_IPFI]: 'the server did not understand the handshake',
}

function proof(secret: Buffer, label: string, a: Buffer, b: Buffer): Buffer {
  return createHmac('sha256', secret).update(label).update(a).update(b).digest()
}

export function secretBytes(secret: string | Uint8Array | undefined): Buffer | null {
  if (secret === undefined) return null
  const b = typeof secret === 'string' ? Buffer.from(secret, 'utf8') : Buffer.from(secret)
  if (b.length === 0) throw new TypeError('a shared secret must not be empty')
  return b
}

/** The byte conversation admission runs over. */
export interface AdmissionIO {
  write(bytes: Buffer): void
  /** Exactly `n` bytes; rejects with AuthenticationError if the stream ends first. */
  read(n: number, what: string): Promise<Buffer>
  /** Write `bytes` (if any) and close. */
  end(bytes?: Buffer): void
  destroy(): void
}

export function socketIO(socket: Duplex): AdmissionIO {
  return {
    write: (b) => void socket.write(b),
    read: (n, what) => readExactly(socket, n, what),
    end: (b) => void (b ? socket.end(b) : socket.end()),
    destroy: () => void socket.destroy(),
  }
}

/** Read exactly `n` bytes from a paused-mode socket; the rest is put back for whoever reads next. */
function readExactly(socket: Duplex, n: number, what: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = []
    let have = 0
    const cleanup = () => {
      socket.off('data', onData)
      socket.off('end', onEnd)
      socket.off('close', onEnd)
      socket.off('error', onError)
    }
    const onData = (chunk: Buffer) => {
      parts.push(chunk)
      have += chunk.length
      if (have < n) return
      cleanup()
      socket.pause()
      const all = Buffer.concat(parts, have)
      if (have > n) socket.unshift(all.subarray(n))
      resolve(all.subarray(0, n))
    }
    const onEnd = () => {
      cleanup()
      reject(new AuthenticationError(`the connection closed during the handshake (waiting for ${what})`))
    }
    const onError = (e: Error) => {
      cleanup()
      reject(new AuthenticationError(`the connection failed during the handshake: ${e.message}`, { cause: e }))
    }
    socket.on('data', onData)
    socket.once('end', onEnd)
    socket.once('close', onEnd)
    socket.once('error', onError)
    socket.resume()
  })
}

function header(status: number | null, flags: number | null): Buffer[] {
  const out = [MAGIC, Buffer.from([VERSION])]
  if (status !== null) out.push(Buffer.from([status]))
  if (flags !== null) out.push(Buffer.from([flags]))
  return out
}

/** The server's side. Resolves once the client is admitted; rejects (and the io is ended) otherwise. */
export async function admitClient(io: AdmissionIO, secret: Buffer | null, full: boolean): Promise<void> {
  const nonceS = randomBytes(NONCE)
  io.write(Buffer.concat([...header(full ? STATUS_FULL : STATUS_OK, null), Buffer.from([secret ? FLAG_SECRET : 0]), nonceS]))
  if (full) {
    io.end()
    throw new AuthenticationError(STATUS_TEXT[STATUS_FULL])
  }
  const answer = await io.read(ANSWER_LEN, "the client's answer")
  const refuse = (status: number, message: string): never => {
    io.end(Buffer.concat([...header(status, null), Buffer.alloc(PROOF)]))
    throw new AuthenticationError(message)
  }
  if (!answer.subarray(0, 4).equals(MAGIC) || answer[4] !== VERSION) refuse(STATUS_NOT_IPFI, 'the client did not send an ipfi handshake')
  const clientFlags = answer[5]!
  const clientProof = answer.subarray(6, 6 + PROOF)
  const nonceC = answer.subarray(6 + PROOF)
  let mine: Buffer = Buffer.alloc(PROOF)
  if (secret) {
    if (!(clientFlags & FLAG_SECRET)) refuse(STATUS_SECRET_REQUIRED, 'the client gave no shared secret')
    if (!timingSafeEqual(clientProof, proof(secret, 'ipfi client', nonceS, nonceC))) refuse(STATUS_BAD_SECRET, 'the client gave a wrong shared secret')
    mine = proof(secret, 'ipfi server', nonceC, nonceS)
  }
  io.write(Buffer.concat([...header(STATUS_OK, null), mine]))
}

/** The client's side. Resolves once the server admitted us (and, with a secret, proved it knows it). */
export async function seekAdmission(io: AdmissionIO, secret: Buffer | null): Promise<void> {
  const offer = await io.read(OFFER_LEN, "the server's offer")
  if (!offer.subarray(0, 4).equals(MAGIC) || offer[4] !== VERSION) {
    io.destroy()
    throw new AuthenticationError('the server did not answer with an ipfi handshake (is it an ipfi listen() server?)')
  }
  const status = offer[5]!
  if (status !== STATUS_OK) {
    io.destroy()
    throw new AuthenticationError(STATUS_TEXT[status] ?? `the server refused the connection (status ${status})`)
  }
  const serverWantsSecret = (offer[6]! & FLAG_SECRET) !== 0
  const nonceS = offer.subarray(7)
  if (secret && !serverWantsSecret) {
    io.destroy()
    throw new AuthenticationError('a shared secret was given but the server does not check one: refusing an unauthenticated server')
  }
  const nonceC = randomBytes(NONCE)
  const mine = secret ? proof(secret, 'ipfi client', nonceS, nonceC) : Buffer.alloc(PROOF)
  io.write(Buffer.concat([...header(null, secret ? FLAG_SECRET : 0), mine, nonceC]))
  const verdict = await io.read(VERDICT_LEN, "the server's verdict")
  if (!verdict.subarray(0, 4).equals(MAGIC) || verdict[4] !== VERSION) {
    io.destroy()
    throw new AuthenticationError('malformed handshake from the server')
  }
  if (verdict[5] !== STATUS_OK) {
    io.destroy()
    throw new AuthenticationError(STATUS_TEXT[verdict[5]!] ?? `the server refused the connection (status ${verdict[5]})`)
  }
  if (secret && !timingSafeEqual(verdict.subarray(6), proof(secret, 'ipfi server', nonceC, nonceS))) {
    io.destroy()
    throw new AuthenticationError('the server could not prove it knows the shared secret')
  }
}
