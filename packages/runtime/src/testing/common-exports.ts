/**
 * What both entries of `@durable-rx/runtime/testing` export alike (the one `import` loads and the one `require()`
 * loads): everything but the vitest suites, which only `import` can give.
 *
 * @packageDocumentation
 */
export { VirtualClock } from './virtual-clock.js';
export { HistoryBuilder, type HistoryBuilderOptions } from './history-builder.js';
export { replayHistory, type PendingWork, type ReplayHistoryOptions, type ReplayResult } from './replay-history.js';
export {
  FaultInjector, InjectedFaultError, seededRandom, DEFAULT_FAULT_RATES, type FaultyStore, type FaultCounts,
  type FaultInjectorOptions, type FaultKind, type FaultRates,
} from './fault-injection.js';
export { runSoak, type SoakOptions, type SoakRace, type SoakReport } from './soak.js';
