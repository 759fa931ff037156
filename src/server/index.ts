export { listen, Server, type ListenOptions } from './listen.js'
export { connect, type ConnectOptions } from './connect.js'
export { Peer, type PeerAddress } from './peer.js'
export { AddressInUseError } from './unix-socket.js'
