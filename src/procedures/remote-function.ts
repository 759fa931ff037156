/**
 * A function that arrived from another side (payload tag 0x05): calling it is a procedure call back
 * to where it was lent or made with `callback()` (callback.ts), over the same links.
 */
import { TAG_FUNCTION } from '../codec/msgpack.js'
import { HANDLE, type Branded } from '../codec/walk.js'
import { ProtocolError } from '../errors.js'
import { CONSTRUCT } from '../brand.js'
import { senderFromPort } from '../channel/index.js'
import { registerHandleFactory } from '../link/handles.js'
import { cloningAccess } from './callback.js'
import { Endpoint } from './endpoint.js'
import type { SessionOpen } from './messages.js'
import { CallerSession } from './caller/session.js'

const noop = () => {}

/** A function that arrived from elsewhere: calling it runs the original there. */
export type RemoteFunction = ((...args: unknown[]) => Promise<unknown>) & {
  /** Let go of it now (it is also let go when garbage collected). */
  close(): void
  [Symbol.dispose](): void
}

export function remoteFunction(endpoint: Endpoint<unknown>): RemoteFunction {
  let session: CallerSession | null = null
  const f = ((...args: unknown[]) => {
    let p: Promise<unknown>
    try {
      p = (session ??= new CallerSession(endpoint.clone())).call(null, args, undefined)
    } catch (e) {
      p = Promise.reject(e) // closed here: a rejection like any other failure, never a throw
    }
    // Callbacks are often called without awaiting (`onProgress(50)`): a failure of such a call
    // (the caller's side has moved on) must not crash this process. Awaiting it still sees it.
    p.catch(noop)
    return p
  }) as unknown as RemoteFunction
  const close = () => {
    session?.close()
    endpoint.close()
  }
  Object.defineProperties(f, {
    close: { value: close },
    [Symbol.dispose]: { value: close },
    // Sending it on sends another reference: the function stays callable here.
    [HANDLE]: { get: () => cloningAccess(endpoint) },
  })
  return f
}

registerHandleFactory(TAG_FUNCTION, (cap) => {
  if (cap.kind !== 'sender') throw new ProtocolError('a function handle (tag 0x05) must name a sender capability (descriptor tag 0, 1 or 2), not a moved receiver (tag 3)')
  return remoteFunction(new Endpoint(CONSTRUCT, senderFromPort<SessionOpen>(cap.port))) as RemoteFunction & Branded
})
