// ipfi fork(), one channel made here and moved to the child (the reference for ipfi-fork-1000ch).
import { fanoutScenario } from '../lib/open/ipfi-fanout.mjs'

export default fanoutScenario(1, {
  id: 'ipfi-fork-1ch',
  label: 'ipfi fork(), 1 moved channel',
  compareWith: ['raw-fd3-msgpackr'],
})
