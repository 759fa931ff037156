/**
 * Byte searches decode() makes in a payload before trusting what msgpackr made of it. The frames
 * of a chunk are decoded in order (each starting past the one before), so a search remembers where
 * it found its byte, and a chunk is scanned once however many frames it holds.
 */

const searches: ByteSearch[] = []

export class ByteSearch {
  private source: Uint8Array | null = null
  private from = 0
  private at = -1

  constructor(private readonly byte: number) {
    searches.push(this)
  }

  /** Where the byte first occurs in `source[start, end)` (memchr-fast), or -1. */
  find(source: Buffer, start: number, end: number): number {
    if (source !== this.source || start <= this.from || (this.at !== -1 && this.at < start)) {
      this.source = source
      this.from = start
      this.at = source.indexOf(this.byte, start)
    }
    const found = this.at !== -1 && this.at < end ? this.at : -1
    if (end === source.length) this.source = null // the last frame of its chunk: do not keep the chunk alive
    return found
  }

  forget(): void {
    this.source = null
  }
}

/** A new chunk begins (its buffer may be one that held the last chunk): forget every search. */
export function newChunk(): void {
  for (const s of searches) s.forget()
}

/** msgpackr decodes the reserved byte 0xc1 as a marker object instead of failing: where it can occur. */
export const c1 = new ByteSearch(0xc1)
