import type { describeClientConformance as DescribeClientConformance } from './client-conformance.js';
import type { describeSoak as DescribeSoak } from './describe-soak.js';
import type {
  assertNoDuplicateSteps as AssertNoDuplicateSteps, describeStoreConformance as DescribeStoreConformance,
} from './store-conformance.js';

/**
 * `@durable-rx/runtime/testing` as `require()` loads it (the `require` condition of package.json): the same exports as
 * the entry `import` loads, without its top-level await, which Node refuses in a graph loaded by `require()`
 * (ERR_REQUIRE_ASYNC_MODULE). That await loads vitest, an optional peer dependency; vitest itself refuses to be
 * loaded by `require()`, so here the suites that need it (`describeStoreConformance`, `assertNoDuplicateSteps`,
 * `describeClientConformance`, `describeSoak`) throw when called, saying so, and the rest works as under `import`.
 *
 * @example
 * ```js
 * const { VirtualClock } = require('@durable-rx/runtime/testing');
 * const clock = new VirtualClock();
 * ```
 *
 * @packageDocumentation
 */
export * from './common-exports.js';

/** Every suite that needs vitest, under `require()`. */
function needsImport(): never {
  throw new Error('The suites of @durable-rx/runtime/testing need vitest, which cannot be loaded by require(): import this entry instead');
}

export const describeStoreConformance: typeof DescribeStoreConformance = needsImport;
export const assertNoDuplicateSteps: typeof AssertNoDuplicateSteps = needsImport;
export const describeClientConformance: typeof DescribeClientConformance = needsImport;
export const describeSoak: typeof DescribeSoak = needsImport;
