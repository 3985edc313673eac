/**
 * What both entries of `@durable-rx/runtime/testing` export alike (the one `import` loads and the one `require()`
 * loads): everything but the vitest suites, which only `import` can give.
 *
 * @packageDocumentation
 */
export { VirtualClock } from './virtual-clock.js';
export {
  HistoryBuilder, eventRaised, executionStarted, taskCompleted, taskFailed, timerFired, type HistoryBuilderOptions,
} from './history-builder.js';
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
export { CI_SOAK_SEEDS } from './ci-soak-seeds.js';
