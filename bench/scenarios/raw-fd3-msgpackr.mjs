// Raw baseline: a child process with an extra pipe on fd 3 (Node makes it a Unix socketpair),
// 4-byte length framing + msgpackr, one write per message. Written minimal on purpose.
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { framedTransport } from '../lib/open/framed-transport.mjs'
import { childPath, track } from '../lib/open/procs.mjs'

export default {
  id: 'raw-fd3-msgpackr',
  label: 'fd-3 pipe, length + msgpackr',
  impl: 'raw',
  kind: 'process',
  type: 'echo',
  async open(sink) {
    const child = track(
      spawn(process.execPath, [childPath('raw-fd3-echo.mjs')], {
        stdio: ['ignore', 'inherit', 'inherit', 'pipe'],
      }),
    )
    const t = framedTransport(child.stdio[3], child, sink, 'fd-3 echo child')
    await once(child, 'spawn')
    return t
  },
}
