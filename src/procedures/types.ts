/**
 * Options of calls through a `remote()` proxy: its defaults (`remote(endpoint, defaults)`), or one
 * call's (`proxy.name.with(options)(...args)`).
 */
export interface CallOptions {
  /** Reject with `TimeoutError` after this many milliseconds; the remote side sees its signal abort. */
  timeout?: number
  /** Abort the call: it rejects with `signal.reason` at once and the remote side sees its signal abort. */
  signal?: AbortSignal
  /** Streams (results and arguments): how many items the producer may send ahead of the consumer (default 1024). */
  window?: number
}

/** @inline */
type AnyFn = (...args: any[]) => any

export interface RemoteCall<A extends unknown[], R> {
  (...args: A): Promise<R>
  /** The same call with per-call options. */
  with(options: CallOptions): (...args: A) => Promise<R>
}

export interface RemoteStream<A extends unknown[], Y> {
  (...args: A): AsyncIterableIterator<Y>
  with(options: CallOptions): (...args: A) => AsyncIterableIterator<Y>
}

/**
 * The names that are never procedures (remote.ts).
 * @inline
 */
type NotProcedure = 'then' | 'toString' | 'valueOf' | 'toJSON'

/**
 * The type-level contract of `remote<T>()`: each function becomes one that returns a Promise of its
 * awaited result, each function returning an AsyncIterable (an async generator) becomes one that
 * returns an AsyncIterable, parameters are kept, and everything else is left out.
 */
export type RemoteMethod<F> = F extends (...args: infer A) => infer R
  ? 0 extends 1 & R
    ? RemoteCall<A, any> // a procedure typed `any` stays a plain call
    : [R] extends [never]
    ? RemoteCall<A, never> // a procedure that always throws is still callable
    : R extends AsyncIterable<infer Y>
      ? RemoteStream<A, Y>
      : RemoteCall<A, Awaited<R>>
  : never

/**
 * The typed proxy `remote<T>(endpoint)` returns: T's methods, remote. Dispose of it (`using`, or
 * `proxy[Symbol.dispose]()`) to close its session.
 */
export type Remote<T> = {
  // `then`, `toString`, `valueOf`, `toJSON` are never procedures (remote.ts).
  readonly [K in keyof T as T[K] extends AnyFn ? (K extends string ? (K extends NotProcedure ? never : K) : never) : never]: RemoteMethod<T[K]>
} & Disposable & AsyncDisposable
