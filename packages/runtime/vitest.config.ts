import { defineConfig } from 'vitest/config';

// Generous per-test timeout: CI machines are shared and often loaded (a load average of 25 on two cores makes a
// test that takes 2 s on an idle machine take 30 s). Tests wait by notification, never by sleeping, so a long
// timeout costs nothing when they pass; waits inside tests use SETTLED (60 s) from src/testing/settled.ts, which
// test-support/settled.ts passes on to the other packages' tests (it is in no published entry).
export default defineConfig({
  test: { include: ['test/**/*.test.ts'], testTimeout: 120_000, hookTimeout: 60_000 },
});
