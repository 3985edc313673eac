import { createRuntime, silentLogger, type Runtime } from '@durable-rx/runtime';
import type { Store, WriteSet } from '@durable-rx/runtime/store-kit';
import { afterEach, describe, expect, it } from 'vitest';
import { StorageError } from '../../src/errors/storage-error.js';
import { adapters, uniqueName, type AdapterName } from '../shared/fixtures.js';

// A runtime alone on its database (one tab), its instances started through its own client: each start is committed
// leased to its worker and each step's new activity tasks too, so no claim of that worker covers those leases.

const stores: Store[] = [];
const runtimes: Runtime[] = [];
afterEach(async () => {
  for (const runtime of runtimes.splice(0)) await runtime.stop({ graceMs: 0 });
  await Promise.all(stores.splice(0).map((store) => store.close()));
});

/**
 * `inner`, whose commits of an activity's result fail (a store error, nothing written) while `failing.on` is set, and
 * so do the renewals of its lease (the worker renews it while the result is retried), which therefore expires.
 */
function failingResults(inner: Store, failing: { on: boolean }): Store {
  return new Proxy(inner, {
    get(target, key) {
      if (key === 'commit') {
        return (writeSet: WriteSet) => failing.on && (writeSet.lease?.kind === 'activity' || writeSet.lease?.kind === 'activityStep')
          ? Promise.reject(new StorageError('injected: the commit failed'))
          : target.commit(writeSet);
      }
      if (key === 'renewActivityLease') {
        return (...args: Parameters<Store['renewActivityLease']>) => failing.on
          ? Promise.reject(new StorageError('injected: the renewal failed'))
          : target.renewActivityLease(...args);
      }
      const value = Reflect.get(target, key) as unknown;
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

describe.each(Object.keys(adapters) as AdapterName[])('an activity result given up at its lease expiry, on a real IndexedDB store: %s', (adapter) => {
  it('runs an activity again when its result could not be committed within its lease', async () => {
    const inner = adapters[adapter](uniqueName('worker-faults-drop'));
    stores.push(inner);
    const failing = { on: false };
    let runs = 0;
    const runtime = createRuntime({
      store: failingResults(inner, failing), logger: silentLogger, activityLeaseMs: 1000,
      orchestrators: { O: function* (ctx) { return yield ctx.callActivity('A'); } },
      // The first run's result fails to commit until its lease has expired; the second's goes through.
      activities: { A: () => { failing.on = ++runs === 1; return `run ${runs}`; } },
    });
    runtimes.push(runtime);
    await runtime.start();
    const id = await runtime.client.startNew('O');
    expect(await runtime.client.waitForCompletion(id, { timeoutMs: 30_000 })).toMatchObject({ runtimeStatus: 'Completed', output: 'run 2' });
  });
});
