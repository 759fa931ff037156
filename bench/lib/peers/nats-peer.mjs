/**
 * What both ends of the NATS scenarios share (bench/scenarios/nats.mjs): the subjects of the raw
 * client's scenarios under one base subject, and the raw message encoding: one msgpackr body per
 * NATS message (plain MessagePack, no records, as ipfi's codec), in a buffer of its own because the
 * client holds it until its next flush.
 */
import { Packr, Unpackr } from 'msgpackr'

const packr = new Packr({ useRecords: false })
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true })

export const rawSubjects = (base) => ({ echo: `${base}.echo`, count: `${base}.count`, counted: `${base}.counted` })

/** One message's payload, copied out of msgpackr's reused buffer. */
export const encodeMsg = (value) => Buffer.from(packr.pack(value))

export const decodeMsg = (bytes) => unpackr.unpack(bytes)

/** A child of the NATS scenarios: say `ready` over Node IPC, and run `stop()` then leave when told 'stop'. */
export function serveUntilStopped(stop) {
  process.send({ ready: true })
  process.on('message', async (m) => {
    if (m !== 'stop') return
    await stop()
    process.disconnect()
  })
}
