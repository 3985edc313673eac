/**
 * `@durable-rx/runtime/testing`: the Store conformance suite (vitest), a virtual clock and history builders.
 *
 * @packageDocumentation
 */
export { describeStoreConformance, assertNoDuplicateSteps, type ConformanceOptions, type StoreFactory } from './store-conformance.js';
export { VirtualClock } from './virtual-clock.js';
export {
  HistoryBuilder, eventRaised, executionStarted, taskCompleted, taskFailed, timerFired, type HistoryBuilderOptions,
} from './history-builder.js';
export { describeClientConformance, type ClientUnderTest, type ClientWrapper } from './client-conformance.js';
export {
  helloSequence, sayHello, cityRecommender, reserveTicket, calculateDiscount, setStatusTest, sampleOrchestrators,
  sampleActivities, echo, waitForEvents,
} from './samples.js';
