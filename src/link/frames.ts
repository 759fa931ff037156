/** Frame kinds and layouts; docs/PROTOCOL.md is the normative description. */
export const HELLO = 0x01
export const MSG = 0x02
export const RELEASE = 0x03
export const DROPPED = 0x04
export const FINISH = 0x05
export const GOODBYE = 0x06
export const DISEMBARGO = 0x07
/** Empty body: "I am alive", sent when the peer asked for a heartbeat and nothing else was sent. */
export const PING = 0x08

export const MAGIC = [0x49, 0x50, 0x46, 0x49] as const // "IPFI"
export const VERSION = 1

/** MSG body header: kind u8, target kind u8, target u32, caps length u32. */
export const MSG_HEADER = 10

/** Target kinds of a MSG (and DROPPED): the receiving side's export table, or its inbound table. */
export const TARGET_EXPORT = 0
export const TARGET_INBOUND = 1

/** Capability descriptors in a MSG's caps array. */
export const CAP_SENDER_HOSTED = 0 // [0, id]: a sender to the frame sender's export `id`
export const CAP_SENDER_YOUR_EXPORT = 1 // [1, id]: a sender to the frame receiver's own export `id`
export const CAP_SENDER_YOUR_INBOUND = 2 // [2, id]: a sender to the frame receiver's inbound `id`
export const CAP_RECEIVER = 3 // [3, id, ...hints]: a receiver, moved to the frame receiver as its inbound `id`
// Hints (pairs): [0, e] "you import this channel as my export e", [1, q] "you forward to it as my inbound q".
