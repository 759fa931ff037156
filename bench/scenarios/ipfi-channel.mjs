// ipfi in-process channel(): an echo task in the same thread, one channel each way.
import { channel } from 'ipfi'
import { pump } from '../lib/peers/ipfi-pump.mjs'

export default {
  id: 'ipfi-channel',
  label: 'ipfi channel(), same thread',
  impl: 'ipfi',
  kind: 'in-process',
  type: 'echo',
  compareWith: ['raw-message-channel'],
  async open(sink) {
    const [toEcho, echoRx] = channel()
    const [toMain, mainRx] = channel()
    const echo = pump(echoRx, (m) => toMain.send(m), sink.fail)
    const main = pump(mainRx, sink.deliver, sink.fail)
    return {
      send: (m) => toEcho.send(m),
      async close() {
        toEcho.close() // the echo task ends
        await echo.done
        toMain.close() // then ours
        await main.done
        return []
      },
    }
  },
}
