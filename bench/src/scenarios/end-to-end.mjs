/**
 * Scenario 2: end to end in one process. A batch starts `concurrency` hello-sequence instances and waits for all of
 * them through the client; throughput = instances / batch time. Each batch gets a fresh store/backend and worker
 * (set up and torn down outside the timed region).
 */
import { createRuntime, MemoryStore, silentLogger } from '@durable-rx/runtime';
import { measure } from '../harness.mjs';
import { durableRx, HELLO_SEQUENCE, SAY_HELLO, sayHello } from '../orchestrations.mjs';
import { durableRxEndToEnd, durableTaskEndToEnd } from '../peers/end-to-end-drivers.mjs';
import { withQuietConsole } from '../quiet-console.mjs';

export const CONCURRENCY = [1, 100, 1_000];

/**
 * @typedef {object} EndToEndRow
 * @property {number} concurrency
 * @property {string} system
 * @property {boolean} diagnostic  not a peer comparison: a variant that isolates a cost inside durable-rx
 * @property {number} batchP50Ms
 * @property {number} batchP99Ms
 * @property {number} perSecond   instances started and completed per second, from the median batch
 * @property {number} perSecondP99  from the p99 batch (the slow end)
 * @property {number} samples
 * @property {Record<string, number>} [counters]
 */

/** @param {{ quick?: boolean }} [options] @returns {Promise<EndToEndRow[]>} */
export async function runEndToEnd(options = {}) {
  const drivers = [durableRxEndToEnd(), durableTaskEndToEnd(), singleSubscriberDiagnostic()];
  /** @type {EndToEndRow[]} */
  const rows = [];
  for (const concurrency of CONCURRENCY) {
    for (const driver of drivers) {
      const diagnostic = driver === drivers[2];
      if (diagnostic && concurrency === 1) continue;
      const budget = concurrency === 1
        ? { time: options.quick ? 100 : 1_000, iterations: options.quick ? 5 : 100 }
        : concurrency === 100
          ? { time: options.quick ? 200 : 2_000, iterations: options.quick ? 3 : 20, warmupIterations: 2 }
          : { time: options.quick ? 300 : 4_000, iterations: options.quick ? 2 : 10, warmupIterations: 1 };
      const run = () => measure(`${driver.name} x${concurrency}`, () => driver.runBatch(concurrency), {
        ...budget, capMs: 40_000, beforeEach: () => driver.setUp(), afterEach: () => driver.tearDown(),
      });
      const m = driver.name.startsWith('durabletask-js') ? await withQuietConsole(run) : await run();
      const counters = driver.counters();
      rows.push({
        concurrency, system: driver.name, diagnostic, batchP50Ms: m.p50, batchP99Ms: m.p99,
        perSecond: (concurrency / m.p50) * 1000, perSecondP99: (concurrency / m.p99) * 1000, samples: m.samples,
        ...(counters ? { counters } : {}),
      });
    }
  }
  return rows;
}

/**
 * durable-rx with the batch awaited through one subscription to `store.changes$` instead of one
 * `waitForCompletion` per instance. Not something to compare with a peer: it isolates what the per-instance
 * client subscriptions cost (see the analysis in docs/benchmarks.md).
 * @returns {import('../peers/end-to-end-drivers.mjs').EndToEndDriver}
 */
function singleSubscriberDiagnostic() {
  /** @type {import('@durable-rx/runtime').Runtime | undefined} */
  let runtime;
  return {
    name: 'durable-rx, one changes$ subscriber (diagnostic)',
    async setUp() {
      runtime = createRuntime({
        store: new MemoryStore(), orchestrators: { [HELLO_SEQUENCE]: durableRx[HELLO_SEQUENCE] },
        activities: { [SAY_HELLO]: sayHello }, logger: silentLogger,
      });
      await runtime.start();
    },
    async runBatch(concurrency) {
      const rt = /** @type {import('@durable-rx/runtime').Runtime} */ (runtime);
      let left = concurrency;
      /** @type {Promise<void>} */
      const done = new Promise((resolve, reject) => {
        const subscription = rt.store.changes$.subscribe((change) => {
          const status = change.state?.runtimeStatus;
          if (status === 'Failed' || status === 'Terminated') reject(new Error(`${change.instanceId} ended ${status}`));
          if (status === 'Completed' && --left === 0) {
            subscription.unsubscribe();
            resolve();
          }
        });
      });
      await Promise.all(Array.from({ length: concurrency }, () => rt.client.startNew(HELLO_SEQUENCE)));
      await done;
    },
    async tearDown() {
      await runtime?.stop();
      runtime = undefined;
    },
    counters: () => undefined,
  };
}
