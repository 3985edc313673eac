import { defineConfig } from 'vitest/config';

// The repository-wide tests (documents, README examples), run by `npm test` through turbo's root task `test:repo`.
export default defineConfig({
  test: {
    root: new URL('.', import.meta.url).pathname,
    include: ['**/*.test.ts'],
    exclude: ['**/node_modules/**', '**/.docs-blocks/**'],
    testTimeout: 300_000,
    hookTimeout: 300_000,
  },
});
