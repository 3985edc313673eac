import type * as Vitest from 'vitest';

/**
 * vitest for the suites of this entry (`describeStoreConformance`, `describeClientConformance`, `describeSoak`,
 * `assertNoDuplicateSteps`). It is an optional peer dependency: where it cannot be loaded (a project testing with
 * node:test, jest or mocha), the entry still loads, so `VirtualClock`, `HistoryBuilder`, the fault injector and `runSoak` work, and
 * the suites throw an error that says what is missing (with the import's error as `cause`) when called. Its top-level
 * await keeps `require()` from loading a graph that holds this module (Node refuses one with a top-level await), so
 * `require()` gets `require-entry.ts` instead (package.json's `require` condition), where the suites cannot run: vitest
 * refuses `require()` itself.
 */
export const vitest: typeof Vitest = await import('vitest').catch((cause: unknown) => {
  const missing = (): never => {
    const message = 'The suites of @durable-rx/runtime/testing need vitest, an optional peer dependency: '
      + 'npm install --save-dev vitest';
    throw new Error(message, { cause });
  };
  const absent = {
    afterEach: missing, beforeEach: missing, describe: missing, expect: missing, it: missing, vi: missing,
  };
  return absent as unknown as typeof Vitest;
});
