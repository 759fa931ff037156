import { HANDLE } from '../codec/walk.js'
import { ConnectionLostError, DisconnectedError, HandleError } from '../errors.js'
import type { HandleAccess } from '../link/handles.js'
import { waitBegin, waitEnd } from '../link/event-loop.js'
import { EMPTY, entryOf, type Cap, type Entry, type Port, type Waiter } from '../link/port.js'
import { CONSTRUCT, PORT_OF, brandClass } from '../brand.js'
import { trackReceiver, untrackReceiver } from './finalize.js'
import { giveUpWith, type RecvOptions } from './give-up.js'

export type { RecvOptions } from './give-up.js'

/** @internal Receive with the message's encoded size (used by the procedures layer's limits). */
export const RECV_SIZED: unique symbol = Symbol('ipfi.recvSized')
/** @internal Take a queued message with its size, never waiting (undefined when none is queued). */
export const TAKE_SIZED: unique symbol = Symbol('ipfi.takeSized')
/** @internal Take a queued message's value, never waiting (EMPTY when none is queued). */
const TAKE_VALUE: unique symbol = Symbol('ipfi.takeValue')

/**
 * @internal Ends a pending receive from outside, without an AbortSignal (whose listeners cost a
 * few µs per receive): while a receive given this interrupt waits, `cancel(reason)` rejects it.
 */
export class Interrupt {
  /** How to end the receive waiting now (null when none waits). */
  pending: { interrupt(reason: unknown): void } | null = null
  cancel(reason: unknown): void {
    const w = this.pending
    this.pending = null
    w?.interrupt(reason)
  }
}

/**
 * @internal A message with what the procedures layer checks: its encoded size and its handles. It
 * is the queued entry itself (nothing is copied per message).
 */
export interface Sized<T> {
  readonly value: T
  /** Encoded size; 0 if the message never crossed a wire. */
  readonly bytes: number
  /** The handles that arrived inside it, in table order (null when none). */
  readonly handles: readonly unknown[] | null
}
const sized = <T>(e: Entry): Sized<T> => e as Sized<T>

export type TryRecvResult<T> = { ok: true; value: T } | { ok: false; reason: 'empty' | 'disconnected' }

const LIVE = 0
const MOVED = 1
const CLOSED = 2

/**
 * The receiving end of a channel. Messages come out in the order they were sent (per sender and
 * process). Once every sender is closed and the queue is drained, `recv` rejects with
 * `DisconnectedError` (`ConnectionLostError` if the last senders went down with a link).
 *
 * A Receiver can be sent inside a message to another process, even with messages queued: they move
 * with it in order, and messages still in flight to its old place follow it.
 */
export class Receiver<T> {
  #port: Port | null
  #state = LIVE
  #movedTo = ''

  /** @internal Receivers come from `channel()` or arrive in messages. */
  constructor(token: typeof CONSTRUCT, port: Port) {
    if (token !== CONSTRUCT) throw new TypeError('use channel() to make a channel')
    this.#port = port
    trackReceiver(this, port)
  }

  /** The next message. Rejects with `DisconnectedError` once every sender is gone and the queue is empty. */
  recv(options?: RecvOptions): Promise<T> {
    return this.#receive(false, options) as Promise<T>
  }

  /** @internal The next message with its encoded size and handles. */
  [RECV_SIZED](options?: RecvOptions, interrupt?: Interrupt): Promise<Sized<T>> {
    return this.#receive(true, options, interrupt) as Promise<Sized<T>>
  }

  #receive(withSize: boolean, options?: RecvOptions, interrupt?: Interrupt): Promise<unknown> {
    let port: Port
    try {
      port = this.#live()
    } catch (e) {
      return Promise.reject(e)
    }
    if (withSize) {
      const e = port.take()
      if (e) return Promise.resolve(sized(e))
    } else {
      const value = port.takeValue()
      if (value !== EMPTY) return Promise.resolve(value)
    }
    if (port.disconnected) return Promise.reject(port.disconnectedError())
    return waitOn(port, options, withSize, interrupt)
  }

  /** @internal A queued message with its size and handles, or undefined; never waits or throws. */
  [TAKE_SIZED](): Sized<T> | undefined {
    const e = this.#state === LIVE ? this.#port!.take() : undefined
    return e && sized<T>(e)
  }

  /** @internal A queued message's value, or EMPTY; never waits or throws. */
  [TAKE_VALUE](): T | typeof EMPTY {
    return this.#state === LIVE ? (this.#port!.takeValue() as T | typeof EMPTY) : EMPTY
  }

  /** A message if one is queued now; never waits. */
  tryRecv(): TryRecvResult<T> {
    const port = this.#live()
    const value = port.takeValue()
    if (value !== EMPTY) return { ok: true, value: value as T }
    return { ok: false, reason: port.disconnected ? 'disconnected' : 'empty' }
  }

  /** Messages queued here now. */
  get size(): number {
    return this.#port?.queued ?? 0
  }

  /** Close the receiver (idempotent): queued messages are dropped and every sender learns it. */
  close(): void {
    if (this.#state !== LIVE) return
    this.#state = CLOSED
    const port = this.#port!
    this.#port = null
    untrackReceiver(this)
    port.closeReceiver()
  }

  [Symbol.dispose](): void {
    this.close()
  }

  /**
   * This receiver as a web `ReadableStream` (`Readable.fromWeb` for a Node stream; `Readable.from(rx)`
   * works too, as a Receiver is an async iterable). A message is received only when the stream's
   * reader asks for one, so nothing is read ahead. The stream closes at an orderly disconnect and
   * errors with anything else (`ConnectionLostError`); cancelling it closes the receiver.
   */
  readable(): ReadableStream<T> {
    return new ReadableStream<T>(
      {
        pull: async (controller) => {
          try {
            controller.enqueue(await this.recv())
          } catch (e) {
            if (e instanceof DisconnectedError && !(e instanceof ConnectionLostError)) controller.close()
            else controller.error(e)
          }
        },
        cancel: () => this.close(),
      },
      { highWaterMark: 0 },
    )
  }

  /**
   * Iterate until the channel is disconnected and drained. Ends normally on `DisconnectedError`;
   * throws `ConnectionLostError` if the channel went down with a lost link (a link that ended in
   * order, a child that exited with code 0, ends it normally). Breaking out of the loop
   * leaves the receiver open.
   */
  [Symbol.asyncIterator](): AsyncGenerator<T, void, undefined> {
    return new Messages<T>(this) as unknown as AsyncGenerator<T, void, undefined>
  }

  /** @internal The brand by which the codec finds this handle in a message. */
  get [HANDLE](): HandleAccess {
    return {
      kind: 'receiver',
      check: () => {
        const port = this.#live()
        if (port.hasWaiters) throw new HandleError('this Receiver cannot move while a recv() is pending on it')
        return port
      },
      detach: (): Cap => this.#take('was moved into a message'),
    }
  }

  /** @internal Hand the port to a ReceiverSet (the receiver becomes unusable). */
  [PORT_OF](): Port {
    const port = this.#live()
    if (port.hasWaiters) throw new HandleError('this Receiver cannot join a ReceiverSet while a recv() is pending on it')
    return this.#take('was added to a ReceiverSet').port
  }

  #take(why: string): Cap {
    const port = this.#live()
    this.#state = MOVED
    this.#movedTo = why
    this.#port = null
    untrackReceiver(this)
    return { kind: 'receiver', port }
  }

  #live(): Port {
    if (this.#state === LIVE) return this.#port!
    throw new HandleError(this.#state === MOVED ? `this Receiver ${this.#movedTo}` : 'this Receiver is closed')
  }

  get [Symbol.toStringTag](): string {
    return 'Receiver'
  }
}
brandClass(Receiver, 'Receiver')

/** @internal */
export function receiverFromPort<T>(port: Port): Receiver<T> {
  return new Receiver<T>(CONSTRUCT, port)
}

const DONE: IteratorReturnResult<undefined> = Object.freeze({ value: undefined, done: true as const })

/**
 * `for await (const m of rx)`: each step is one `recv`, resolved straight to its iterator result
 * (an async generator would add a promise and a resumption per message). Ends at an orderly
 * disconnect, throws anything else; `return()` (a `break`) ends the loop and leaves the receiver open.
 */
class Messages<T> {
  #rx: Receiver<T> | null
  constructor(rx: Receiver<T>) {
    this.#rx = rx
  }
  next(): Promise<IteratorResult<T, undefined>> {
    const rx = this.#rx
    if (!rx) return Promise.resolve(DONE)
    const value = rx[TAKE_VALUE]()
    if (value !== EMPTY) return Promise.resolve({ value, done: false })
    return rx.recv().then(
      (value) => ({ value, done: false }),
      (err) => {
        this.#rx = null
        if (err instanceof DisconnectedError && !(err instanceof ConnectionLostError)) return DONE
        throw err
      },
    )
  }
  return(): Promise<IteratorResult<T, undefined>> {
    this.#rx = null
    return Promise.resolve(DONE)
  }
  throw(err: unknown): Promise<IteratorResult<T, undefined>> {
    this.#rx = null
    return Promise.reject(err)
  }
  [Symbol.asyncIterator](): this {
    return this
  }
  async [Symbol.asyncDispose](): Promise<void> {
    this.#rx = null
  }
}

/** The waiter of a plain receive (no timeout, signal or interrupt): no closures to make. */
class PlainWaiter implements Waiter {
  constructor(
    private readonly res: (v: unknown) => void,
    protected readonly rej: (e: unknown) => void,
    private readonly withSize: boolean,
  ) {}
  resolve(value: unknown, entry: Entry | null): void {
    waitEnd()
    this.res(this.withSize ? sized(entry ?? entryOf(value)) : value)
  }
  reject(err: unknown): void {
    waitEnd()
    this.rej(err)
  }
}

/** A receive that only an Interrupt can end early (the procedures layer's reads). */
class InterruptibleWaiter extends PlainWaiter {
  constructor(
    res: (v: unknown) => void,
    rej: (e: unknown) => void,
    withSize: boolean,
    private readonly port: Port,
    private readonly owner: Interrupt,
  ) {
    super(res, rej, withSize)
    owner.pending = this
  }
  override resolve(value: unknown, entry: Entry | null): void {
    this.owner.pending = null
    super.resolve(value, entry)
  }
  override reject(err: unknown): void {
    this.owner.pending = null
    super.reject(err)
  }
  interrupt(reason: unknown): void {
    this.port.removeWaiter(this)
    waitEnd()
    this.rej(reason)
  }
}

/** The resolving functions of the promise made last (one executor for every plain receive, no closure per receive). */
let lastResolve: (v: unknown) => void = () => {}
let lastReject: (e: unknown) => void = () => {}
const capture = (resolve: (v: unknown) => void, reject: (e: unknown) => void): void => {
  lastResolve = resolve
  lastReject = reject
}

function waitOn(port: Port, options: RecvOptions | undefined, withSize = false, interrupt?: Interrupt): Promise<unknown> {
  if (options?.signal === undefined && options?.timeout === undefined) {
    const p = new Promise(capture)
    port.addWaiter(interrupt ? new InterruptibleWaiter(lastResolve, lastReject, withSize, port, interrupt) : new PlainWaiter(lastResolve, lastReject, withSize))
    waitBegin()
    return p
  }
  // With a timeout or a signal: nothing is lost if we give up (the waiter is removed first).
  return giveUpWith<unknown>(options, 'recv', (resolve, reject) => {
    const done = () => {
      if (interrupt) interrupt.pending = null
      waitEnd()
    }
    const w: Waiter = {
      resolve(value, entry) {
        done()
        resolve(withSize ? sized(entry ?? entryOf(value)) : value)
      },
      reject(err) {
        done()
        reject(err)
      },
    }
    if (interrupt) {
      interrupt.pending = {
        interrupt(reason) {
          port.removeWaiter(w)
          done()
          reject(reason)
        },
      }
    }
    port.addWaiter(w)
    waitBegin()
    return () => {
      port.removeWaiter(w)
      done()
    }
  })
}
