// The grpc-js service the benchmark uses, defined without a proto file (JSON payloads).
import grpc from '@grpc/grpc-js'

const json = { serialize: (v) => Buffer.from(JSON.stringify(v)), deserialize: (b) => JSON.parse(b.toString()) }
const method = (name, requestStream, responseStream) => ({
  path: `/ipfi.bench.Bench/${name}`,
  requestStream,
  responseStream,
  requestSerialize: json.serialize,
  requestDeserialize: json.deserialize,
  responseSerialize: json.serialize,
  responseDeserialize: json.deserialize,
})
export const benchService = { echo: method('Echo', false, false), chat: method('Chat', true, true) }
export const BenchClient = grpc.makeGenericClientConstructor(benchService, 'Bench')
export { grpc }
