// grpc-js server for the grpc echo and many-clients scenarios: unary `Echo` and a bidi `Chat`,
// JSON-encoded (no proto file needed). argv: address ('unix:/path' or 'host:port'). Tells the
// parent its address.
import grpc from '@grpc/grpc-js'
import { benchService } from '../lib/peers/grpc-service.mjs'

const server = new grpc.Server()
server.addService(benchService, {
  echo: (call, done) => done(null, call.request),
  chat: (call) => {
    call.on('data', (m) => call.write(m))
    call.on('end', () => call.end())
  },
})
server.bindAsync(process.argv[2], grpc.ServerCredentials.createInsecure(), (err, port) => {
  if (err) throw err
  const address = process.argv[2].startsWith('unix:') ? process.argv[2] : process.argv[2].replace(/:0$/, `:${port}`)
  process.send({ address })
})
process.on('message', (m) => {
  if (m === 'stop') server.tryShutdown(() => process.disconnect())
})
