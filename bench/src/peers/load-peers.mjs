/**
 * Loads the peer SDKs. Both are CommonJS; the classes the benchmarks drive (durable-functions' history events and
 * test utilities, durabletask-js' OrchestrationExecutor and protobuf helpers) are not all re-exported from the
 * packages' entry points, so they are required by path. Neither package declares an `exports` map, so these
 * paths are reachable, and they are the same modules the packages' own test utilities use.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** durable-functions 3.x: the replay engine as its test utilities drive it. */
export function loadDurableFunctions() {
  const root = 'durable-functions/lib/src';
  return {
    version: require('durable-functions/package.json').version,
    testing: require(`${root}/util/testingUtils.js`),
    HistoryEventOptions: require(`${root}/history/HistoryEventOptions.js`).HistoryEventOptions,
    OrchestratorStartedEvent: require(`${root}/history/OrchestratorStartedEvent.js`).OrchestratorStartedEvent,
    OrchestratorCompletedEvent: require(`${root}/history/OrchestratorCompletedEvent.js`).OrchestratorCompletedEvent,
    ExecutionStartedEvent: require(`${root}/history/ExecutionStartedEvent.js`).ExecutionStartedEvent,
    TaskScheduledEvent: require(`${root}/history/TaskScheduledEvent.js`).TaskScheduledEvent,
    TaskCompletedEvent: require(`${root}/history/TaskCompletedEvent.js`).TaskCompletedEvent,
    /** The newest replay schema, which a current Functions host negotiates. */
    LatestReplaySchema: require(`${root}/orchestrations/ReplaySchema.js`).LatestReplaySchema,
  };
}

/** @microsoft/durabletask-js: the orchestration executor, its registry, protobuf helpers and the in-memory backend. */
export function loadDurableTask() {
  const root = '@microsoft/durabletask-js/dist';
  const main = require('@microsoft/durabletask-js');
  return {
    version: require('@microsoft/durabletask-js/package.json').version,
    engines: require('@microsoft/durabletask-js/package.json').engines,
    OrchestrationExecutor: require(`${root}/worker/orchestration-executor.js`).OrchestrationExecutor,
    Registry: require(`${root}/worker/registry.js`).Registry,
    pbh: require(`${root}/utils/pb-helper.util.js`),
    NoOpLogger: main.NoOpLogger,
    InMemoryOrchestrationBackend: main.InMemoryOrchestrationBackend,
    TestOrchestrationClient: main.TestOrchestrationClient,
    TestOrchestrationWorker: main.TestOrchestrationWorker,
  };
}
