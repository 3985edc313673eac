import { defineConfig } from 'vitest/config';

// Generous timeouts: CI machines are shared and often loaded, and against a real MongoDB (MONGODB_URI set) every
// step is a network round trip. Tests wait by notification, so a long timeout costs nothing when they pass.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 60_000,
  },
});
