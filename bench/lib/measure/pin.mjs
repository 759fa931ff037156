/**
 * --pin: put this process (all its threads, and so every worker and child started later) on
 * CPU 0 with `taskset -a -p 1 <pid>`. See /work/shared/NOTES.md: on 2 vCPUs a round trip costs
 * ~10 µs when both ends share a vCPU and ~90 µs when they don't, and which one a run gets is up to
 * the scheduler; pinning makes latency stable.
 */
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'

function allowedCpus() {
  try {
    return readFileSync('/proc/self/status', 'utf8').match(/Cpus_allowed_list:\s*(\S+)/)?.[1] ?? '?'
  } catch {
    return '?'
  }
}

export function pinToOneCpu() {
  try {
    execFileSync('taskset', ['-a', '-p', '1', String(process.pid)], { stdio: ['ignore', 'ignore', 'pipe'] })
  } catch (e) {
    if (e.code === 'ENOENT') return { pinned: false, note: 'taskset not found: ran unpinned' }
    return { pinned: false, note: `taskset failed (${String(e.stderr ?? e.message).trim()}): ran unpinned` }
  }
  const cpus = allowedCpus()
  return { pinned: true, note: `pinned with taskset -a -p 1 (CPUs allowed: ${cpus})` }
}

export { allowedCpus }
