/**
 * Scenario 3: notification latency, commit of a custom status -> watcher, p50/p99 (performance.now()).
 * Measured for durable-rx and durabletask-js' in-memory backend; Durable Functions' HTTP polling is modelled.
 */
import { measure } from '../harness.mjs';
import { durableRxNotification, durableTaskNotification } from '../peers/notification-drivers.mjs';
import { withQuietConsole } from '../quiet-console.mjs';

/**
 * @typedef {object} LatencyRow
 * @property {string} system
 * @property {string} watcher
 * @property {'measured' | 'modelled'} how
 * @property {number} commitP50Ms
 * @property {number} commitP99Ms
 * @property {number} [raiseP50Ms]  raising the event -> watcher: includes the worker's orchestration step
 * @property {number} [raiseP99Ms]
 * @property {number} [samples]
 * @property {string} [note]
 */

/**
 * Durable Functions clients learn about a new custom status by polling `GET /instances/{id}`. With polling every
 * T ms and a commit at a uniformly random moment between two polls, the wait is uniform on [0, T): p50 = T/2,
 * p99 = 0.99 T. The HTTP round trip of each poll comes on top and is not included (so the model flatters polling).
 * @param {number} intervalMs
 * @returns {{ p50: number, p99: number }}
 */
export function pollingLatency(intervalMs) {
  return { p50: intervalMs * 0.5, p99: intervalMs * 0.99 };
}

/** @param {{ quick?: boolean }} [options] @returns {Promise<LatencyRow[]>} */
export async function runNotificationLatency(options = {}) {
  const iterations = options.quick ? 200 : 3_000;
  /** @type {LatencyRow[]} */
  const rows = [];
  for (const driver of [durableRxNotification(), durableTaskNotification()]) {
    const quiet = driver.name.startsWith('durabletask-js');
    const body = async () => {
      await driver.setUp();
      try {
        /** @param {'commitToWatcher' | 'raiseToWatcher'} field */
        const task = (field) => async () => {
          const started = performance.now();
          const probe = await driver.probe();
          return { overriddenDuration: probe[field], overriddenIterationCost: performance.now() - started };
        };
        const commit = await measure(`${driver.name} commit -> watcher`, task('commitToWatcher'), { iterations, time: 300, warmupIterations: 50, capMs: 30_000 });
        const raise = await measure(`${driver.name} raiseEvent -> watcher`, task('raiseToWatcher'), { iterations, time: 300, warmupIterations: 50, capMs: 30_000 });
        return { commit, raise };
      } finally {
        await driver.tearDown();
      }
    };
    const { commit, raise } = quiet ? await withQuietConsole(body) : await body();
    rows.push({
      system: driver.name, watcher: driver.watcher, how: 'measured', commitP50Ms: commit.p50, commitP99Ms: commit.p99,
      raiseP50Ms: raise.p50, raiseP99Ms: raise.p99, samples: commit.samples,
    });
  }
  const poll1s = pollingLatency(1_000);
  rows.push({
    system: 'Durable Functions client, polling every 1 s', watcher: 'waitForCompletionOrCreateCheckStatusResponse default retryIntervalInMilliseconds = 1000',
    how: 'modelled', commitP50Ms: poll1s.p50, commitP99Ms: poll1s.p99, note: 'uniform wait in [0, 1 s); HTTP round trip not included',
  });
  const poll10s = pollingLatency(10_000);
  rows.push({
    system: 'Durable Functions client, following Retry-After', watcher: 'check-status response (202) sends Retry-After: 10',
    how: 'modelled', commitP50Ms: poll10s.p50, commitP99Ms: poll10s.p99, note: 'uniform wait in [0, 10 s); HTTP round trip not included',
  });
  return rows;
}
