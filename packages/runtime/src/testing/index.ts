/**
 * `@durable-rx/runtime/testing`: a virtual clock and a history builder for any test runner; the Store and client
 * conformance suites and the seeded soak (with its fault-injecting store) for store and client authors. The suites
 * need vitest, an optional peer dependency; without it the rest of the entry works and the suites say so. The seed
 * orchestrations are `@durable-rx/runtime/samples`.
 *
 * @packageDocumentation
 */
export { describeStoreConformance, assertNoDuplicateSteps, type ConformanceOptions, type StoreFactory } from './store-conformance.js';
export { describeClientConformance, type ClientConformanceOptions, type ClientUnderTest, type ClientWrapper } from './client-conformance.js';
export { describeSoak, type DescribeSoakOptions } from './describe-soak.js';
export * from './common-exports.js';
