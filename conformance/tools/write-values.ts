/** `npx vite-node conformance/tools/write-values.ts`: regenerate conformance/values.json (see make-values.ts). */
import { writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { valuesJson } from './make-values.js'

writeFileSync(fileURLToPath(new URL('../values.json', import.meta.url)), valuesJson())
console.log('wrote conformance/values.json')
