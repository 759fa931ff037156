/** The values scenario: every fixture of values.json, built here, sent, checked there, echoed back, checked here. */
import { VALUES, fromTagged, opened } from '../lib/kit.mjs'

async function values(role) {
  const { conn, box } = await opened(role)
  for (const [i, f] of VALUES.entries()) conn.sender.send({ kind: 'fresh', i, value: fromTagged(f.value) })
  const fresh = (async () => {
    for (let k = 0; k < VALUES.length; k++) {
      const m = await box.next('fresh')
      const f = VALUES[m.i]
      if (!role.check(f !== undefined, `a fresh value with a fixture index (${m.i})`)) continue
      role.sameTagged(m.value, f.value, `fixture ${m.i} "${f.name}" as the peer built and sent it`)
      conn.sender.send({ kind: 'echo', i: m.i, value: m.value })
    }
  })()
  const echoes = (async () => {
    const seen = new Set()
    for (let k = 0; k < VALUES.length; k++) {
      const m = await box.next('echo')
      const f = VALUES[m.i]
      if (!role.check(f !== undefined && !seen.has(m.i), `an echo of a fixture not echoed yet (${m.i})`)) continue
      seen.add(m.i)
      role.sameTagged(m.value, f.value, `fixture ${m.i} "${f.name}" as we sent it and the peer echoed it`)
    }
  })()
  await Promise.all([fresh, echoes])
  await role.finish(conn, box)
}

export default { values: { a: values, b: values } }
