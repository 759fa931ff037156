/**
 * ipfi: typed channels that cross threads, processes and any byte stream, with handles that travel
 * inside messages. Layers, each importing only from those above it in this list:
 *   errors, codec -> wire -> link -> channel -> procedures -> process, server
 * Every name here is API; members marked internal are stripped from the typings (ARCHITECTURE.md).
 * @packageDocumentation
 */
export {
  DisconnectedError,
  ConnectionLostError,
  ProtocolError,
  LimitExceededError,
  TimeoutError,
  HandleError,
  UnsupportedValueError,
  AuthenticationError,
} from './errors.js'
export { registerErrorClass, transfer, type Transferable } from './codec/index.js'
export type { Wire } from './wire/index.js'
export { duplexWire, messagePortWire, memoryWirePair, type MemoryWireOptions } from './wire/index.js'
export type { Link, LinkOptions } from './link/link.js'
export type { LinkTraffic, LinkTraceEvent, MessageTraceEvent } from './link/trace.js'
export { DEFAULT_LIMITS, type LinkLimits } from './link/limits.js'
export { channel, Sender, Receiver, ReceiverSet, type RecvOptions, type TryRecvResult, type SelectEvent } from './channel/index.js'
export {
  expose,
  remote,
  Endpoint,
  callback,
  currentCall,
  RemoteError,
  DEFAULT_PROCEDURE_LIMITS,
  type ExposeOptions,
  type Callback,
  type RemoteFunction,
  type CallTraceContext,
  type CallContext,
  type ProcedureLimits,
  type CallOptions,
  type Remote,
  type RemoteCall,
  type RemoteStream,
  type RemoteMethod,
} from './procedures/index.js'
export {
  fork,
  spawnWorker,
  parent,
  spawn,
  stdioLink,
  OneShotServer,
  type ForkOptions,
  type ChildProcessHandle,
  type WorkerOptions,
  type WorkerHandle,
  type ParentEnds,
  type SpawnOptions,
  type StdioLinkOptions,
  type OneShotOptions,
  type Child,
  type ChildContext,
  type ChildFunction,
  type ExitInfo,
  type ExitCause,
} from './process/index.js'
export { connectWire, type Connection } from './process/connect.js'
export {
  listen,
  connect,
  Server,
  Peer,
  AddressInUseError,
  commandServer,
  sendCommand,
  commandClient,
  CommandServer,
  type CommandSender,
  type ListenOptions,
  type ConnectOptions,
  type PeerAddress,
  type NatsOptions,
  type Command,
  type CommandHandlers,
  type CommandServerOptions,
} from './server/index.js'
/** @internal Entry points for the boot script of a spawned child. Not API. */
export { bootChild as __ipfiBootChild, bootWorker as __ipfiBootWorker } from './process/index.js'
