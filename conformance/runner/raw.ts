/**
 * The raw peer: the runner itself on the other end of a victim's link, writing the bytes a
 * scenario's script says (hex, or @NAME for scenarios.json `frames`) and checking what comes back.
 */
import { ByteReader, KIND, describeFrame, frame, hex, msgToExport, parseGoodbye, parseHello, parseMsg, type Frame } from './frames.js'

export interface Step {
  send?: string
  await?: 'hello' | 'msg'
  /** With await msg: the MSG must carry capabilities. */
  caps?: boolean
  /** With await msg: the MSG payload must be these bytes (hex). */
  payload?: string
  /** With await msg: the MSG payload must start with these bytes (hex). */
  payloadPrefix?: string
  /** With await msg: the MSG must go to [targetKind, id] (0: the runner's export id, 1: its inbound id). */
  target?: [number, number]
  end?: boolean
  /** A MSG to the victim's [targetKind, id] whose payload is a binary of `bin` zero bytes. */
  msg?: { target: [number, number]; bin: number }
  /** With send or msg: write it this many times. */
  repeat?: number
}

export interface RawExpect {
  /** The victim must close the link (its stream ends). */
  closes: boolean
  /** 'none': no GOODBYE after the script; a code: the last frame is GOODBYE [reason, code]. */
  goodbye: string
  /** With a code: a GOODBYE may also be missing (the victim may not be able to write it any more). */
  goodbyeOptional?: boolean
}

export interface RawIo {
  reader: ByteReader
  write(bytes: Buffer): void
  end(): void
}

export interface RawContext {
  frames: Record<string, string>
  /** The limits the victim was told to open its link with: its HELLO must announce them. */
  limits?: Record<string, number>
  guardMs: number
}

function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`hang guard: ${what} did not happen within ${ms} ms`)), ms)
    }),
  ]).finally(() => clearTimeout(timer))
}

export function bytesOf(send: string, frames: Record<string, string>): Buffer {
  if (send.startsWith('@')) {
    const f = frames[send.slice(1)]
    if (!f) throw new Error(`no frame named ${send}`)
    return hex(f)
  }
  return hex(send)
}

function binMsg([targetKind, target]: [number, number], n: number): Buffer {
  const head = Buffer.alloc(10)
  head[0] = KIND.MSG
  head[1] = targetKind
  head.writeUInt32BE(target, 2)
  const payload = Buffer.alloc(5 + n)
  payload[0] = 0xc6 // bin 32
  payload.writeUInt32BE(n, 1)
  return frame(Buffer.concat([head, payload]))
}

/** The steps of values-decode: every fixture's encodings as MSGs to the victim's inbox, then a goodbye. */
export function valuesAttack(fixtures: { hex: string; also?: string[] }[]): Step[] {
  const steps: Step[] = [{ await: 'hello' }, { send: '@HELLO' }, { await: 'msg', caps: true }]
  for (const f of fixtures) for (const h of [f.hex, ...(f.also ?? [])]) steps.push({ send: msgToExport(0, hex(h)).toString('hex') })
  steps.push({ send: '@GOODBYE' }, { end: true })
  return steps
}

/** Run `steps` against the victim, then check `expect`. Returns the problems (empty: as expected) and a log. */
export async function runRaw(io: RawIo, steps: Step[], expect: RawExpect, ctx: RawContext): Promise<{ problems: string[]; log: string[] }> {
  const problems: string[] = []
  const log: string[] = []
  const next = async (what: string): Promise<Frame | null> => {
    const f = await within(io.reader.frame(), ctx.guardMs, what)
    log.push(f ? `victim -> ${describeFrame(f)}` : 'victim closed the stream')
    return f
  }
  try {
    for (const step of steps) {
      if (step.send !== undefined || step.msg) {
        const b = step.msg ? binMsg(step.msg.target, step.msg.bin) : bytesOf(step.send!, ctx.frames)
        const n = step.repeat ?? 1
        log.push(`raw -> ${b.length > 48 ? b.subarray(0, 48).toString('hex') + '...' : b.toString('hex')}${n > 1 ? ` (${n} times)` : ''}`)
        for (let i = 0; i < n; i++) io.write(b)
      } else if (step.end) {
        log.push('raw ends its stream')
        io.end()
      } else if (step.await === 'hello') {
        const f = await next("the victim's HELLO")
        if (!f) throw new Error('the victim closed before its HELLO')
        const options = parseHello(f.body)
        for (const [k, v] of Object.entries(ctx.limits ?? {})) {
          if ((k === 'maxFrameBytes' || k === 'maxHandlesPerMessage') && options[k] !== v) problems.push(`the victim's HELLO announces ${k} ${JSON.stringify(options[k])}, its limits say ${v}`)
        }
      } else if (step.await === 'msg') {
        for (;;) {
          const f = await next('a MSG from the victim')
          if (!f) throw new Error('the victim closed while a MSG was awaited')
          if (f.kind === KIND.GOODBYE) throw new Error(`the victim said goodbye while a MSG was awaited: ${describeFrame(f)}`)
          if (f.kind !== KIND.MSG) continue
          const m = parseMsg(f.body)
          if (step.caps && m.caps.length === 0) problems.push(`expected a MSG with capabilities, got ${describeFrame(f)}`)
          if (step.payload !== undefined && !m.payload.equals(hex(step.payload))) problems.push(`expected a MSG with payload ${step.payload}, got ${describeFrame(f)}`)
          if (step.payloadPrefix !== undefined && !m.payload.subarray(0, hex(step.payloadPrefix).length).equals(hex(step.payloadPrefix))) {
            problems.push(`expected a MSG whose payload starts ${step.payloadPrefix}, got ${describeFrame(f)}`)
          }
          if (step.target && (m.targetKind !== step.target[0] || m.target !== step.target[1])) problems.push(`expected a MSG to ${JSON.stringify(step.target)}, got ${describeFrame(f)}`)
          break
        }
      } else throw new Error(`unknown step ${JSON.stringify(step)}`)
    }
    const after: Frame[] = []
    if (expect.closes) {
      for (let f; (f = await next('the victim to close the link')); ) after.push(f)
    }
    const byes = after.filter((f) => f.kind === KIND.GOODBYE)
    if (expect.goodbye === 'none') {
      if (byes.length) problems.push(`the victim sent ${byes.map(describeFrame).join(', ')}; expected no GOODBYE`)
    } else if (byes.length === 0) {
      if (!expect.goodbyeOptional) problems.push(`the victim closed without GOODBYE; expected GOODBYE [reason, ${expect.goodbye}]`)
    } else {
      const last = after[after.length - 1]!
      if (byes.length > 1 || last.kind !== KIND.GOODBYE) problems.push(`expected one GOODBYE, last: ${after.map(describeFrame).join(', ')}`)
      const [reason, failure] = parseGoodbye(byes[0]!.body)
      if (typeof reason !== 'string' || failure !== expect.goodbye) problems.push(`expected GOODBYE [reason, ${expect.goodbye}], got ${JSON.stringify([reason, failure])}`)
    }
  } catch (e) {
    problems.push((e as Error).message)
  }
  return { problems, log }
}
