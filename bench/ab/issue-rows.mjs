// node bench/ab/issue-rows.mjs FULL.json PINNED.json: the rows of issue 14 from a full run and its pinned pass
// the issue-14 table rows from a full run's JSON and its pinned pass's JSON
import { readFileSync } from 'node:fs'
const [full, pinned] = process.argv.slice(2).map((f) => JSON.parse(readFileSync(f, 'utf8')))
const m = (r, id, k) => r.scenarios[id]?.median?.[k]
const x = (a, b) => (a / b).toFixed(2) + '×'
const k = (v) => v >= 1e6 ? (v / 1e6).toFixed(2) + 'M' : (v / 1e3).toFixed(0) + 'k'
const R = 'inflight100RtPerSec'
const rows = [
  ['proc 100 in flight ÷ channel RT: worker / fork / Unix socket', [x(m(full, 'ipfi-proc-worker', R), m(full, 'ipfi-worker', R)), x(m(full, 'ipfi-proc-fork', R), m(full, 'ipfi-fork', R)), x(m(full, 'ipfi-proc-unix', R), m(full, 'ipfi-unix-socket', R))].join(' / ')],
  ['proc 100 in flight ÷ birpc: worker / fork', [x(m(full, 'ipfi-proc-worker', R), m(full, 'birpc-worker', R)), x(m(full, 'ipfi-proc-fork', R), m(full, 'birpc-fork', R))].join(' / ')],
  ['one call in flight, pinned p50, proc worker vs birpc worker (µs)', `${m(pinned, 'ipfi-proc-worker', 'p50Us').toFixed(1)} vs ${m(pinned, 'birpc-worker', 'p50Us').toFixed(1)} (${x(m(pinned, 'ipfi-proc-worker', 'p50Us'), m(pinned, 'birpc-worker', 'p50Us'))})`],
  ['result stream ÷ fork channel one-way', `${x(m(full, 'ipfi-proc-stream', 'msgsPerSec'), m(full, 'ipfi-fork-oneway', 'msgsPerSec'))} (${k(m(full, 'ipfi-proc-stream', 'msgsPerSec'))} vs ${k(m(full, 'ipfi-fork-oneway', 'msgsPerSec'))})`],
  ['slow consumer, % of its work', (100 * m(full, 'ipfi-proc-stream-slow', 'msgsPerSec') / 50000).toFixed(0) + '%'],
  ['argument stream ÷ fork one-way; slow %', full.scenarios['ipfi-proc-argstream'] ? `${x(m(full, 'ipfi-proc-argstream', 'msgsPerSec'), m(full, 'ipfi-fork-oneway', 'msgsPerSec'))} (${k(m(full, 'ipfi-proc-argstream', 'msgsPerSec'))}); slow ${(100 * m(full, 'ipfi-proc-argstream-slow', 'msgsPerSec') / 50000).toFixed(0)}%` : 'not measured'],
  ['bidirectional stream items each way ÷ fork one-way', full.scenarios['ipfi-proc-bidi'] ? `${x(m(full, 'ipfi-proc-bidi', 'msgsPerSec'), m(full, 'ipfi-fork-oneway', 'msgsPerSec'))} (${k(m(full, 'ipfi-proc-bidi', 'msgsPerSec'))})` : 'not measured'],
  ['channel() one thread one-way', k(m(full, 'ipfi-channel-oneway', 'msgsPerSec'))],
  ['worker channel one-way ÷ raw postMessage', x(m(full, 'ipfi-worker-oneway', 'msgsPerSec'), m(full, 'raw-worker-oneway', 'msgsPerSec'))],
  ['worker channel RT pinned p50 ÷ raw postMessage', x(m(pinned, 'ipfi-worker', 'p50Us'), m(pinned, 'raw-worker', 'p50Us'))],
  ['1,000 channels ÷ one channel, 100 in flight', x(m(full, 'ipfi-fork-1000ch', R), m(full, 'ipfi-fork-1ch', R))],
  ['50 MiB echo: child peak RSS ÷ payload (fork) / parent RSS growth ÷ payload (worker, fork)', `${m(full, 'ipfi-fork-50mib', 'childPeakRssPerPayload').toFixed(1)}× / ${m(full, 'ipfi-worker-50mib', 'parentRssGrowthPerPayload').toFixed(1)}×, ${m(full, 'ipfi-fork-50mib', 'parentRssGrowthPerPayload').toFixed(1)}×`],
  ['50 MiB echo with transfer() on both ends: child peak (fork) / parent growth (worker, fork); MiB/s (fork)', full.scenarios['ipfi-fork-transfer-50mib'] ? `${m(full, 'ipfi-fork-transfer-50mib', 'childPeakRssPerPayload').toFixed(1)}× / ${m(full, 'ipfi-worker-transfer-50mib', 'parentRssGrowthPerPayload').toFixed(1)}×, ${m(full, 'ipfi-fork-transfer-50mib', 'parentRssGrowthPerPayload').toFixed(1)}×; ${m(full, 'ipfi-fork-transfer-50mib', 'mibPerSec').toFixed(0)} vs ${m(full, 'ipfi-fork-50mib', 'mibPerSec').toFixed(0)} without` : 'not measured'],
  ['pinned p99 ÷ raw: channel worker / fork', `${x(m(pinned, 'ipfi-worker', 'p99Us'), m(pinned, 'raw-worker', 'p99Us'))} / ${x(m(pinned, 'ipfi-fork', 'p99Us'), m(pinned, 'raw-fd3-msgpackr', 'p99Us'))}`],
  ['procedures pinned p99 ÷ birpc: worker / fork', `${x(m(pinned, 'ipfi-proc-worker', 'p99Us'), m(pinned, 'birpc-worker', 'p99Us'))} / ${x(m(pinned, 'ipfi-proc-fork', 'p99Us'), m(pinned, 'birpc-fork', 'p99Us'))}`],
  ['(loop styles) worker for-await / tuned ÷ await-recv, 100 in flight', full.scenarios['ipfi-worker-for-await'] ? `${x(m(full, 'ipfi-worker-for-await', R), m(full, 'ipfi-worker', R))} / ${x(m(full, 'ipfi-worker-tuned', R), m(full, 'ipfi-worker', R))}` : 'not measured'],
]
for (const [a, b] of rows) console.log(`| ${a} | ${b} |`)
