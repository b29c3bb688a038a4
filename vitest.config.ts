import { defineConfig } from 'vitest/config'

// chdb opens one data directory per process, so every test file runs in its own
// forked process (isolate) with its own temporary directory.
export default defineConfig({
  test: {
    pool: 'forks',
    isolate: true,
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
})
