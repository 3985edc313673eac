import { describe, expect, it } from 'vitest';
import { createClient } from '../src/client/create-client.js';
import { InvalidArgumentError } from '../src/model/errors/invalid-argument-error.js';
import { MemoryStore } from '../src/store/memory-store.js';
import type { Store, StoreCapabilities } from '../src/store/store.js';

/**
 * A store that predates the newer filter members: it answers every call as `store` does but names only `filters` in
 * its capabilities (none when absent), and records the calls a client makes, so a test can tell that a refused list
 * or purge never reached it.
 */
function olderStore(store: MemoryStore, filters?: StoreCapabilities['filters']): { store: Store; calls: string[] } {
  const calls: string[] = [];
  const { filters: _all, ...capabilities } = store.capabilities;
  const view = new Proxy(store, {
    get(target, key) {
      if (key === 'capabilities') return filters === undefined ? capabilities : { ...capabilities, filters };
      const value: unknown = Reflect.get(target, key, target);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        if (key === 'queryInstances' || key === 'purgeInstances') calls.push(key);
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { store: view, calls };
}

/** Two ended instances (`a` tagged and named `A`, `b` named `B`) and one pending `p`, started on `store`. */
async function seed(store: MemoryStore): Promise<void> {
  const admin = createClient({ store });
  await admin.startNew('A', { instanceId: 'a', tags: { team: 'x' } });
  await admin.startNew('B', { instanceId: 'b' });
  await admin.terminate('a', 'done');
  await admin.terminate('b', 'done');
  await admin.startNew('A', { instanceId: 'p', tags: { team: 'x' } });
}

describe('filters a store does not apply', () => {
  it('refuses a list, purge or command by name, tags or descending order with InvalidArgumentError, before the store is called', async () => {
    const memory = new MemoryStore();
    await seed(memory);
    const { store, calls } = olderStore(memory);
    const client = createClient({ store });
    const from = new Date(0);
    const refusals: [string, () => Promise<unknown>, RegExp][] = [
      ['listInstances by name', () => client.listInstances({ name: ['A'] }), /query\.name is not applied by the store memory/],
      ['listInstances newest first', () => client.listInstances({ order: 'desc' }), /query\.order is not applied/],
      ['getStatusBy tags', () => client.getStatusBy({ tags: { team: 'x' } }), /query\.tags is not applied/],
      ['purge by tags', () => client.purgeInstanceHistoryBy({ createdTimeFrom: from, tags: { team: 'x' } }), /purge filter\.tags is not applied/],
      ['purge by name', () => client.purgeInstanceHistoryBy({ createdTimeFrom: from, name: ['B'] }), /purge filter\.name is not applied/],
      ['terminate by tags', () => client.terminateBy({ tags: { team: 'x' } }, 'stop'), /terminateBy filter\.tags is not applied/],
    ];
    for (const [name, call, message] of refusals) {
      const refused = await call().then(() => undefined, (error: unknown) => error);
      expect(refused, name).toBeInstanceOf(InvalidArgumentError);
      expect((refused as Error).message, name).toMatch(message);
    }
    expect(() => client.instances$({ name: ['A'] })).toThrow(/filter\.name is not applied/);
    // Nothing was listed, purged or terminated: a store ignoring the filter would have purged both ended instances.
    expect(calls).toEqual([]);
    const admin = createClient({ store: memory });
    expect((await admin.getStatusAll()).map((s) => [s.instanceId, s.runtimeStatus])).toEqual([
      ['a', 'Terminated'], ['b', 'Terminated'], ['p', 'Pending'],
    ]);
  });

  it('lets through the members every store applies, an ascending order and empty name and tag filters', async () => {
    const memory = new MemoryStore();
    await seed(memory);
    const { store } = olderStore(memory);
    const client = createClient({ store });
    const listed = await client.listInstances({ order: 'asc', name: [], tags: {}, runtimeStatus: ['Terminated'], instanceIdPrefix: '' });
    expect(listed.instances.map((s) => s.instanceId)).toEqual(['a', 'b']);
    expect(await client.purgeInstanceHistoryBy({ createdTimeFrom: new Date(0), runtimeStatus: ['Terminated'] })).toEqual({ instancesDeleted: 2 });
  });

  it('applies the members a store names in capabilities.filters', async () => {
    const memory = new MemoryStore();
    await seed(memory);
    const { store } = olderStore(memory, ['tags']);
    const client = createClient({ store });
    expect((await client.getStatusBy({ tags: { team: 'x' } })).map((s) => s.instanceId)).toEqual(['a', 'p']);
    await expect(client.listInstances({ name: ['A'] })).rejects.toThrow(/query\.name is not applied/);
    expect(await client.purgeInstanceHistoryBy({ createdTimeFrom: new Date(0), tags: { team: 'x' } })).toEqual({ instancesDeleted: 1 });
    expect((await client.getStatusAll()).map((s) => s.instanceId)).toEqual(['b', 'p']);
  });

  it('every store of this package names all three', () => {
    expect(new MemoryStore().capabilities.filters).toEqual(['name', 'tags', 'order']);
  });
});
