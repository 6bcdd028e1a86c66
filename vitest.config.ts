import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Vitest's default is one worker per CPU but one: a single worker on a 2-core CI machine. Most test files wait on
    // child processes, fsync and servers rather than compute, so two run side by side.
    maxWorkers: 2,
  },
})
