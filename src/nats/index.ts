export { dialNats, listenNats, describeNats, type NatsAddress, type NatsOptions, type NatsListener, type NatsWireTuning } from './rendezvous.js'
export { NatsWire, DEFAULT_WINDOW, type NatsFaults } from './wire.js'
