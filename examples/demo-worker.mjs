// A worker for the demo: runs as a forked process or as a worker thread, and obeys the parent.
import { parent } from 'ipfi'
import { isMainThread } from 'node:worker_threads'

const { receiver, sender, data } = await parent()
const me = data.name
const say = (text) => sender.send({ from: me, text })
say(`up (${isMainThread ? `process ${process.pid}` : 'worker thread'})`)

for await (const job of receiver) {
  switch (job.cmd) {
    case 'produce': {
      // `job.to` is a Sender that arrived inside the message: another worker holds its receiver.
      for (let i = 1; i <= job.count; i++) job.to.send(`greeting ${i} from ${me}`)
      job.to.close()
      say(`sent ${job.count} greetings on the channel the parent handed me`)
      break
    }
    case 'consume': {
      // `job.from` is a Receiver that was moved here; iteration ends when every sender is closed.
      const got = []
      for await (const m of job.from) {
        // A message may hold a receiver of its own, moved along with its queue: drain it too.
        if (m?.inner) got.push({ ...m, inner: `a receiver holding [${(await drain(m.inner)).join(', ')}]` })
        else got.push(m)
      }
      say(`received ${got.length} messages in order: ${got.map((m) => JSON.stringify(m)).join(', ')}`)
      break
    }
    case 'hang': {
      say('working on something long (the parent will kill me)')
      await new Promise(() => setInterval(() => {}, 1000))
      break
    }
  }
}
sender.close()

async function drain(rx) {
  const out = []
  for await (const m of rx) out.push(JSON.stringify(m))
  return out
}
