/**
 * Buffers a writer let go of entirely: the link hands a large frame over once it has encoded it
 * into a buffer of its own, so that a wire that can move memory (a MessagePort transfers) may move
 * it instead of copying. Whoever moves one takes it off the list; anything else is copied as usual.
 */
const handedOver = new WeakSet<ArrayBufferLike>()

/** `bytes` fill a buffer nobody else will read or write: a wire may transfer it. */
export function handOver(bytes: Uint8Array): void {
  handedOver.add(bytes.buffer)
}

/** Whether `bytes` lie in a handed-over buffer; if so, it is taken off the list (the caller moves it). */
export function takeHandedOver(bytes: Uint8Array): boolean {
  return handedOver.delete(bytes.buffer)
}

/** Whether `bytes` lie in a handed-over buffer (without taking it). */
export function isHandedOver(bytes: Uint8Array): boolean {
  return handedOver.has(bytes.buffer)
}

/** Handed-over buffers a wire is done with, unmoved: every byte reached the transport (see giveBack). */
const givenBack = new WeakSet<ArrayBufferLike>()

/**
 * A wire that did not move a handed-over buffer is done with it: the transport took all its bytes
 * and the wire keeps no reference. The link may then encode into that buffer again (a large
 * message's frame, instead of a fresh buffer of its size while the last one waits for a GC).
 */
export function giveBack(bytes: Uint8Array): void {
  if (handedOver.delete(bytes.buffer)) givenBack.add(bytes.buffer)
}

/** Whether the wire gave `buffer` back (see giveBack); if so, it is taken off that list. */
export function takeGivenBack(buffer: ArrayBufferLike): boolean {
  return givenBack.delete(buffer)
}
