/**
 * The admission exchange of docs/PROTOCOL.md §14, written here from the spec (not taken from the
 * library), so that the runner's raw peer can face a role on a socket wire from either side.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import type { ByteReader } from './frames.js'

const MAGIC = Buffer.from('IPFA')
const VERSION = 1
const ZEROS = Buffer.alloc(32)

const hmac = (secret: Buffer, label: string, a: Buffer, b: Buffer) => createHmac('sha256', secret).update(label).update(a).update(b).digest()

function checkHead(b: Buffer, what: string): void {
  if (!b.subarray(0, 4).equals(MAGIC) || b[4] !== VERSION) throw new Error(`${what} is not an ipfi admission message: ${b.subarray(0, 8).toString('hex')}`)
}

/** The client's side: read OFFER, send ANSWER, read VERDICT. */
export async function admitAsClient(reader: ByteReader, write: (b: Buffer) => void, secret: Buffer | null): Promise<void> {
  const offer = await reader.read(39)
  if (!offer) throw new Error('the server closed before its OFFER')
  checkHead(offer, 'OFFER')
  if (offer[5] !== 0) throw new Error(`the server refused in its OFFER (status ${offer[5]})`)
  const serverHasSecret = (offer[6]! & 1) === 1
  if (secret && !serverHasSecret) throw new Error('the server has no secret')
  const nonceS = offer.subarray(7, 39)
  const nonceC = randomBytes(32)
  const proofC = secret ? hmac(secret, 'ipfi client', nonceS, nonceC) : ZEROS
  write(Buffer.concat([MAGIC, Buffer.from([VERSION, secret ? 1 : 0]), proofC, nonceC]))
  const verdict = await reader.read(38)
  if (!verdict) throw new Error('the server closed before its VERDICT')
  checkHead(verdict, 'VERDICT')
  if (verdict[5] !== 0) throw new Error(`the server refused (VERDICT status ${verdict[5]})`)
  if (secret && !timingSafeEqual(verdict.subarray(6, 38), hmac(secret, 'ipfi server', nonceC, nonceS))) throw new Error("the server's proof is wrong")
}

/** The server's side: send OFFER, read ANSWER, send VERDICT (status 0, or the refusal, then throw). */
export async function admitAsServer(reader: ByteReader, write: (b: Buffer) => void, secret: Buffer | null): Promise<void> {
  const nonceS = randomBytes(32)
  write(Buffer.concat([MAGIC, Buffer.from([VERSION, 0, secret ? 1 : 0]), nonceS]))
  const answer = await reader.read(70)
  if (!answer) throw new Error('the client closed before its ANSWER')
  checkHead(answer, 'ANSWER')
  const clientHasSecret = (answer[5]! & 1) === 1
  const proofC = answer.subarray(6, 38)
  const nonceC = answer.subarray(38, 70)
  let status = 0
  if (secret && !clientHasSecret) status = 2
  else if (secret && !timingSafeEqual(proofC, hmac(secret, 'ipfi client', nonceS, nonceC))) status = 1
  const proofS = secret && status === 0 ? hmac(secret, 'ipfi server', nonceC, nonceS) : ZEROS
  write(Buffer.concat([MAGIC, Buffer.from([VERSION, status]), proofS]))
  if (status !== 0) throw new Error(`refused the client (status ${status})`)
}
