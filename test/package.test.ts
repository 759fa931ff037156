import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'

const root = new URL('..', import.meta.url)
const run = (args: string[]) => execFileSync(process.execPath, args, { cwd: root, encoding: 'utf8', timeout: 30_000 }).trim()
/** Script lines that load the built package under its own URL as `a`, a copy apart from `import 'ipfi'`. */
const importCopyA = `import { pathToFileURL } from 'node:url'
       const url = pathToFileURL('dist/index.js').href
       const a = await import(url + '?copy=a')`
/** Run `body` as an ES module in which `a` and `b` are two copies of ipfi (one module under two URLs). */
const runWithTwoCopies = (body: string) =>
  run(['--input-type=module', '-e', `${importCopyA}
       const b = await import(url + '?copy=b')
       ${body}`])

describe('the built package, imported by its name', () => {
  it('works from ESM', () => {
    const out = run([
      '--input-type=module',
      '-e',
      `import { channel, Sender } from 'ipfi'
       const [tx, rx] = channel(); tx.send({ n: 1n }); const v = await rx.recv()
       console.log(JSON.stringify([typeof v.n, tx instanceof Sender]))`,
    ])
    expect(JSON.parse(out)).toEqual(['bigint', true])
  })

  it('works from CommonJS', () => {
    const out = run([
      '-e',
      `const { channel, Receiver } = require('ipfi')
       const [tx, rx] = channel(); tx.send('cjs')
       rx.recv().then((v) => console.log(JSON.stringify([v, rx instanceof Receiver])))`,
    ])
    expect(JSON.parse(out)).toEqual(['cjs', true])
  })

  it('keeps class identity across the ESM and CJS copies in one process (dual-package hazard)', () => {
    const out = run([
      '--input-type=module',
      '-e',
      `import * as esm from 'ipfi'; import { createRequire } from 'node:module'
       const cjs = createRequire(import.meta.url)('ipfi')
       const [tx, rx] = cjs.channel(); rx.close()
       let err; try { tx.send(1) } catch (e) { err = e }
       console.log(JSON.stringify([esm.Sender !== cjs.Sender, tx instanceof esm.Sender, rx instanceof esm.Receiver,
         err instanceof esm.DisconnectedError, new cjs.ConnectionLostError('x') instanceof esm.DisconnectedError,
         new cjs.AddressInUseError('x') instanceof esm.AddressInUseError]))`,
    ])
    expect(JSON.parse(out)).toEqual([true, true, true, true, true, true])
  })

  it('two ESM copies of ipfi sharing one msgpackr both decode handles and registered errors', () => {
    // One module imported under two URLs is two copies of ipfi over one msgpackr: the copy loaded
    // last owns msgpackr's decoders for the ipfi tags, and the first copy must still work.
    const out = runWithTwoCopies(
      `class AppError extends Error { name = 'AppError' }
       a.registerErrorClass(AppError)
       const [wa, wb] = a.memoryWirePair()
       const left = a.connectWire(wa), right = a.connectWire(wb)
       const [tx, rx] = a.channel()
       left.sender.send({ tx, err: new AppError('boom') })
       const got = await right.receiver.recv()
       got.tx.send('through the moved sender')
       const v = await rx.recv()
       left.close(); right.close()
       console.log(JSON.stringify([a.Sender !== b.Sender, got.tx instanceof a.Sender, v,
         got.err instanceof AppError, got.err.name, got.err.message]))`,
    )
    expect(JSON.parse(out)).toEqual([true, true, 'through the moved sender', true, 'AppError', 'boom'])
  })

  it('in-process channels across two copies: a channel of one carried and used by the other, with bare values, handles and an empty queue', () => {
    const out = runWithTwoCopies(
      `const [carry, carried] = a.channel()
       const [tx, rx] = b.channel()
       const [htx, hrx] = b.channel()
       carry.send({ tx, rx }) // copy b's ends, wrapped by copy a's classes now
       const { tx: aTx, rx: aRx } = await carried.recv()
       const empty = aRx.tryRecv()
       const waiting = aRx.recv()
       aTx.send(undefined)
       aTx.send({ h: htx }) // an Entry made by copy a, queued in copy b's port
       aTx.send(0)
       const got = [await waiting, await aRx.recv(), await aRx.recv()]
       got[1].h.send('via the handle')
       console.log(JSON.stringify([empty, got[0] === undefined, got[1].h instanceof a.Sender, got[2], await hrx.recv()]))`,
    )
    expect(JSON.parse(out)).toEqual([{ ok: false, reason: 'empty' }, true, true, 0, 'via the handle'])
  })

  it('transfer() across two copies: a value one copy marked moves its buffers when the other sends it, in process and over a wire', () => {
    const out = runWithTwoCopies(
      `const [tx, rx] = b.channel()
       const local = Buffer.alloc(100_000, 1)
       tx.send(a.transfer({ local }, [local]))
       const [wa, wb] = b.memoryWirePair()
       const left = b.connectWire(wa), right = b.connectWire(wb)
       const wired = Buffer.alloc(100_000, 2)
       left.sender.send(a.transfer({ wired }, [wired]))
       const got = [(await rx.recv()).local, (await right.receiver.recv()).wired]
       left.close(); right.close()
       console.log(JSON.stringify([local.byteLength, wired.byteLength, got[0].length, got[0][0], got[1].length, got[1][0]]))`,
    )
    expect(JSON.parse(out)).toEqual([0, 0, 100_000, 1, 100_000, 2])
  })

  it('procedures across two copies of ipfi in one process: an endpoint from one works with the other', () => {
    const out = run([
      '--input-type=module',
      '-e',
      `import { createRequire } from 'node:module'
       ${importCopyA}
       const cjs = createRequire(import.meta.url)('ipfi')
       const ep = a.expose({ add: (x, y) => x + y, async *ticks() { yield 1; yield 2 } })
       const api = cjs.remote(ep)
       const got = []
       for await (const t of api.ticks()) got.push(t)
       console.log(JSON.stringify([ep instanceof cjs.Endpoint, await api.add(2, 3), got]))
       api[Symbol.dispose](); ep.close()`,
    ])
    expect(JSON.parse(out)).toEqual([true, 5, [1, 2]])
  })

  it('declares ESM and CJS entries with types first, and no install scripts', () => {
    const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8'))
    expect(pkg.name).toBe('ipfi')
    expect(pkg.license).toBe('MIT OR Apache-2.0')
    expect(pkg.engines.node).toBe('>=20')
    expect(Object.keys(pkg.exports['.'].import)[0]).toBe('types')
    expect(Object.keys(pkg.exports['.'].require)[0]).toBe('types')
    for (const s of ['preinstall', 'install', 'postinstall']) expect(pkg.scripts?.[s]).toBeUndefined()
    expect(Object.keys(pkg.dependencies).sort()).toEqual(['msgpackr', 'serialize-javascript'])
    for (const f of ['dist/index.js', 'dist/index.cjs', 'dist/index.d.ts', 'dist/index.d.cts']) {
      expect(() => readFileSync(new URL(f, root))).not.toThrow()
    }
  })

  it('types show the API only: no implementation classes, brands or boot hooks', () => {
    for (const f of ['dist/index.d.ts', 'dist/index.d.cts']) {
      const dts = readFileSync(new URL(f, root), 'utf8')
      // What the public names are: the one export list at the end of the typings.
      const list = /export \{([^}]*)\};\s*$/.exec(dts)![1]!.split(',').map((n) => n.trim().replace(/^type /, ''))
      expect(list).toHaveLength(86)
      expect(list).toContain('Link')
      for (const internal of ['__ipfiBootChild', '__ipfiBootWorker', 'LinkImpl', 'Port', 'PeerEnd', 'HandleAccess']) expect(list).not.toContain(internal)
      // ...and nothing behind them leaks into the declarations users read.
      for (const leak of [/declare class (Port|LinkImpl)\b/, /\bHandleAccess\b/, /\bonWireEnd\b/, /__ipfiBoot/, /\bsendValue\b/, /\breleaseRoute\b/]) expect(dts).not.toMatch(leak)
    }
    // Link is a type users hold (connection.link, peer.link), not a class they construct.
    expect(run(['--input-type=module', '-e', `import * as ipfi from 'ipfi'; console.log('Link' in ipfi, typeof ipfi.connectWire)`])).toBe('false function')
  })
})
