import { firstValueFrom } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import type { Store } from '@durable-rx/runtime/store-kit';
import { countIndexedDb } from '../count-idb.js';
import { adapters, create, newInstance, T0, uniqueName, type AdapterName } from './fixtures.js';

const opened: Store[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((s) => s.close()));
});

const claimOptions = { owner: 'w', leaseMs: 30_000, now: T0 };

// nextWakeTime after a claim round reuses what the round's claim probe read of the instances, until work is signalled.
describe.each(Object.keys(adapters) as AdapterName[])('%s: nextWakeTime after a claim round that found nothing', (adapter) => {
  it('sees an instance started afterwards by the same handle', async () => {
    const store = adapters[adapter](uniqueName('wake-local'));
    opened.push(store);
    expect(await store.claimOrchestration(claimOptions)).toBeUndefined();
    await create(store, newInstance('a'));
    const at = await store.nextWakeTime(T0);
    expect(at?.getTime()).toBeLessThanOrEqual(T0.getTime());
  });

  it('sees an instance another handle started once its signal arrived', async () => {
    const name = uniqueName('wake-remote');
    const worker = adapters[adapter](name);
    const client = adapters[adapter](name);
    opened.push(worker, client);
    expect(await worker.claimOrchestration(claimOptions)).toBeUndefined();
    const signalled = firstValueFrom(worker.workAvailable$);
    await create(client, newInstance('a'));
    await signalled;
    const at = await worker.nextWakeTime(T0);
    expect(at?.getTime()).toBeLessThanOrEqual(T0.getTime());
  });

});

describe.each(Object.keys(adapters) as AdapterName[])('%s: a claim after this handle started an instance', (adapter) => {
  it('goes straight to its readwrite transaction, and gives nothing when another handle took the instance', async () => {
    const name = uniqueName('hint');
    const store = adapters[adapter](name);
    const other = adapters[adapter](name);
    opened.push(store, other);
    await create(store, newInstance('a'));
    await create(store, newInstance('b'));
    const counter = countIndexedDb();
    try {
      expect((await store.claimOrchestration(claimOptions))?.state.instanceId).toBe('a');
      expect(counter.counts()).toMatchObject({ readonly: 0, readwrite: 1 });
      // 'b' is still remembered as claimable here, but the other handle takes it first.
      expect((await other.claimOrchestration(claimOptions))?.state.instanceId).toBe('b');
      expect(await store.claimOrchestration(claimOptions)).toBeUndefined();
      // Nothing is remembered any more: the next claim looks first, in a readonly transaction, and writes nothing.
      counter.reset();
      expect(await store.claimOrchestration(claimOptions)).toBeUndefined();
      expect(counter.counts()).toMatchObject({ readonly: 1, readwrite: 0 });
    } finally {
      counter.uninstall();
    }
  });
});
