import { defineConfig } from 'vitest/config'
import react from '@vitejs/plugin-react'

// chdb opens one data directory per process, so every test file runs in its own
// forked process (isolate) with its own temporary directory.
export default defineConfig({
  test: {
    pool: 'forks',
    isolate: true,
    testTimeout: 30_000,
    hookTimeout: 60_000,
    projects: [
      { extends: true, test: { name: 'gateway', include: ['test/**/*.test.ts'], environment: 'node' } },
      // the web app's components and hooks, in a DOM (jsdom)
      {
        extends: true,
        plugins: [react()],
        test: { name: 'web', include: ['web/src/**/*.test.{ts,tsx}'], environment: 'jsdom', setupFiles: ['web/src/test-setup.ts'] },
      },
    ],
  },
})
