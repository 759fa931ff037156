// npm run demo: two worker processes and a worker thread, wired to each other with channels.
import { channel, fork, spawnWorker, ConnectionLostError } from 'ipfi'

const t0 = performance.now()
const log = (who, text) => console.log(`${(performance.now() - t0).toFixed(0).padStart(5)} ms  ${who.padEnd(8)} ${text}`)
const worker = new URL('./demo-worker.mjs', import.meta.url)

const a = fork(worker, { data: { name: 'A' } })
const b = fork(worker, { data: { name: 'B' } })
const t = spawnWorker(worker, { data: { name: 'T' } })
log('parent', `forked A (pid ${a.pid}) and B (pid ${b.pid}), started thread T`)

// Each child reports to the parent on its own channel; print what they say.
const reports = [a, b, t].map(async (c) => {
  try {
    for await (const { from, text } of c.receiver) log(from, text)
  } catch (e) {
    if (!(e instanceof ConnectionLostError)) throw e
  }
})

// 1. Wire A to B: A gets the sender, B gets the receiver, of a channel the parent made.
const [toB, fromA] = channel()
a.sender.send({ cmd: 'produce', to: toB, count: 3 })
b.sender.send({ cmd: 'consume', from: fromA })
log('parent', 'handed A a Sender and B its Receiver: A and B now talk over that channel')

// 2. Move a receiver that already holds messages (one of them holds a receiver of its own).
const [qtx, qrx] = channel()
const [innerTx, innerRx] = channel()
innerTx.send('nested message')
innerTx.close()
qtx.send('queued 1')
qtx.send({ note: 'queued 2 carries a receiver', inner: innerRx })
t.sender.send({ cmd: 'consume', from: qrx })
qtx.send('sent after the move: follows it')
qtx.close()
log('parent', 'moved a Receiver with 2 queued messages to T, then sent one more')

// 3. Kill a busy worker and show the clean error.
await new Promise((r) => setTimeout(r, 300))
b.sender.send({ cmd: 'hang' })
await new Promise((r) => setTimeout(r, 200))
const pending = b.receiver.recv() // B will never answer: it is about to die
b.kill('SIGKILL')
log('parent', `sent SIGKILL to B (pid ${b.pid}) while waiting for its reply`)
try {
  await pending
} catch (e) {
  log('parent', `the pending recv ended cleanly: ${e.name}: ${e.message}`)
  log('parent', `  cause: ${JSON.stringify(e.cause)}`)
}
try {
  b.sender.send({ cmd: 'consume' })
} catch (e) {
  log('parent', `sending to B now throws ${e.name}`)
}

// Done: close our ends; A and T exit on their own once their receivers disconnect.
for (const c of [a, t]) c.sender.close()
const exits = await Promise.all([a, b, t].map((c) => c.exited))
await Promise.all(reports)
log('parent', `exits: A ${JSON.stringify(exits[0])}, B ${JSON.stringify(exits[1])}, T ${JSON.stringify(exits[2])}`)
