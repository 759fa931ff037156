// Raw baseline: a MessageChannel inside one thread; port2 echoes what port1 posts.
import { MessageChannel } from 'node:worker_threads'

export default {
  id: 'raw-message-channel',
  label: 'MessageChannel, same thread',
  impl: 'raw',
  kind: 'in-process',
  type: 'echo',
  async open(sink) {
    const { port1, port2 } = new MessageChannel()
    port2.on('message', (m) => port2.postMessage(m))
    port1.on('message', sink.deliver)
    return {
      send: (m) => port1.postMessage(m),
      async close() {
        port1.close() // closes both ends
        return []
      },
    }
  },
}
