// ipfi one-way child for both fork() and spawnWorker(): count what arrives from parent(), answer
// the end marker with the count (bench/lib/peers/oneway-count.mjs), until the parent closes its sender.
import { parent } from 'ipfi'
import { drain } from '../lib/peers/ipfi-pump.mjs'
import { counter } from '../lib/peers/oneway-count.mjs'

const { receiver, sender } = await parent()
await drain(receiver, counter((r) => sender.send(r)))
sender.close()
