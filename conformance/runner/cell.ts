/**
 * One cell of the matrix: a scenario over one wire, either two roles (each in some language) or a
 * victim role facing the runner's raw peer. Starts the processes, joins them, kills at marks, and
 * judges: each role's verdict and exit, what the runner saw on the wire, the raw peer's checks.
 */
import { randomBytes } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { admitAsClient, admitAsServer } from './admission.js'
import { ByteReader } from './frames.js'
import { CONFORMANCE_DIR, type Language } from './languages.js'
import { runRaw, valuesAttack, type RawExpect, type Step } from './raw.js'
import { relay, WireWatch, writerFor, type Pace } from './relay.js'
import { RoleProcess, type Exit } from './role-process.js'

export const WIRES = ['stdio', 'stdio-bytewise', 'unix', 'unix-secret', 'tcp'] as const
export type WireName = (typeof WIRES)[number]

export interface RoleSpec {
  about?: string
  limits?: Record<string, number>
  /** Other link options (idleTimeoutMs). */
  link?: Record<string, number>
  args?: Record<string, unknown>
  expect?: 'pass' | 'killed' | { exit: number }
}

export interface Scenario {
  name: string
  about: string
  kind?: 'hostile'
  wires: 'all' | WireName[]
  roles?: { a: RoleSpec; b: RoleSpec }
  kill?: { role: 'a' | 'b'; at: string }
  /** Cells expected to fail because of a known bug (the runner checks that they fail, and only so). */
  knownFailures?: KnownFailure[]
  /** Checked on the stdio wires, where the runner sees the frames. */
  onTheWire?: Partial<Record<'a' | 'b', { kinds?: string[]; capTags?: number[] }>>
  victim?: RoleSpec
  attack?: Step[] | 'values'
  expect?: RawExpect
}

export interface KnownFailure {
  /** [language of a, language of b] */
  pairs: [string, string][]
  why: string
  /** Every failed check of such a cell matches this (a regular expression). */
  match: string
}

export interface ScenarioFile {
  frames: Record<string, string>
  healthy: { steps: Step[]; expect: RawExpect }
  scenarios: Scenario[]
}

export const SCENARIO_FILE: ScenarioFile = JSON.parse(readFileSync(resolve(CONFORMANCE_DIR, 'scenarios.json'), 'utf8'))
const FIXTURES = JSON.parse(readFileSync(resolve(CONFORMANCE_DIR, 'values.json'), 'utf8')).fixtures as { hex: string; also?: string[] }[]

export function wiresOf(s: Scenario): WireName[] {
  return s.wires === 'all' ? [...WIRES] : s.wires
}

/** A whole cell may take this long (then everything is killed and the cell fails with what it saw). */
export const CELL_MS = 120_000
/** A single wait of the raw peer. */
const RAW_GUARD_MS = 30_000

export interface CellResult {
  problems: string[]
  report: string
}

const isStdio = (w: WireName) => w === 'stdio' || w === 'stdio-bytewise'
const paceOf = (w: WireName): Pace => (w === 'stdio-bytewise' ? 'bytes' : 'chunks')

interface Place {
  /** Where a listening role binds. */
  address: string
  dir: string | null
  secret: string | null
}

function place(wire: WireName): Place {
  if (wire === 'tcp') return { address: 'tcp://127.0.0.1:0', dir: null, secret: null }
  const dir = mkdtempSync(join(tmpdir(), 'ipfi-conf-'))
  return { address: `unix:${join(dir, 's.sock')}`, dir, secret: wire === 'unix-secret' ? randomBytes(16).toString('hex') : null }
}

function socketTo(address: string): net.Socket {
  if (address.startsWith('unix:')) return net.connect(address.slice('unix:'.length))
  const m = /^tcp:\/\/(.+):(\d+)$/.exec(address)
  if (!m) throw new Error(`cannot connect to ${address}`)
  return net.connect(Number(m[2]), m[1]!.replace(/^\[|\]$/g, ''))
}

function deadline<T>(p: Promise<T>, ms: number, onTimeout: () => void): Promise<T | 'timeout'> {
  let timer: NodeJS.Timeout | undefined
  return Promise.race([
    p,
    new Promise<'timeout'>((r) => {
      timer = setTimeout(() => {
        onTimeout()
        r('timeout')
      }, ms)
    }),
  ]).finally(() => clearTimeout(timer))
}

const clip = (s: string, n = 1500) => (s.length > n ? `${s.slice(0, n)}... (${s.length - n} more characters)` : s)

/** Judge one role against its expectation. */
function judge(p: RoleProcess, exit: Exit, expect: RoleSpec['expect'] = 'pass'): string[] {
  const out: string[] = []
  if (expect === 'killed') {
    if (!p.killedByRunner) out.push(`${p.name} was to be killed at its mark, but ${p.marks.length ? 'it' : 'it never reached the mark and'} ended with code ${exit.code} signal ${exit.signal}`)
    else if (exit.signal !== 'SIGKILL') out.push(`${p.name} was killed but ended with code ${exit.code} signal ${exit.signal}`)
    return out
  }
  const code = typeof expect === 'object' ? expect.exit : 0
  if (!p.verdict) out.push(`${p.name} gave no verdict`)
  else if (p.verdict.verdict !== 'pass') {
    if (!p.verdict.failures?.length) out.push(`${p.name} failed (no details)`)
    for (const f of p.verdict.failures ?? []) out.push(`${p.name} failed: ${clip(String(f))}`)
  }
  if (exit.code !== code) out.push(`${p.name} exited with code ${exit.code} signal ${exit.signal}, expected code ${code}`)
  if (p.strayStdout) out.push(`${p.name} wrote ${p.strayStdout} bytes on stdout, which is not its wire`)
  if (p.strayControl.length) out.push(`${p.name} wrote lines on fd 3 that are no event: ${JSON.stringify(p.strayControl.slice(0, 3))}`)
  return out
}

/** Two roles, `a` in `la` and `b` in `lb`, over `wire`. */
export async function runPair(s: Scenario, wire: WireName, la: Language, lb: Language): Promise<CellResult> {
  const roles = s.roles!
  const problems: string[] = []
  const procs: RoleProcess[] = []
  let watch: WireWatch | null = null
  const where = isStdio(wire) ? null : place(wire)
  const env = where?.secret ? { IPFI_CONFORMANCE_SECRET: where.secret } : undefined
  const killAll = () => procs.forEach((p) => p.child.exitCode === null && p.child.signalCode === null && p.kill())
  const armKill = (p: RoleProcess, role: 'a' | 'b') => {
    if (s.kill?.role === role) void p.mark(s.kill.at).then(() => p.kill())
  }
  const exits: (Exit | null)[] = [null, null]
  try {
    const run = async () => {
      let a: RoleProcess
      let b: RoleProcess
      if (!where) {
        a = new RoleProcess(la, s.name, 'a', ['stdio'], { stdio: true })
        b = new RoleProcess(lb, s.name, 'b', ['stdio'], { stdio: true })
        procs.push(a, b)
        watch = new WireWatch(['a', 'b'])
        void relay('a', a.stdout, b.stdin, paceOf(wire), watch)
        void relay('b', b.stdout, a.stdin, paceOf(wire), watch)
      } else {
        b = new RoleProcess(lb, s.name, 'b', ['listen', where.address], { stdio: false, env })
        procs.push(b)
        const address = await b.listening
        a = new RoleProcess(la, s.name, 'a', ['connect', address], { stdio: false, env })
        procs.push(a)
      }
      armKill(a, 'a')
      armKill(b, 'b')
      return Promise.all([a.exited, b.exited])
    }
    const r = await deadline(run(), CELL_MS, () => {
      problems.push(`the cell did not end within ${CELL_MS} ms: killed`)
      killAll()
    })
    void r
    for (const [i, p] of procs.entries()) exits[i] = await p.exited
  } catch (e) {
    problems.push(`the runner failed: ${(e as Error).message}`)
    killAll()
    for (const [i, p] of procs.entries()) exits[i] = await p.exited
  } finally {
    if (where?.dir) rmSync(where.dir, { recursive: true, force: true })
  }
  for (const [i, p] of procs.entries()) if (exits[i]) problems.push(...judge(p, exits[i]!, roles[p.role as 'a' | 'b'].expect))
  const w = watch as WireWatch | null
  if (w) {
    for (const side of ['a', 'b'] as const) {
      if (s.kill?.role !== side || w.hello[side]) w.checkAnnounced(side, roles[side].limits)
      w.checkSeen(side, s.onTheWire?.[side])
    }
    problems.push(...w.problems.map((x) => `on the wire: ${x}`))
  }
  const report = [
    `${s.name} over ${wire}: a in ${la.name}, b in ${lb.name}`,
    ...(w ? w.summary() : []),
    ...procs.map((p, i) => p.report(exits[i] ?? null)),
  ].join('\n')
  return { problems, report }
}

export type VictimSide = 'stdio' | 'listens' | 'connects'

export function victimSides(wire: WireName): VictimSide[] {
  return isStdio(wire) ? ['stdio'] : ['listens', 'connects']
}

/** The victim role in `lang` over `wire`, facing the runner's raw peer. */
export async function runHostile(s: Scenario, wire: WireName, side: VictimSide, lang: Language): Promise<CellResult> {
  const problems: string[] = []
  const log: string[] = []
  const victim = s.victim!
  const phase = (victim.args ?? {}).phase
  const attack: Step[] = s.attack === 'values' ? valuesAttack(FIXTURES) : s.attack!
  const sessions: { steps: Step[]; expect: RawExpect; what: string }[] = [{ steps: attack, expect: s.expect!, what: 'the attack' }]
  if (side !== 'stdio' && (phase === 'handshake' || phase === 'open')) sessions.push({ ...SCENARIO_FILE.healthy, what: 'the well-behaved second peer' })
  const ctx = { frames: SCENARIO_FILE.frames, limits: victim.limits, guardMs: RAW_GUARD_MS }
  const where = side === 'stdio' ? null : place(wire)
  const secret = where?.secret ? Buffer.from(where.secret) : null
  const env = where?.secret ? { IPFI_CONFORMANCE_SECRET: where.secret } : undefined
  let proc: RoleProcess | null = null
  let server: net.Server | null = null
  const sockets: net.Socket[] = []
  let exit: Exit | null = null

  const session = async (n: number, io: { reader: ByteReader; write(b: Buffer): void; end(): void }) => {
    const { steps, expect, what } = sessions[n]!
    log.push(`-- session ${n + 1}: ${what}`)
    const r = await runRaw(io, steps, expect, ctx)
    log.push(...r.log)
    problems.push(...r.problems.map((p) => `${what}: ${p}`))
  }
  const overSocket = async (n: number, socket: net.Socket, admit: typeof admitAsClient) => {
    sockets.push(socket)
    socket.on('error', () => {})
    const reader = new ByteReader(socket)
    const write = (b: Buffer) => void (socket.destroyed || socket.write(b))
    try {
      await admit(reader, write, secret)
    } catch (e) {
      problems.push(`${sessions[n]!.what}: admission: ${(e as Error).message}`)
      socket.destroy()
      return
    }
    await session(n, { reader, write, end: () => socket.end() })
    socket.destroy()
  }

  try {
    const run = async () => {
      if (side === 'stdio') {
        proc = new RoleProcess(lang, s.name, 'victim', ['stdio'], { stdio: true })
        const w = writerFor(proc.stdin, paceOf(wire))
        await session(0, { reader: new ByteReader(proc.stdout), write: (b) => w.write(b), end: () => w.end() })
      } else if (side === 'listens') {
        proc = new RoleProcess(lang, s.name, 'victim', ['listen', where!.address], { stdio: false, env })
        const address = await proc.listening
        for (let n = 0; n < sessions.length; n++) {
          const socket = socketTo(address)
          await new Promise<void>((res, rej) => socket.once('connect', res).once('error', rej))
          await overSocket(n, socket, admitAsClient)
        }
      } else {
        const incoming: net.Socket[] = []
        const waiting: ((s: net.Socket) => void)[] = []
        server = net.createServer((sock) => {
          const w = waiting.shift()
          if (w) w(sock)
          else incoming.push(sock)
        })
        const listenOn = where!.address.startsWith('unix:') ? where!.address.slice('unix:'.length) : 0
        await new Promise<void>((res) => (typeof listenOn === 'string' ? server!.listen(listenOn, res) : server!.listen(0, '127.0.0.1', res)))
        const address = typeof listenOn === 'string' ? where!.address : `tcp://127.0.0.1:${(server.address() as net.AddressInfo).port}`
        proc = new RoleProcess(lang, s.name, 'victim', ['connect', address], { stdio: false, env })
        const p = proc as RoleProcess
        for (let n = 0; n < sessions.length; n++) {
          const socket = incoming.shift() ?? (await Promise.race([new Promise<net.Socket>((r) => waiting.push(r)), p.exited.then(() => null)]))
          if (!socket) {
            problems.push(`${sessions[n]!.what}: the victim exited without connecting`)
            break
          }
          await overSocket(n, socket, admitAsServer)
        }
      }
      return (proc as RoleProcess | null)!.exited
    }
    const r = await deadline(run(), CELL_MS, () => {
      problems.push(`the cell did not end within ${CELL_MS} ms: killed`)
      ;(proc as RoleProcess | null)?.kill()
    })
    exit = r === 'timeout' ? await (proc as RoleProcess | null)!.exited : r
  } catch (e) {
    problems.push(`the runner failed: ${(e as Error).message}`)
    ;(proc as RoleProcess | null)?.kill()
    if (proc) exit = await (proc as RoleProcess).exited
  } finally {
    for (const sock of sockets) sock.destroy()
    ;(server as net.Server | null)?.close()
    if (where?.dir) rmSync(where.dir, { recursive: true, force: true })
  }
  const p = proc as RoleProcess | null
  if (p && exit) problems.push(...judge(p, exit, 'pass'))
  const report = [`${s.name} over ${wire}, the victim (${lang.name}) ${side === 'stdio' ? 'on stdio' : side === 'listens' ? 'listening' : 'connecting'}`, ...log, p ? p.report(exit) : ''].join('\n')
  return { problems, report }
}
