/**
 * Feed an ipfi Receiver into a callback: a plain `await recv()` loop (the lean idiom; `for await`
 * adds an async generator on top). Ends quietly when every sender closed or after stop(); any
 * other error (a lost link, a crashed child) goes to `onError`.
 */
import { ConnectionLostError, DisconnectedError } from 'ipfi'

export function pump(rx, onValue, onError) {
  let stopped = false
  const done = (async () => {
    for (;;) {
      let v
      try {
        v = await rx.recv()
      } catch (e) {
        if (stopped) return
        if (e instanceof DisconnectedError && !(e instanceof ConnectionLostError)) return
        onError(e)
        return
      }
      onValue(v)
    }
  })()
  return {
    done,
    stop() {
      stopped = true
    },
  }
}

/** The same loop for a child: resolves once every sender closed; any other error rejects. */
export const drain = (rx, onValue) =>
  pump(rx, onValue, (e) => {
    throw e
  }).done
