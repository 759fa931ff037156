// Peer library: grpc-js echo over a Unix socket and loopback TCP, as unary calls (one Echo call per
// round trip) and as one bidirectional stream (every message written comes back). grpc-js is far
// slower than the rest, so it runs fewer iterations (noted in the report).
import { openGrpcEcho } from '../lib/open/grpc-echo.mjs'

const WIRE = { unix: 'Unix socket', tcp: 'loopback TCP' }
const RAW = { unix: 'raw-unix-socket', tcp: 'raw-tcp' }

const grpcEcho = (mode, wire) => ({
  id: `grpc-${mode}-${wire}`,
  label: `grpc-js ${mode === 'unary' ? 'unary call' : 'bidi stream'}, ${WIRE[wire]}`,
  impl: 'grpc-js',
  kind: 'process',
  type: 'echo',
  raw: RAW[wire],
  compareWith: [RAW[wire]],
  iterScale: mode === 'unary' ? 0.1 : 0.3,
  throughputScale: mode === 'unary' ? 0.04 : 0.15,
  note: 'fewer round trips, to keep --quick short',
  open: (sink) => openGrpcEcho(mode, wire, sink),
})

export const grpcScenarios = [grpcEcho('unary', 'unix'), grpcEcho('unary', 'tcp'), grpcEcho('bidi', 'unix'), grpcEcho('bidi', 'tcp')]
