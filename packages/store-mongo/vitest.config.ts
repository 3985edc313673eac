import { defineConfig } from 'vitest/config';

// Against a real MongoDB (MONGODB_URI set) steps are network round trips: give the integration tests more time.
const integration = Boolean(process.env['MONGODB_URI']);

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: integration ? 120_000 : 20_000,
    hookTimeout: integration ? 60_000 : 10_000,
  },
});
