import type * as Vitest from 'vitest';

/**
 * vitest for the suites of this entry (`describeStoreConformance`, `describeClientConformance`, `describeSoak`,
 * `assertNoDuplicateSteps`). It is an optional peer dependency: where it is not installed (a project testing with
 * node:test, jest or mocha), the entry still loads, so `VirtualClock`, the history builders and the samples work, and
 * the suites throw an error that says what is missing when called.
 */
export const vitest: typeof Vitest = await import('vitest').catch((error: unknown) => {
  if ((error as { readonly code?: unknown } | null)?.code !== 'ERR_MODULE_NOT_FOUND') throw error;
  const missing = (): never => {
    throw new Error('The suites of @durable-rx/runtime/testing need vitest, an optional peer dependency: npm install --save-dev vitest');
  };
  return { afterEach: missing, beforeEach: missing, describe: missing, expect: missing, it: missing, vi: missing } as unknown as typeof Vitest;
});
