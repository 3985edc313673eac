/**
 * End-to-end drivers: a store/backend, a worker and a client in one process, running `E1_HelloSequence` (three
 * activities, a custom status after each). One batch = start `concurrency` instances at once, then wait for every
 * one to complete through the client's own wait API (both are notification based, neither polls).
 */
import { createRuntime, MemoryStore, silentLogger } from '@durable-rx/runtime';
import { durableRx, durableTask, HELLO_SEQUENCE, SAY_HELLO, sayHello, CITIES } from '../orchestrations.mjs';
import { loadDurableTask } from './load-peers.mjs';

const EXPECTED = JSON.stringify(CITIES.map(sayHello));

/**
 * @typedef {object} EndToEndDriver
 * @property {string} name
 * @property {() => Promise<void>} setUp      a fresh store/backend and a started worker (untimed)
 * @property {(concurrency: number) => Promise<void>} runBatch  starts and completes `concurrency` instances (timed)
 * @property {() => Promise<void>} tearDown   stops the worker (untimed)
 * @property {() => Record<string, number> | undefined} counters  worker counters of the last batch, if the SDK has them
 */

/** @returns {EndToEndDriver} */
export function durableRxEndToEnd() {
  /** @type {import('@durable-rx/runtime').Runtime | undefined} */
  let runtime;
  /** @type {Record<string, number> | undefined} */
  let last;
  return {
    name: 'durable-rx + MemoryStore',
    async setUp() {
      runtime = createRuntime({
        store: new MemoryStore(),
        orchestrators: { [HELLO_SEQUENCE]: durableRx[HELLO_SEQUENCE] },
        activities: { [SAY_HELLO]: sayHello },
        logger: silentLogger,
        // Defaults are 16 steps / 32 activities in flight; the batch of 1,000 fits the default cache (1,000).
      });
      await runtime.start();
    },
    async runBatch(concurrency) {
      const rt = /** @type {import('@durable-rx/runtime').Runtime} */ (runtime);
      const ids = await Promise.all(Array.from({ length: concurrency }, () => rt.client.startNew(HELLO_SEQUENCE)));
      const done = await Promise.all(ids.map((id) => rt.client.waitForCompletion(id, { timeoutMs: 60_000 })));
      for (const status of done) {
        if (status.runtimeStatus !== 'Completed' || JSON.stringify(status.output) !== EXPECTED) {
          throw new Error(`durable-rx instance ${status.instanceId} ended ${status.runtimeStatus}: ${JSON.stringify(status.output ?? status.failureDetails)}`);
        }
      }
    },
    async tearDown() {
      last = runtime ? { ...runtime.metrics } : undefined;
      await runtime?.stop();
      runtime = undefined;
    },
    counters: () => last,
  };
}

/** @returns {EndToEndDriver} */
export function durableTaskEndToEnd() {
  const dt = loadDurableTask();
  /** @type {any} */
  let backend;
  /** @type {any} */
  let worker;
  /** @type {any} */
  let client;
  return {
    name: `durabletask-js ${dt.version} in-memory test backend`,
    async setUp() {
      backend = new dt.InMemoryOrchestrationBackend();
      worker = new dt.TestOrchestrationWorker(backend);
      worker.addNamedOrchestrator(HELLO_SEQUENCE, durableTask[HELLO_SEQUENCE]);
      worker.addNamedActivity(SAY_HELLO, (/** @type {unknown} */ _ctx, /** @type {string} */ name) => sayHello(name));
      client = new dt.TestOrchestrationClient(backend);
      await worker.start();
    },
    async runBatch(concurrency) {
      const ids = await Promise.all(Array.from({ length: concurrency }, () => client.scheduleNewOrchestration(HELLO_SEQUENCE)));
      const done = await Promise.all(ids.map((/** @type {string} */ id) => client.waitForOrchestrationCompletion(id, true, 60)));
      for (const state of done) {
        if (state?.serializedOutput !== EXPECTED) {
          throw new Error(`durabletask-js instance ${state?.instanceId} ended ${state?.runtimeStatus}: ${state?.serializedOutput}`);
        }
      }
    },
    async tearDown() {
      await worker?.stop();
      backend?.reset?.();
      worker = undefined;
      backend = undefined;
    },
    counters: () => undefined,
  };
}
