#!/usr/bin/env node
/**
 * The JS role of the conformance suite (conformance/README.md, "The role contract"):
 *
 *   node conformance/js/role.mjs --list
 *   node conformance/js/role.mjs <scenario> <role> stdio
 *   node conformance/js/role.mjs <scenario> <role> listen <address>
 *   node conformance/js/role.mjs <scenario> <role> connect <address>
 *
 * It plays one role of one scenario of conformance/scenarios.json with the built package (`ipfi`,
 * from dist/), and reports on fd 3: `{"listening": address}` once listening, `{"mark": name}` at
 * the scenario's marks, and last `{"verdict": "pass" | "fail", ...}`. Exit code 0 on pass.
 */
import { Role, SCENARIOS } from './lib/kit.mjs'
import channels from './scenarios/channels.mjs'
import values from './scenarios/values.mjs'
import procedures from './scenarios/procedures.mjs'
import hostile from './scenarios/hostile.mjs'

/** scenario name -> { a, b } or { victim }: async (role: Role) => void */
const IMPLEMENTED = { ...channels, ...values, ...procedures }
for (const s of SCENARIOS.scenarios) if (s.kind === 'hostile') IMPLEMENTED[s.name] = hostile

const [scenarioName, roleName, wire, address] = process.argv.slice(2)

if (scenarioName === '--list') {
  process.stdout.write(JSON.stringify(Object.keys(IMPLEMENTED)) + '\n')
  process.exit(0)
}

const scenario = SCENARIOS.scenarios.find((s) => s.name === scenarioName)
const play = IMPLEMENTED[scenarioName]?.[roleName]
if (!scenario || !play || !['stdio', 'listen', 'connect'].includes(wire) || (wire !== 'stdio' && !address)) {
  process.stderr.write(`usage: role.mjs --list | <scenario> <role> stdio | <scenario> <role> listen|connect <address>\n(no ${scenarioName}.${roleName} over ${wire})\n`)
  process.exit(2)
}

const role = new Role({ scenario, role: roleName, wire, address })
try {
  await play(role)
} catch (e) {
  role.fail(`the role threw: ${e instanceof Error ? e.stack : String(e)}`)
}
try {
  await role.closeServer()
} catch (e) {
  role.fail(`closing the server: ${e}`)
}
const pass = role.verdict()
// Exit now: links still open write what they hold and say goodbye at exit (an orderly one for code 0).
process.exit(pass ? role.exitCode : 1)
