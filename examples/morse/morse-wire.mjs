// @ts-check
// A Wire that carries only Morse code: every byte goes as its two hex digits in Morse (dots and
// dashes), a space between the two letters and a slash after each byte. Nothing else crosses.
// It is built on the public Wire interface alone (write, start, close).

const LETTERS = {
  0: '-----', 1: '.----', 2: '..---', 3: '...--', 4: '....-', 5: '.....', 6: '-....', 7: '--...',
  8: '---..', 9: '----.', a: '.-', b: '-...', c: '-.-.', d: '-..', e: '.', f: '..-.',
}
const ENCODE = Array.from({ length: 256 }, (_, b) => {
  const hex = b.toString(16).padStart(2, '0')
  return `${LETTERS[/** @type {keyof typeof LETTERS} */ (hex[0])]} ${LETTERS[/** @type {keyof typeof LETTERS} */ (hex[1])]}/`
})
const DECODE = new Map(Object.entries(LETTERS).map(([digit, code]) => [code, parseInt(digit, 16)]))

/** @param {Uint8Array} bytes */
export function toMorse(bytes) {
  let s = ''
  for (const b of bytes) s += ENCODE[b]
  return s
}

/** A decoder that accepts the text cut anywhere and gives back the bytes. */
export function morseDecoder() {
  let letter = ''
  let high = -1
  /** @param {string} text */
  return (text) => {
    const out = []
    for (const ch of text) {
      if (ch === '.' || ch === '-') letter += ch
      else if (ch === ' ' || ch === '/') {
        const digit = DECODE.get(letter)
        if (digit === undefined) throw new Error(`not a hex digit in Morse: ${JSON.stringify(letter)}`)
        letter = ''
        if (ch === ' ') high = digit
        else {
          out.push(high * 16 + digit)
          high = -1
        }
      } else throw new Error(`not a Morse symbol: ${JSON.stringify(ch)}`)
    }
    return Uint8Array.from(out)
  }
}

/**
 * @param {NodeJS.ReadableStream} input
 * @param {NodeJS.WritableStream} output
 * @param {(morse: string, bytes: number) => void} [show]  called with what is sent
 * @returns {import('ipfi').Wire}
 */
export function morseWire(input, output, show) {
  return {
    write(bytes) {
      const morse = toMorse(bytes)
      show?.(morse, bytes.length)
      output.write(morse)
    },
    start(onData, onEnd) {
      const decode = morseDecoder()
      input.setEncoding('latin1')
      input.on('data', (/** @type {string} */ text) => {
        let bytes
        try {
          bytes = decode(text)
        } catch (e) {
          return onEnd(e)
        }
        if (bytes.length) onData(bytes)
      })
      input.on('end', () => onEnd())
      input.on('error', (e) => onEnd(e))
    },
    close() {
      output.end()
    },
  }
}

/** What a person sees: the first Morse letters of each write, and its size. */
export const showAs = (/** @type {string} */ who) => (/** @type {string} */ morse, /** @type {number} */ bytes) =>
  process.stderr.write(`${who} ${String(bytes).padStart(4)} bytes  ${morse.length > 72 ? `${morse.slice(0, 72)}...` : morse}\n`)
