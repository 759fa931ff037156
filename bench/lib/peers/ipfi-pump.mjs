/**
 * Feed an ipfi Receiver into a callback, in one of three loop styles (`style`):
 *   'recv'      a plain `await recv()` per message (the idiom the README shows first; the default)
 *   'for-await' `for await (const m of rx)` (the Receiver's async iterator)
 *   'tuned'     take what is queued with tryRecv() and wait with recv() only when nothing is
 * Ends quietly when every sender closed or after stop(); any other error (a lost link, a crashed
 * child) goes to `onError`.
 */
import { ConnectionLostError, DisconnectedError } from 'ipfi'

export const LOOP_STYLES = ['recv', 'for-await', 'tuned']

const quiet = (e) => e instanceof DisconnectedError && !(e instanceof ConnectionLostError)

export function pump(rx, onValue, onError, style = 'recv') {
  let stopped = false
  const fail = (e) => {
    if (stopped || quiet(e)) return
    onError(e)
  }
  const loops = {
    async recv() {
      for (;;) {
        let v
        try {
          v = await rx.recv()
        } catch (e) {
          return fail(e)
        }
        onValue(v)
      }
    },
    async 'for-await'() {
      try {
        for await (const v of rx) onValue(v)
      } catch (e) {
        fail(e)
      }
    },
    async tuned() {
      for (;;) {
        const r = rx.tryRecv()
        if (r.ok) {
          onValue(r.value)
          continue
        }
        let v
        try {
          v = await rx.recv()
        } catch (e) {
          return fail(e)
        }
        onValue(v)
      }
    },
  }
  if (!loops[style]) throw new Error(`unknown loop style ${style}`)
  const done = loops[style]()
  return {
    done,
    stop() {
      stopped = true
    },
  }
}

/** The same loop for a child: resolves once every sender closed; any other error rejects. */
export const drain = (rx, onValue, style) =>
  pump(rx, onValue, (e) => {
    throw e
  }, style).done
