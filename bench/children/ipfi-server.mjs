// ipfi listen() server for the many-clients scenarios: every client gets an endpoint with `echo`.
// argv: address. Tells the parent (Node IPC) its address once listening; ends when told.
import { expose, listen } from 'ipfi'

const server = await listen(process.argv[2], { maxClients: 10_000 })
void (async () => {
  for await (const peer of server) peer.sender.send(expose({ echo: (m) => m }))
})()
process.send({ address: server.address })
process.on('message', async (m) => {
  if (m === 'stop') {
    await server.close()
    process.disconnect()
  }
})
