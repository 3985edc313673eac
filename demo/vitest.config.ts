import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // End-to-end tests drive a real browser through several 1.5 s activities and a reload; at a load average of 27
    // one took 73 s. Every wait inside is bounded by Playwright (120 s, see test/browser.ts) and by this limit.
    testTimeout: 300_000,
    hookTimeout: 60_000,
    // One browser test file at a time: the machine has two cores.
    fileParallelism: false,
  },
});
