/**
 * Handles that are dropped without close() are closed when they are garbage collected, as Rust
 * drops them at the end of scope: a sender forgotten in a variable does not keep its channel
 * connected forever, and a forgotten receiver tells its senders. Explicit close() (or `using`) is
 * still the way to be prompt.
 */
import type { Port } from '../link/port.js'

const senders = new FinalizationRegistry<Port>((port) => port.releaseSender())
const receivers = new FinalizationRegistry<Port>((port) => port.closeReceiver())

export function trackSender(handle: object, port: Port): void {
  senders.register(handle, port, handle)
}
export function untrackSender(handle: object): void {
  senders.unregister(handle)
}
export function trackReceiver(handle: object, port: Port): void {
  receivers.register(handle, port, handle)
}
export function untrackReceiver(handle: object): void {
  receivers.unregister(handle)
}
