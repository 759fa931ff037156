/**
 * The counting side of the one-way scenarios (bench/lib/measure/oneway.mjs), loaded by the children: count
 * the small messages; the end marker is answered with `{ count, wrong }` and the counts restart.
 */
export const END = Object.freeze({ end: 'ipfi-bench-oneway' })

export function isCount(r) {
  return r !== null && typeof r === 'object' && Number.isInteger(r.count) && Number.isInteger(r.wrong)
}

/** A function to call with every message that arrives; `reply` sends the counts back. */
export function counter(reply) {
  let count = 0
  let wrong = 0
  return (m) => {
    if (m !== null && typeof m === 'object' && m.a === 1 && m.b === 2) count++
    else if (m !== null && typeof m === 'object' && m.end === END.end) {
      reply({ count, wrong })
      count = 0
      wrong = 0
    } else wrong++
  }
}
