// @ts-check
// Station B: speaks ipfi in Morse on its stdin/stdout. It serves procedures and a stream.
// (It logs to stderr: its stdout carries nothing but Morse.)
import { connectWire, expose } from 'ipfi'
import { morseWire, showAs } from './morse-wire.mjs'

const link = connectWire(morseWire(process.stdin, process.stdout, showAs('B ->')))
link.sender.send(
  expose({
    greet: (/** @type {string} */ name) => `Hello, ${name}, from station B`,
    add: (/** @type {number} */ a, /** @type {number} */ b) => a + b,
    /** @param {number} n */
    async *countdown(n) {
      for (let i = n; i > 0; i--) yield i
      yield 'liftoff'
    },
  }),
)
