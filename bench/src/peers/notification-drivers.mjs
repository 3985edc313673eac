/**
 * Notification latency: how long after a custom status is committed does a watcher see it?
 *
 * The `StatusLoop` orchestration sets its custom status to the payload of each `next` event. One probe raises
 * `next` with a fresh value, and records:
 * - t0, when the store/backend commit that carries the value begins (the commit call is wrapped; the in-memory
 *   commit itself is inside the measured time, so the figure is an upper bound of commit → subscriber), and
 * - t1, when the watcher gets the value.
 *
 * durable-rx watches with `client.customStatus$(id)`. durabletask-js has no status subscription in its client
 * API; its in-memory test backend's `waitForState` (notification based, test-only) is the closest push path.
 *
 * Every RECYCLE probes the instance is replaced by a fresh one, outside the measured time, so a replaying engine is
 * not billed for an ever-growing history (this scenario is about notification, not replay).
 */
import { createRuntime, MemoryStore, silentLogger } from '@durable-rx/runtime';
import { filter, firstValueFrom } from 'rxjs';
import { durableRx, durableTask, STATUS_LOOP } from '../orchestrations.mjs';
import { loadDurableTask } from './load-peers.mjs';

const RECYCLE = 100;

/**
 * @typedef {object} Probe
 * @property {number} commitToWatcher  ms from the commit call to the watcher
 * @property {number} raiseToWatcher   ms from raising the event (before the worker step) to the watcher
 */

/**
 * @typedef {object} NotificationDriver
 * @property {string} name
 * @property {string} watcher  what the watcher is
 * @property {() => Promise<void>} setUp
 * @property {() => Promise<Probe>} probe
 * @property {() => Promise<void>} tearDown
 */

/** @returns {NotificationDriver} */
export function durableRxNotification() {
  /** @type {import('@durable-rx/runtime').Runtime} */
  let runtime;
  /** @type {import('rxjs').Subscription} */
  let subscription;
  let id = '';
  let counter = 0;
  /** @type {Map<number, number>} commit start time by custom status value */
  const committedAt = new Map();
  /** @type {((value: number, at: number) => void) | undefined} */
  let onValue;
  return {
    name: 'durable-rx + MemoryStore',
    watcher: 'client.customStatus$(id) subscriber',
    async setUp() {
      const store = new MemoryStore();
      const commit = store.commit.bind(store);
      store.commit = (writeSet) => {
        for (const request of writeSet.requests) {
          if (request.type === 'replaceState' && typeof request.state.customStatus === 'number') {
            committedAt.set(request.state.customStatus, performance.now());
          }
        }
        return commit(writeSet);
      };
      runtime = createRuntime({ store, orchestrators: { [STATUS_LOOP]: durableRx[STATUS_LOOP] }, logger: silentLogger });
      await runtime.start();
      await startInstance();
    },
    async probe() {
      if (counter > 0 && counter % RECYCLE === 0) {
        await runtime.client.terminate(id);
        await startInstance();
      }
      const value = ++counter;
      const arrived = new Promise((resolve) => {
        onValue = (v, at) => { if (v === value) resolve(at); };
      });
      const raisedAt = performance.now();
      await runtime.client.raiseEvent(id, 'next', value);
      const at = /** @type {number} */ (await arrived);
      const t0 = /** @type {number} */ (committedAt.get(value));
      committedAt.delete(value);
      return { commitToWatcher: at - t0, raiseToWatcher: at - raisedAt };
    },
    async tearDown() {
      subscription?.unsubscribe();
      await runtime?.client.terminate(id).catch(() => {});
      await runtime?.stop();
    },
  };

  async function startInstance() {
    id = await runtime.client.startNew(STATUS_LOOP);
    await firstValueFrom(runtime.client.status$(id).pipe(filter((s) => s?.runtimeStatus === 'Running')));
    subscription?.unsubscribe();
    subscription = runtime.client.customStatus$(id).subscribe((value) => {
      if (typeof value === 'number') onValue?.(value, performance.now());
    });
  }
}

/** @returns {NotificationDriver} */
export function durableTaskNotification() {
  const dt = loadDurableTask();
  /** @type {any} */
  let backend;
  /** @type {any} */
  let worker;
  /** @type {any} */
  let client;
  let id = '';
  let counter = 0;
  /** @type {Map<string, number>} */
  const committedAt = new Map();
  return {
    name: `durabletask-js ${dt.version} in-memory test backend`,
    watcher: 'backend.waitForState(id, customStatus === value) (test-only API)',
    async setUp() {
      backend = new dt.InMemoryOrchestrationBackend();
      const complete = backend.completeOrchestration.bind(backend);
      backend.completeOrchestration = (/** @type {string} */ instanceId, /** @type {number} */ token, /** @type {any[]} */ actions, /** @type {string | undefined} */ customStatus) => {
        if (customStatus !== undefined) committedAt.set(customStatus, performance.now());
        return complete(instanceId, token, actions, customStatus);
      };
      worker = new dt.TestOrchestrationWorker(backend);
      worker.addNamedOrchestrator(STATUS_LOOP, durableTask[STATUS_LOOP]);
      client = new dt.TestOrchestrationClient(backend);
      await worker.start();
      await startInstance();
    },
    async probe() {
      if (counter > 0 && counter % RECYCLE === 0) {
        await client.terminateOrchestration(id);
        await startInstance();
      }
      const value = JSON.stringify(++counter);
      const arrived = backend.waitForState(id, (/** @type {any} */ instance) => instance.customStatus === value, 5_000)
        .then(() => performance.now());
      const raisedAt = performance.now();
      await client.raiseOrchestrationEvent(id, 'next', counter);
      const at = await arrived;
      const t0 = /** @type {number} */ (committedAt.get(value));
      committedAt.delete(value);
      return { commitToWatcher: at - t0, raiseToWatcher: at - raisedAt };
    },
    async tearDown() {
      await client?.terminateOrchestration(id).catch(() => {});
      await worker?.stop();
      backend?.reset();
    },
  };

  async function startInstance() {
    id = await client.scheduleNewOrchestration(STATUS_LOOP);
    await client.waitForOrchestrationStart(id, false, 5);
  }
}
