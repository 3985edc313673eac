import { fileURLToPath } from 'node:url';
import { playwright } from '@vitest/browser-playwright';
import { defineConfig } from 'vitest/config';
import { serverCommands } from './test/browser/server-commands.js';

const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const chromiumArgs = [
  '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

// README blocks import the package by name: test the sources, not a possibly stale dist.
const alias = {
  '@durable-rx/rx-client/react': fileURLToPath(new URL('./src/react/index.ts', import.meta.url)),
  '@durable-rx/rx-client': fileURLToPath(new URL('./src/index.ts', import.meta.url)),
};

export default defineConfig({
  resolve: { alias },
  test: {
    // Vitest's 60 s to connect to a browser page is too short on a loaded machine: at load 27 a CI run failed with
    // "Failed to connect to the browser session within the timeout", and every test had passed. Vitest reads this from
    // the root config only (a project's browser.connectTimeout is ignored), so it is set here for the browser project.
    browser: { connectTimeout: 180_000 },
    projects: [
      { resolve: { alias }, test: { name: 'node', include: ['test/*.test.ts'], testTimeout: 120_000, hookTimeout: 60_000 } },
      {
        // Real headless Chromium against a real server on 127.0.0.1 (started by the commands, in Node).
        resolve: { alias },
        // Pre-bundled up front: a dependency discovered mid-run makes Vite reload the page under a running test.
        optimizeDeps: { include: ['react', 'react-dom/client', 'dexie', 'idb-keyval', 'rxjs'] },
        test: {
          name: 'browser',
          include: ['test/browser/**/*.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 60_000,
          browser: {
            enabled: true,
            headless: true,
            instances: [{ browser: 'chromium' }],
            provider: playwright({ launchOptions: { executablePath: chromiumPath, args: chromiumArgs } }),
            commands: serverCommands,
          },
        },
      },
    ],
  },
});
