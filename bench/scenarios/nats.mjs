// Through one nats-server on loopback (started by the bench: bench/lib/open/nats-server.mjs), side
// by side: the raw NATS client (@nats-io/transport-node) and ipfi over nats:// addresses, each to a
// child process on the same server. Raw: request/reply (nc.request, msg.respond) round trips with
// 1 and 100 in flight and a 1 MiB payload, and publish/subscribe one-way msg/s; ipfi: a channel's
// round trips, remote().echo() procedures, the 1 MiB payload, and a channel one way. ipfi over a
// Unix socket (ipfi-unix-socket, ipfi-proc-unix) is the reference beside them.
import { openIpfiNats, openRawNats } from '../lib/open/nats.mjs'

const nats = (o) => ({ kind: 'process', needs: 'nats-server', ...o })

const RAW_RR = 'raw-nats-request'
const RAW_PUB = 'raw-nats-oneway'

export const natsScenarios = [
  nats({
    id: RAW_RR,
    label: 'NATS client request/reply (nc.request, msg.respond)',
    impl: 'raw',
    type: 'echo',
    raw: 'raw-tcp',
    compareWith: ['raw-tcp'],
    open: (sink) => openRawNats('echo', sink, 'raw NATS echo child'),
  }),
  nats({
    id: 'ipfi-nats-channel',
    label: 'ipfi channel, connect() nats://',
    impl: 'ipfi',
    type: 'echo',
    raw: RAW_RR,
    compareWith: [RAW_RR, 'ipfi-unix-socket'],
    open: (sink) => openIpfiNats('echo', sink, 'ipfi NATS echo child'),
  }),
  nats({
    id: 'ipfi-proc-nats',
    label: 'ipfi remote().echo(), connect() nats://',
    impl: 'ipfi',
    type: 'echo',
    raw: RAW_RR,
    compareWith: [RAW_RR, 'ipfi-proc-unix'],
    open: (sink) => openIpfiNats('procedures', sink, 'ipfi NATS procedures child'),
  }),
  nats({
    id: `${RAW_RR}-1mib`,
    label: 'NATS client request/reply',
    impl: 'raw',
    type: 'payload',
    large: false,
    raw: null,
    compareWith: [],
    open: (sink) => openRawNats('echo', sink, 'raw NATS payload echo child'),
  }),
  nats({
    id: 'ipfi-nats-1mib',
    label: 'ipfi channel, connect() nats://',
    impl: 'ipfi',
    type: 'payload',
    large: false,
    raw: `${RAW_RR}-1mib`,
    compareWith: [`${RAW_RR}-1mib`],
    open: (sink) => openIpfiNats('echo', sink, 'ipfi NATS payload echo child'),
  }),
  nats({
    id: RAW_PUB,
    label: 'NATS client publish/subscribe, one nc.publish per message',
    impl: 'raw',
    type: 'oneway',
    pipelined: true,
    open: (sink) => openRawNats('count', sink, 'raw NATS counting child'),
  }),
  nats({
    id: 'ipfi-nats-oneway',
    label: 'ipfi channel one way, connect() nats://',
    impl: 'ipfi',
    type: 'oneway',
    pipelined: true,
    raw: RAW_PUB,
    compareWith: [RAW_PUB],
    open: (sink) => openIpfiNats('count', sink, 'ipfi NATS counting child'),
  }),
]
