import { defineConfig } from 'vitest/config';

// `npm run bench`: one long "test" that measures and writes bench-results.json (see bench/run-bench.ts).
export default defineConfig({
  test: { include: ['bench/run-bench.ts'], testTimeout: 900_000, hookTimeout: 120_000 },
});
