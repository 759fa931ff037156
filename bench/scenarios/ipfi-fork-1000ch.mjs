// ipfi fork(), 1,000 channels on one link, messages round-robin over them, against one channel.
import { fanoutScenario } from '../lib/open/ipfi-fanout.mjs'

export default fanoutScenario(1000, {
  id: 'ipfi-fork-1000ch',
  label: 'ipfi fork(), 1,000 channels round-robin',
  compareWith: ['ipfi-fork-1ch', 'raw-fd3-msgpackr'],
})
