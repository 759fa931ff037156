// The slow consumer's work: `us` microseconds of synchronous work (a busy wait on the clock).
import { performance } from 'node:perf_hooks'

export function busy(us) {
  const until = performance.now() + us / 1000
  while (performance.now() < until);
}
