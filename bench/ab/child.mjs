// A/B child: the other end for bench/ab/one.mjs, loading ipfi from IPFI_DIST.
const { parent, expose } = await import(process.env.IPFI_DIST)
const { receiver, sender } = await parent()
const mode = process.env.AB_CHILD
if (mode === 'proc') {
  sender.send(expose({ cpu: () => process.cpuUsage(), echo: (m) => m, async *items(n) { for (let i = 0; i < n; i++) yield i }, async sum(s, us = 0) { let t = 0; for await (const x of s) { t += x; if (us) { const u = performance.now() + us / 1000; while (performance.now() < u); } } return t } }))
  sender.close()
} else if (mode === 'fanout') {
  const loops = []
  for (;;) {
    let p
    try { p = await receiver.recv() } catch { break }
    const { rx, tx } = p
    loops.push((async () => { for (;;) { let m; try { m = await rx.recv() } catch { break } tx.send(m) } tx.close() })())
  }
  await Promise.all(loops)
  sender.close()
} else {
  for (;;) { let m; try { m = await receiver.recv() } catch { break } sender.send(m === 'cpu?' ? process.cpuUsage() : m) }
  sender.close()
}
