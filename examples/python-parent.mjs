// @ts-check
// A Node parent and a Python child (python-child.py, started over its stdio) that call each
// other's procedures and pass a channel: `node examples/python-parent.mjs` (needs python3).
import { fileURLToPath } from 'node:url'
import { channel, expose, remote, spawn } from 'ipfi'

const child = spawn('python3', [fileURLToPath(new URL('python-child.py', import.meta.url))])
child.sender.send(expose({ greet: (/** @type {string} */ name) => `hello, ${name}, from Node` }))
/**
 * What python-child.py exposes.
 * @typedef {{
 *   shout(text: string): string, words(text: string): AsyncIterable<string>, greet_back(name: string): string,
 *   ticks(tx: import('ipfi').Sender<string>, n: number): void, progress(steps: number, onProgress: (p: number) => void): string,
 * }} PythonApi
 */
/** @type {import('ipfi').Remote<PythonApi>} */
const py = remote(await child.receiver.recv())

console.log(await py.shout('hi from node'))                         // HI FROM NODE
for await (const w of py.words('a stream of words')) console.log('word:', w)
const [tx, rx] = channel()
await py.ticks(tx, 3)                                               // the Sender moves to Python
for await (const t of rx) console.log('from Python:', t)            // tick 0, tick 1, tick 2
console.log(await py.progress(2, (/** @type {number} */ p) => console.log('progress', p)))
console.log(await py.greet_back('Ada'))                             // Python calls our greet()

py[Symbol.dispose]()
child.sender.close()                                                // the child's loop ends
console.log('python exited with code', (await child.exited).code)
