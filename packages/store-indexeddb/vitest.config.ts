import { playwright } from '@vitest/browser-playwright';
import { defineConfig } from 'vitest/config';
import { chromiumArgs, chromiumPath } from './test/chromium.js';

export default defineConfig({
  test: {
    testTimeout: 120_000,
    hookTimeout: 60_000,
    // Vitest's 60 s to connect to a browser page is too short on a loaded machine: at load 27 a CI run failed with
    // "Failed to connect to the browser session within the timeout", and every test had passed. Vitest reads this from
    // the root config only (a project's browser.connectTimeout is ignored), so it is set here for the browser project.
    browser: { connectTimeout: 180_000 },
    projects: [
      {
        // Node: fake-indexeddb; tests that need no browser-only API.
        test: {
          name: 'node',
          include: ['test/shared/**/*.test.ts', 'test/node/**/*.test.ts'],
          setupFiles: ['test/setup-node.ts'],
          testTimeout: 120_000,
        },
      },
      {
        // Real headless Chromium: real IndexedDB, BroadcastChannel, Web Locks.
        test: {
          name: 'browser',
          include: ['test/shared/**/*.test.ts', 'test/browser/**/*.test.ts'],
          setupFiles: ['test/setup-browser.ts'],
          testTimeout: 120_000,
          browser: {
            enabled: true,
            headless: true,
            instances: [{ browser: 'chromium' }],
            provider: playwright({ launchOptions: { executablePath: chromiumPath, args: chromiumArgs } }),
          },
        },
      },
      {
        // Several real Chromium pages (tabs) on one database, driven from Node with playwright-core against the
        // e2e page built by Vite and served by `vite preview` on 127.0.0.1: cross-tab feed, workers in three tabs,
        // reloads, leader election.
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.e2e.test.ts'],
          globalSetup: ['test/e2e/global-setup.ts'],
          fileParallelism: false,
          testTimeout: 180_000,
          // A project does not inherit the root's hookTimeout: Vitest's 10 s default timed out a beforeAll launching
          // Chromium (frozen-tab's own profile) at load 24, and the file's 8 tests were skipped.
          hookTimeout: 180_000,
        },
      },
    ],
  },
});
