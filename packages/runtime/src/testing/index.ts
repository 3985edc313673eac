/**
 * `@durable-rx/runtime/testing`: a virtual clock, history builders and the seed samples for any test runner; the Store
 * and client conformance suites and the seeded soak (with its fault-injecting store) for store and client authors.
 * The suites need vitest, an optional peer dependency; without it the rest of the entry works and the suites say so.
 *
 * @packageDocumentation
 */
export { describeStoreConformance, assertNoDuplicateSteps, type ConformanceOptions, type StoreFactory } from './store-conformance.js';
export { VirtualClock } from './virtual-clock.js';
export {
  HistoryBuilder, eventRaised, executionStarted, taskCompleted, taskFailed, timerFired, type HistoryBuilderOptions,
} from './history-builder.js';
export { describeClientConformance, type ClientConformanceOptions, type ClientUnderTest, type ClientWrapper } from './client-conformance.js';
export {
  helloSequence, sayHello, cityRecommender, reserveTicket, calculateDiscount, setStatusTest, sampleOrchestrators,
  sampleActivities, echo, waitForEvents,
} from './samples.js';
export {
  FaultInjector, FaultyStore, InjectedFaultError, seededRandom, DEFAULT_FAULT_RATES, type FaultCounts, type FaultInjectorOptions,
  type FaultKind, type FaultRates,
} from './fault-injection.js';
export { runSoak, historyProblems, type SoakOptions, type SoakReport } from './soak.js';
export { SETTLED } from './settled.js';
export { describeSoak, type DescribeSoakOptions } from './describe-soak.js';
export { CI_SOAK_SEEDS } from './ci-soak-seeds.js';
