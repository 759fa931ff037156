// The Python implementation (python/ipfi) on the wire of ipfi-unix-socket, a Unix socket, side by
// side with the JS scenarios: a raw Python baseline (length + ipfi's Python codec, one write per
// message, python/bench/rawframe.py), Python ipfi to Python ipfi, this process (JS) to a Python
// peer and a Python driver to the JS echo child; one-way msg/s for each; procedure calls
// (remote(endpoint).echo(m) to a listen() server, Python to Python and JS to Python) and grpcio
// unary calls when the interpreter has grpcio (a bench-only option). The `py-` scenarios are timed in Python by
// python/bench/driver.py (bench/lib/open/python.mjs); the `js-py-` ones here, as the JS scenarios.
import { ipfiOverSocket } from './ipfi-unix-socket.mjs'
import { callsTo } from './ipfi-proc-server.mjs'
import { acceptChild } from '../lib/open/socket-child.mjs'
import { HAS_GRPCIO, PYTHON_VERSION, acceptPythonPeer, openPythonDriver, startPythonServer } from '../lib/open/python.mjs'

const PY = `Python ${PYTHON_VERSION}`

/** remote(endpoint).echo(m) from here (JS) to a Python listen() server. */
const callsToPython = async (sink) => callsTo(await startPythonServer('ipfi-proc-server'), sink, 'python ipfi server')

const driven = (mode, what) => (sink) => openPythonDriver(mode, sink, what)

const echo = (o) => ({ impl: 'python', kind: 'process', type: 'echo', ...o })
const oneway = (o) => ({ impl: 'python', kind: 'process', type: 'oneway', pipelined: true, ...o })

export const pythonScenarios = [
  echo({
    id: 'py-raw-unix',
    label: `${PY} raw, Unix socket, length + ipfi codec (Python both ends)`,
    impl: 'raw python',
    raw: 'raw-unix-socket',
    compareWith: ['raw-unix-socket'],
    open: driven('raw-echo', 'python raw echo driver'),
  }),
  echo({
    id: 'py-ipfi-unix',
    label: `${PY} ipfi connect_wire, Unix socket (Python both ends)`,
    raw: 'py-raw-unix',
    compareWith: ['py-raw-unix', 'ipfi-unix-socket'],
    open: driven('ipfi-echo', 'python ipfi echo driver'),
  }),
  echo({
    id: 'js-py-ipfi-unix',
    label: `ipfi JS here ↔ ${PY} echo, Unix socket`,
    impl: 'ipfi js↔python',
    raw: 'raw-unix-socket',
    compareWith: ['ipfi-unix-socket', 'py-ipfi-unix'],
    open: async (sink) => ipfiOverSocket(await acceptPythonPeer('ipfi-echo'), sink, 'python ipfi echo peer'),
  }),
  echo({
    id: 'py-js-ipfi-unix',
    label: `${PY} driver ↔ ipfi JS echo child, Unix socket`,
    impl: 'ipfi python↔js',
    raw: 'py-raw-unix',
    compareWith: ['py-ipfi-unix', 'ipfi-unix-socket'],
    open: driven('js-echo', 'python driver of the JS echo child'),
  }),
  ...(HAS_GRPCIO
    ? [echo({
        id: 'grpcio-unary-unix',
        label: `${PY} grpcio (grpc.aio) unary call, Unix socket`,
        impl: 'grpcio',
        raw: 'py-raw-unix',
        compareWith: ['py-raw-unix', 'grpc-unary-unix'],
        iterScale: 0.1,
        throughputScale: 0.04,
        note: 'fewer round trips, to keep --quick short',
        open: driven('grpc-unary', 'python grpcio unary driver'),
      })]
    : []),
  echo({
    id: 'py-ipfi-proc-unix',
    label: `${PY} ipfi remote().echo(), connect() Unix socket (Python both ends)`,
    raw: 'py-raw-unix',
    compareWith: [...(HAS_GRPCIO ? ['grpcio-unary-unix'] : []), 'py-raw-unix', 'ipfi-proc-unix'],
    open: driven('ipfi-calls', 'python ipfi calls driver'),
  }),
  echo({
    id: 'js-py-proc-unix',
    label: `ipfi JS remote().echo() here → ${PY} listen() server, Unix socket`,
    impl: 'ipfi js↔python',
    raw: 'raw-unix-socket',
    compareWith: ['ipfi-proc-unix', 'py-ipfi-proc-unix'],
    open: callsToPython,
  }),
  oneway({
    id: 'py-raw-unix-oneway',
    label: `${PY} raw one-way, Unix socket, one write per message`,
    impl: 'raw python',
    open: driven('raw-count', 'python raw one-way driver'),
  }),
  oneway({
    id: 'py-ipfi-unix-oneway',
    label: `${PY} ipfi channel one-way, Unix socket (Python both ends)`,
    raw: 'py-raw-unix-oneway',
    compareWith: ['py-raw-unix-oneway', 'ipfi-unix-socket-oneway'],
    open: driven('ipfi-count', 'python ipfi one-way driver'),
  }),
  oneway({
    id: 'ipfi-unix-socket-oneway',
    label: 'ipfi connectWire channel one-way, Unix socket (JS both ends)',
    impl: 'ipfi',
    open: async (sink) => ipfiOverSocket(await acceptChild('ipfi-socket-count.mjs', 'unix'), sink, 'ipfi socket counting child'),
  }),
  oneway({
    id: 'js-py-ipfi-unix-oneway',
    label: `ipfi JS here → ${PY} counting peer, Unix socket`,
    impl: 'ipfi js↔python',
    compareWith: ['ipfi-unix-socket-oneway', 'py-ipfi-unix-oneway'],
    open: async (sink) => ipfiOverSocket(await acceptPythonPeer('ipfi-count'), sink, 'python ipfi counting peer'),
  }),
]
