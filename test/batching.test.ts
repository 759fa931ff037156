/**
 * When a link writes (src/link/batch.ts). Frames sent in one tick go out together, but a long burst
 * does not wait for the end of the tick: its first write goes at 32 frames, each later one at twice
 * as many (up to 512), so a peer on another CPU starts on the first frames while this side makes
 * the rest. With one CPU (nothing can overlap), the first write waits for 128 frames.
 */
import { execFileSync } from 'node:child_process'
import { availableParallelism } from 'node:os'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
// @ts-expect-error: a plain .mjs fixture, also run as a program below
import { burstWrites } from './fixtures/count-writes.mjs'

const fixture = fileURLToPath(new URL('./fixtures/count-writes.mjs', import.meta.url))

describe.runIf(availableParallelism() > 1)('a burst of frames in one tick, with more than one CPU', () => {
  it('goes out in writes of 32, 64, ... frames, then the rest at the end of the tick, in order', async () => {
    expect(await burstWrites([100])).toEqual([[32, 64, 4]])
  })

  it('grows its writes up to 512 frames; the next tick starts again at 32', async () => {
    expect(await burstWrites([2000, 40])).toEqual([[32, 64, 128, 256, 512, 512, 496], [32, 8]])
  })

  it('a few frames wait for the end of the tick and go as one write', async () => {
    expect(await burstWrites([31, 1])).toEqual([[31], [1]])
  })
})

describe('a burst of frames in one tick, with one CPU', () => {
  it('waits for 128 frames before its first early write (nothing to overlap with)', () => {
    // A process limited to one CPU before it starts: availableParallelism() is 1 there.
    const out = execFileSync('taskset', ['-c', '0', process.execPath, fixture, '1000', '100'], { encoding: 'utf8' })
    expect(JSON.parse(out)).toEqual({ cpus: 1, writes: [[128, 256, 512, 104], [100]] })
  })
})
