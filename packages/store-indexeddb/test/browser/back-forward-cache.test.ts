import { createClient } from '@durable-rx/runtime';
import type { Store } from '@durable-rx/runtime/store-kit';
import { afterEach, describe, expect, it } from 'vitest';
import { DEXIE_SCHEMA_VERSION } from '../../src/internal/dexie-backend.js';
import { adapters, uniqueName, type AdapterName } from '../shared/fixtures.js';

// A page goes into the back/forward cache and comes back (its `pagehide` and `pageshow` with `persisted`, dispatched
// here as the browser fires them). At that `pagehide` Dexie closes every connection of the page, its own way of
// letting the page be cached; the page's transactions on such a connection fail with InvalidStateError ("The database
// connection is closing"), and no `close` event follows. The end-to-end tests (test/e2e/back-forward-cache) run the
// real trip in Chromium; this one shows the rule quickly: a restored page's store works again, opening the database
// again once where its connection was closed.

const stores: Store[] = [];
const restore: (() => void)[] = [];
afterEach(async () => {
  for (const undo of restore.splice(0)) undo();
  await Promise.all(stores.splice(0).map((store) => store.close()));
});

/** Counts the opens of database `name` from now on. */
function countOpens(name: string): () => number {
  let opens = 0;
  const open = IDBFactory.prototype.open;
  IDBFactory.prototype.open = function (this: IDBFactory, ...args: Parameters<IDBFactory['open']>) {
    if (args[0] === name) opens++;
    return open.apply(this, args);
  } as IDBFactory['open'];
  restore.push(() => (IDBFactory.prototype.open = open));
  return () => opens;
}

/** The page goes into the back/forward cache and comes back. */
function throughTheCache(): void {
  dispatchEvent(new PageTransitionEvent('pagehide', { persisted: true }));
  dispatchEvent(new PageTransitionEvent('pageshow', { persisted: true }));
}

describe.each(Object.keys(adapters) as AdapterName[])('a %s store of a page restored from the back/forward cache', (adapter) => {
  it('serves the next calls, opening the database again at most once', async () => {
    const name = uniqueName(`bfcache-${adapter}`);
    const store = adapters[adapter](name);
    stores.push(store);
    const client = createClient({ store });
    const before = await client.startNew('Greet', { instanceId: 'before' });
    const opens = countOpens(name);

    throughTheCache();
    await expect(client.startNew('Greet', { instanceId: 'after' })).resolves.toBe('after');
    expect(await client.getStatus(before)).toMatchObject({ runtimeStatus: 'Pending' });
    expect(await client.getStatus('after')).toMatchObject({ runtimeStatus: 'Pending' });
    // Dexie closed the connection at the `pagehide`: the store opened the database again, once. KeyvalStore's stays open.
    expect(opens()).toBe(adapter === 'DexieStore' ? 1 : 0);
  });

  it('stays closed when the app closed it while it was cached: its calls are refused and the database is not opened again', async () => {
    const name = uniqueName(`bfcache-closed-${adapter}`);
    const store = adapters[adapter](name);
    stores.push(store);
    const client = createClient({ store });
    await client.startNew('Greet', { instanceId: 'before' });
    const opens = countOpens(name);

    dispatchEvent(new PageTransitionEvent('pagehide', { persisted: true }));
    await store.close();
    dispatchEvent(new PageTransitionEvent('pageshow', { persisted: true }));
    await expect(store.getInstance('before')).rejects.toMatchObject({ code: 'store-closed' });
    expect(opens()).toBe(0);
  });
});

describe('a DexieStore of a page restored from the back/forward cache after another tab upgraded the database', () => {
  it('fails its calls with IncompatibleSchemaError, writing nothing: the page must reload to run the newer version', async () => {
    const name = uniqueName('bfcache-upgraded');
    const store = adapters.DexieStore(name);
    stores.push(store);
    const client = createClient({ store });
    await client.startNew('Greet', { instanceId: 'before' });

    dispatchEvent(new PageTransitionEvent('pagehide', { persisted: true }));
    // A newer version of the app in another tab upgrades the database (Dexie closed this page's connection: nothing
    // blocks it) and marks it with its newer schema.
    const upgrade = indexedDB.open(name, 1000);
    upgrade.onupgradeneeded = () => upgrade.transaction!.objectStore('meta').put({ key: 'schema', version: DEXIE_SCHEMA_VERSION + 1, store: 'durable-rx/dexie' });
    const newer = await new Promise<IDBDatabase>((resolve, reject) => {
      upgrade.onsuccess = () => resolve(upgrade.result);
      upgrade.onerror = () => reject(upgrade.error);
    });
    newer.close();
    dispatchEvent(new PageTransitionEvent('pageshow', { persisted: true }));

    await expect(client.getStatus('before')).rejects.toMatchObject({ name: 'IncompatibleSchemaError', code: 'incompatible-schema' });
    await expect(client.startNew('Greet', { instanceId: 'after' })).rejects.toMatchObject({ code: 'incompatible-schema' });
  });
});
