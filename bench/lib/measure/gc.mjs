/**
 * A full garbage collection in this process before a payload phase, so its RSS growth starts
 * from what is live (freed backing stores are returned shortly after a GC, hence the short wait).
 * gc() is not exposed without --expose-gc; setting the flag at run time and taking gc from a new
 * context gives it without relaunching node.
 */
import v8 from 'node:v8'
import vm from 'node:vm'

v8.setFlagsFromString('--expose-gc')
const gc = vm.runInNewContext('gc')

export async function settleMemory() {
  gc()
  await new Promise((r) => setTimeout(r, 20))
  gc()
}
