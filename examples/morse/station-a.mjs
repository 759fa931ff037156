// @ts-check
// Station A: starts station B with a pipe that carries only Morse, and calls B's procedures
// over it, a stream included. Every write is shown (cut short) in Morse on stderr.
//   node examples/morse/station-a.mjs
import { spawn } from 'node:child_process'
import { connectWire, remote } from 'ipfi'
import { morseWire, showAs } from './morse-wire.mjs'

const b = spawn(process.execPath, [new URL('./station-b.mjs', import.meta.url).pathname], { stdio: ['pipe', 'pipe', 'inherit'] })
const link = connectWire(morseWire(/** @type {NodeJS.ReadableStream} */ (b.stdout), /** @type {NodeJS.WritableStream} */ (b.stdin), showAs('A ->')))

/** @type {import('ipfi').Endpoint<{ greet(name: string): string, add(a: number, b: number): number, countdown(n: number): AsyncGenerator<number | string> }>} */
const endpoint = /** @type {any} */ (await link.receiver.recv())
const stationB = remote(endpoint)

console.log(await stationB.greet('station A'))
console.log('2 + 3 =', await stationB.add(2, 3))
const counted = []
for await (const t of stationB.countdown(3)) counted.push(t)
console.log('countdown:', counted.join(' '))

stationB[Symbol.dispose]()
endpoint.close()
link.close()
b.stdin?.end()
await new Promise((r) => b.once('exit', r))
console.log('station B signed off')
