import { Dexie } from 'dexie';
import { afterEach, describe, expect, it } from 'vitest';
import type { Store } from '@durable-rx/runtime/store-kit';
import { DexieStore } from '../../src/dexie-store.js';
import { DEXIE_SCHEMA_VERSION } from '../../src/internal/dexie-backend.js';
import { KeyvalStore } from '../../src/keyval-store.js';
import { DEXIE_LAYOUT_2 } from './dexie-layout-2.js';
import { create, newInstance, uniqueName } from './fixtures.js';
import { requested, writeOldLayout } from './old-layouts.js';

// A DexieStore whose database name is already taken by someone else's database (the app's own Dexie database, a
// KeyvalStore's) must refuse it with IncompatibleSchemaError and leave it exactly as it was: Dexie's upgrade to
// DexieStore's schema deletes every table it does not declare, so the refusal has to come before that upgrade writes
// anything, not after it.

const opened: Store[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((store) => store.close()));
});

function dexieStore(name: string): DexieStore {
  const store = new DexieStore({ name, indexedDB, IDBKeyRange });
  opened.push(store);
  return store;
}

/** The IndexedDB version of database `name` and its object stores, read without asking for a version (no upgrade). */
async function shapeOf(name: string): Promise<{ readonly version: number; readonly tables: string[] }> {
  const connection = await requested(indexedDB.open(name));
  const shape = { version: connection.version, tables: [...connection.objectStoreNames].sort() };
  connection.close();
  return shape;
}

/** The code of the error `call` fails with, or 'resolved'. */
function outcome(call: Promise<unknown>): Promise<unknown> {
  return call.then(() => 'resolved', (error: { code?: unknown }) => error.code);
}

describe('DexieStore on a database that belongs to someone else', () => {
  // Dexie version 1 is below DexieStore's (an upgrade), 2 the same (Dexie patches the missing tables in with an upgrade
  // of its own), 3 above it (opened at its own version, then patched the same way).
  it.each([1, 2, 3])("refuses the app's own Dexie database (version %i) and leaves its table and rows as they were", async (version) => {
    const name = uniqueName(`app-dexie-${version}`);
    const app = new Dexie(name, { indexedDB, IDBKeyRange });
    app.version(version).stores({ friends: '++id, name' });
    await app.table('friends').add({ name: 'Ann' });
    app.close();
    const before = await shapeOf(name);

    const store = dexieStore(name);
    // The first call says why, not DatabaseBlockedError; so does every later one (nothing became DexieStore's).
    expect(await outcome(store.getInstance('a'))).toBe('incompatible-schema');
    expect(await outcome(create(store, newInstance('a')))).toBe('incompatible-schema');
    await store.close();
    expect(await outcome(dexieStore(name).getInstance('a'))).toBe('incompatible-schema');

    expect(await shapeOf(name)).toEqual(before);
    const again = new Dexie(name, { indexedDB, IDBKeyRange });
    again.version(version).stores({ friends: '++id, name' });
    expect(await again.table('friends').toArray()).toEqual([{ id: 1, name: 'Ann' }]);
    again.close();
  });

  it('refuses a KeyvalStore database of the same name, which KeyvalStore still reads', async () => {
    const name = uniqueName('keyval-then-dexie');
    const keyval = new KeyvalStore({ name });
    await create(keyval, newInstance('a'));
    await keyval.close();
    const before = await shapeOf(name);

    expect(await outcome(dexieStore(name).getInstance('a'))).toBe('incompatible-schema');

    expect(await shapeOf(name)).toEqual(before);
    const again = new KeyvalStore({ name });
    opened.push(again);
    expect(await again.getInstance('a')).toMatchObject({ instanceId: 'a', runtimeStatus: 'Pending' });
  });

  it.each([
    ['marked by someone else', { key: 'schema', version: 2, store: 'someone-else' }],
    ['marked by a newer DexieStore', { key: 'schema', version: DEXIE_SCHEMA_VERSION + 1, store: 'durable-rx/dexie' }],
  ])('refuses a database with its older tables but %s, without upgrading it', async (_what, marker) => {
    const name = uniqueName('foreign-marker');
    const old = new Dexie(name, { indexedDB, IDBKeyRange });
    old.version(1).stores(DEXIE_LAYOUT_2);
    await old.table('meta').put(marker);
    old.close();
    const before = await shapeOf(name);

    expect(await outcome(dexieStore(name).getInstance('a'))).toBe('incompatible-schema');

    // Not upgraded to Dexie version 2 (no index added, the marker as it was).
    expect(await shapeOf(name)).toEqual(before);
    const check = new Dexie(name, { indexedDB, IDBKeyRange });
    check.version(1).stores(DEXIE_LAYOUT_2);
    expect(await check.table('meta').get('schema')).toEqual(marker);
    check.close();
  });

  it('still upgrades its own layout-2 database, and takes an existing empty one', async () => {
    const own = uniqueName('own-layout-2');
    await writeOldLayout(true, own);
    const store = dexieStore(own);
    await create(store, newInstance('a'));
    expect(await store.getInstance('a')).toMatchObject({ runtimeStatus: 'Pending' });
    expect((await shapeOf(own)).version).toBe(80);

    const empty = uniqueName('empty');
    (await requested(indexedDB.open(empty, 3))).close(); // someone's open made it, with no table: it holds nothing
    const taken = dexieStore(empty);
    await create(taken, newInstance('b'));
    expect(await taken.getInstance('b')).toMatchObject({ runtimeStatus: 'Pending' });
  });
});
