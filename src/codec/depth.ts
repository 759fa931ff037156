/**
 * The nesting limit of the wire (docs/PROTOCOL.md §9.18 names it): a payload, a caps array or a control
 * body may nest arrays and maps at most MAX_NESTING_DEPTH deep. A tag and its value count as the
 * value alone (a Map is its one array, an Error its record's map, a RegExp its [source, flags]);
 * ext data, strings and binaries are scalars. `[[1]]` is 2 deep; 512 nested arrays are accepted,
 * 513 refused.
 *
 * The encoder refuses a deeper value before anything is sent (walk.ts counts the same way); the
 * decoder refuses deeper bytes before msgpackr reads them (it recurses once per level: thousands of
 * levels would overflow the stack, and a peer written in another language has its own limit).
 */

export const MAX_NESTING_DEPTH = 512

/** Fixext 1 types that are tags followed by a value (the value is the element, not the tag). */
const TAG_WITH_VALUE = new Uint8Array(256)
for (const t of [0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x65, 0x73, 0x78]) TAG_WITH_VALUE[t] = 1

/** Values still to read in each open array or map (reused: one decode at a time). */
const left = new Float64Array(MAX_NESTING_DEPTH)

/**
 * Whether the MessagePack in `b[start, end)` nests arrays and maps deeper than MAX_NESTING_DEPTH.
 * It reads structure only (lengths, never contents); malformed bytes end the scan with false and are
 * refused by the decoder itself.
 */
export function nestsTooDeep(b: Uint8Array, start: number, end: number): boolean {
  // Each level takes at least one byte.
  if (end - start <= MAX_NESTING_DEPTH) return false
  let open = 0
  let pos = start
  while (pos < end) {
    const t = b[pos]!
    let size: number
    let n = -1 // the number of values inside, for an array or a map
    if (t < 0x80 || t >= 0xe0) size = 1
    else if (t < 0x90) (n = (t & 0x0f) * 2), (size = 1)
    else if (t < 0xa0) (n = t & 0x0f), (size = 1)
    else if (t < 0xc0) size = 1 + (t & 0x1f)
    else {
      switch (t) {
        case 0xc4: size = 2 + b[pos + 1]!; break
        case 0xc5: size = 3 + u16(b, pos + 1); break
        case 0xc6: size = 5 + u32(b, pos + 1); break
        case 0xc7: size = 3 + b[pos + 1]!; break
        case 0xc8: size = 4 + u16(b, pos + 1); break
        case 0xc9: size = 6 + u32(b, pos + 1); break
        case 0xca: size = 5; break
        case 0xcb: size = 9; break
        case 0xcc: size = 2; break
        case 0xcd: size = 3; break
        case 0xce: size = 5; break
        case 0xcf: size = 9; break
        case 0xd0: size = 2; break
        case 0xd1: size = 3; break
        case 0xd2: size = 5; break
        case 0xd3: size = 9; break
        case 0xd4:
          // A tag: the value that follows is the element.
          if (TAG_WITH_VALUE[b[pos + 1]!] === 1) {
            pos += 3
            continue
          }
          size = 3
          break
        case 0xd5: size = 4; break
        case 0xd6: size = 6; break
        case 0xd7: size = 10; break
        case 0xd8: size = 18; break
        case 0xd9: size = 2 + b[pos + 1]!; break
        case 0xda: size = 3 + u16(b, pos + 1); break
        case 0xdb: size = 5 + u32(b, pos + 1); break
        case 0xdc: (n = u16(b, pos + 1)), (size = 3); break
        case 0xdd: (n = u32(b, pos + 1)), (size = 5); break
        case 0xde: (n = u16(b, pos + 1) * 2), (size = 3); break
        case 0xdf: (n = u32(b, pos + 1) * 2), (size = 5); break
        default: size = 1 // nil, false, true, and 0xc1 (refused by the decoder)
      }
    }
    pos += size
    if (n !== -1) {
      if (open === MAX_NESTING_DEPTH) return true
      if (n > 0) {
        left[open++] = n
        continue
      }
    }
    // A whole value: it completes the containers it ends.
    while (open > 0 && --left[open - 1]! === 0) open--
  }
  return false
}

function u16(b: Uint8Array, i: number): number {
  return (b[i]! << 8) | b[i + 1]!
}
function u32(b: Uint8Array, i: number): number {
  return ((b[i]! << 24) >>> 0) + (b[i + 1]! << 16) + (b[i + 2]! << 8) + b[i + 3]!
}
