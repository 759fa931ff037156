/** One role program running: its control channel (fd 3: listening, marks, verdict), stderr, exit. */
import { spawn, type ChildProcess } from 'node:child_process'
import type { Readable, Writable } from 'node:stream'
import type { Language } from './languages.js'

export interface Verdict {
  verdict: 'pass' | 'fail'
  checks?: number
  failures?: string[]
  [k: string]: unknown
}

export interface Exit {
  code: number | null
  signal: NodeJS.Signals | null
}

const TAIL = 16_000

export class RoleProcess {
  readonly name: string
  readonly role: string
  readonly child: ChildProcess
  readonly exited: Promise<Exit>
  readonly listening: Promise<string>
  verdict: Verdict | null = null
  readonly marks: string[] = []
  /** Lines on fd 3 that are not one of the events. */
  readonly strayControl: string[] = []
  stderr = ''
  /** Bytes the role wrote on stdout when stdout is not its wire. */
  strayStdout = 0
  killedByRunner = false
  #markWaiters = new Map<string, (() => void)[]>()

  /** `wire`: the wire arguments (`stdio`, `listen <address>`, `connect <address>`). `stdio`: whether stdin/stdout are its wire. */
  constructor(lang: Language, scenario: string, role: string, wire: string[], opts: { stdio: boolean; env?: Record<string, string> }) {
    this.name = `${scenario}.${role} (${lang.name})`
    this.role = role
    this.child = spawn(lang.argv[0]!, [...lang.argv.slice(1), scenario, role, ...wire], {
      stdio: [opts.stdio ? 'pipe' : 'ignore', 'pipe', 'pipe', 'pipe'],
      env: { ...process.env, ...lang.env, ...opts.env },
    })
    this.child.stdin?.on('error', () => {})
    this.child.stderr!.on('data', (d: Buffer) => {
      this.stderr = (this.stderr + d.toString()).slice(-TAIL)
    })
    if (!opts.stdio) this.child.stdout!.on('data', (d: Buffer) => (this.strayStdout += d.length))
    let onListening!: (a: string) => void
    let onNoListening!: (e: Error) => void
    this.listening = new Promise((res, rej) => {
      onListening = res
      onNoListening = rej
    })
    this.listening.catch(() => {})
    let line = ''
    const control = this.child.stdio[3] as Readable
    control.on('data', (d: Buffer) => {
      line += d.toString()
      for (let i; (i = line.indexOf('\n')) >= 0; ) {
        const text = line.slice(0, i)
        line = line.slice(i + 1)
        this.#event(text, onListening)
      }
    })
    control.on('error', () => {})
    this.exited = new Promise((resolve) => {
      this.child.on('error', (e) => {
        this.stderr += `\n[runner] cannot start: ${e.message}`
        resolve({ code: null, signal: null })
      })
      // 'close', not 'exit': it comes once the stdio pipes have ended too, so the verdict on fd 3 has been read.
      this.child.on('close', (code, signal) => resolve({ code, signal }))
    })
    void this.exited.then(() => onNoListening(new Error(`${this.name} exited before it listened`)))
  }

  #event(text: string, onListening: (a: string) => void) {
    let e: Record<string, unknown>
    try {
      e = JSON.parse(text)
    } catch {
      this.strayControl.push(text)
      return
    }
    if (typeof e.listening === 'string') onListening(e.listening)
    else if (typeof e.mark === 'string') {
      this.marks.push(e.mark)
      for (const w of this.#markWaiters.get(e.mark) ?? []) w()
      this.#markWaiters.delete(e.mark)
    } else if (e.verdict === 'pass' || e.verdict === 'fail') this.verdict = e as Verdict
    else this.strayControl.push(text)
  }

  /** Resolves when the role writes mark `name` (or at once if it has). */
  mark(name: string): Promise<void> {
    if (this.marks.includes(name)) return Promise.resolve()
    return new Promise((r) => {
      const ws = this.#markWaiters.get(name) ?? []
      ws.push(r)
      this.#markWaiters.set(name, ws)
    })
  }

  get stdin(): Writable {
    return this.child.stdin!
  }
  get stdout(): Readable {
    return this.child.stdout!
  }

  kill(): void {
    this.killedByRunner = true
    this.child.kill('SIGKILL')
  }

  /** For the failure report. */
  report(exit: Exit | null): string {
    return [
      `--- ${this.name}: exit ${exit ? `code ${exit.code} signal ${exit.signal}` : 'still running'}${this.killedByRunner ? ' (killed by the runner)' : ''}`,
      `verdict: ${JSON.stringify(this.verdict)}`,
      this.marks.length ? `marks: ${this.marks.join(', ')}` : '',
      this.strayControl.length ? `stray lines on fd 3: ${JSON.stringify(this.strayControl.slice(0, 5))}` : '',
      this.strayStdout ? `${this.strayStdout} bytes written on stdout` : '',
      `stderr:\n${this.stderr.trimEnd()}`,
    ]
      .filter(Boolean)
      .join('\n')
  }
}
