// comlink echo worker: exposes `echo(m)` on parentPort through comlink's node adapter. When the
// parent releases its proxy, comlink removes its listener and the worker ends by itself.
import { parentPort } from 'node:worker_threads'
import * as Comlink from 'comlink/dist/esm/comlink.mjs'
import nodeEndpoint from 'comlink/dist/esm/node-adapter.mjs'

Comlink.expose({ echo: (m) => m }, nodeEndpoint(parentPort))
