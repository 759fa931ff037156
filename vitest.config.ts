import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 30_000,
    pool: 'forks',
    poolOptions: { forks: { execArgv: ['--expose-gc'] } },
    reporters: ['default', './test/support/summary-reporter.ts'],
    typecheck: { enabled: true, include: ['test/**/*.test-d.ts'] },
  },
})
