import { createRuntime, type Logger, type Orchestrator, type Runtime } from '@durable-rx/runtime';
import type { Store } from '@durable-rx/runtime/store-kit';
import { firstValueFrom } from 'rxjs';
import { Dexie } from 'dexie';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { SETTLED } from '../../../../test-support/settled.js';
import { DexieStore } from '../../src/dexie-store.js';
import { KeyvalStore } from '../../src/keyval-store.js';
import { KEYVAL_DB_VERSION } from '../../src/internal/keyval-backend.js';
import { create, newInstance, uniqueName, within } from '../shared/fixtures.js';
import { clearSiteData } from './site-data.js';
import { DEXIE_LAYOUT_2 } from '../shared/dexie-layout-2.js';

// Tab A runs an old version of the app: it holds the database open and ignores versionchange. Tab B opens the new
// version: its upgrade is blocked, and IndexedDB tells B (`blocked`). Tab C opens the new version too: its request
// queues behind B's, and Chromium tells C nothing, so C's calls waited for as long as A stayed open. The same holds for
// KeyvalStore behind another connection's upgrade or deletion, and for its own upgrade (of a new database, created at
// version 1 as idb-keyval does, or of an older layout's). One page plays every tab:
// IndexedDB queues the open requests of a database, and reports `blocked`, between the connections of a page as
// between tabs. The bound on the open is small here, so that the test does not wait long for the rejection it expects
// (the open stays queued until the test closes A, whatever the machine's load).

const OPEN_TIMEOUT = { openTimeoutMs: 50 };
const BLOCKED = { name: 'DatabaseBlockedError', code: 'database-blocked', status: 503 };

const stores: Store[] = [];
const runtimes: Runtime[] = [];
const rawConnections: IDBDatabase[] = [];
afterEach(async () => {
  for (const db of rawConnections.splice(0)) db.close();
  for (const runtime of runtimes.splice(0)) await runtime.stop({ graceMs: 0 });
  await Promise.all(stores.splice(0).map((store) => store.close()));
});
function track<T extends Store>(store: T): T {
  stores.push(store);
  return store;
}

/** Tab A: a connection of an old version of the app, which ignores versionchange (closed by the test, or after it). */
async function oldTab(name: string, version?: number): Promise<IDBDatabase> {
  const db = await new Promise<IDBDatabase>((resolve, reject) => {
    const request = version === undefined ? indexedDB.open(name) : indexedDB.open(name, version);
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  rawConnections.push(db);
  return db;
}

/**
 * Resolves once every open request of `name` made before it was answered: IndexedDB answers them in order (an open
 * without a version never waits for a connection to close, only for the requests before it).
 */
async function openedInOrder(name: string): Promise<void> {
  const db = await new Promise<IDBDatabase>((resolve, reject) => {
    const request = indexedDB.open(name);
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  db.close();
}

/**
 * The global `indexedDB`, counting the open requests made through it (each handed to `onRequest` first) and telling
 * when a connection they opened is closed (the database itself is the real one).
 */
function countingOpens(onRequest?: (request: IDBOpenDBRequest) => void): {
  readonly indexedDB: IDBFactory; readonly opens: () => number; readonly requested: Promise<void>; readonly closed: Promise<void>;
} {
  let opens = 0;
  let requested!: () => void;
  let closed!: () => void;
  const factory = new Proxy(indexedDB, {
    get(target, key) {
      if (key === 'open') {
        return (name: string, version?: number) => {
          opens++;
          requested();
          const request = version === undefined ? target.open(name) : target.open(name, version);
          onRequest?.(request);
          request.addEventListener('success', () => {
            const db = request.result;
            const close = db.close.bind(db);
            db.close = () => {
              close();
              closed();
            };
          });
          return request;
        };
      }
      const value = Reflect.get(target, key) as unknown;
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
  return {
    indexedDB: factory, opens: () => opens,
    requested: new Promise((resolve) => (requested = resolve)), closed: new Promise((resolve) => (closed = resolve)),
  };
}

describe('DexieStore behind another store\'s blocked upgrade', () => {
  it('fails the calls of a store whose open queues behind it with DatabaseBlockedError, and uses the database once the old tab closes', async () => {
    const name = uniqueName('queued');
    const a = await oldTab(name, 5);
    const b = track(new DexieStore({ name }));
    await expect(b.getInstance('x')).rejects.toMatchObject(BLOCKED); // told by IndexedDB: `blocked`

    const counted = countingOpens();
    const c = track(new DexieStore({ name, indexedDB: counted.indexedDB, IDBKeyRange, ...OPEN_TIMEOUT }));
    // Before the bound, this call waited for as long as tab A stayed open.
    await expect(c.getInstance('x')).rejects.toMatchObject({ ...BLOCKED, message: expect.stringContaining('openTimeoutMs') });
    // Later calls fail with it too, on the same open request: a new one would only queue behind it.
    await expect(create(c, newInstance('x'))).rejects.toMatchObject(BLOCKED);
    await expect(c.getHistory('x')).rejects.toMatchObject(BLOCKED);
    expect(counted.opens()).toBe(1);

    a.close();
    await openedInOrder(name); // after B's upgrade and C's open
    await create(c, newInstance('x'));
    expect(await c.getInstance('x')).toMatchObject({ runtimeStatus: 'Pending' });
    expect(await b.getInstance('x')).toMatchObject({ runtimeStatus: 'Pending' });
    expect(counted.opens()).toBe(1);
  });

  it('gives a runtime on such a store the typed error, and its worker runs the work once the old tab closes', async () => {
    const name = uniqueName('queued-runtime');
    const a = await oldTab(name, 5);
    await expect(track(new DexieStore({ name })).getInstance('x')).rejects.toMatchObject(BLOCKED);

    const logged: string[] = [];
    const logger: Logger = { warn: (message) => void logged.push(message), error: (message) => void logged.push(message) };
    const orchestrators: Record<string, Orchestrator> = { Hello: function* (ctx) { return yield ctx.callActivity('Greet', ctx.getInput()); } };
    const runtime = createRuntime({
      store: track(new DexieStore({ name, ...OPEN_TIMEOUT })), orchestrators, activities: { Greet: (who: unknown) => `Hello ${String(who)}!` }, logger,
    });
    runtimes.push(runtime);
    await runtime.start();
    // Not the client's UnavailableError after its 30 s bound (which says the start may have applied): this one wrote
    // nothing, and says why.
    await expect(runtime.client.getStatus('x')).rejects.toMatchObject(BLOCKED);
    await expect(runtime.client.startNew('Hello', { instanceId: 'x', input: 'C' })).rejects.toMatchObject(BLOCKED);

    a.close();
    await openedInOrder(name);
    await runtime.client.startNew('Hello', { instanceId: 'x', input: 'C' });
    expect(await runtime.client.waitForCompletion('x', { timeoutMs: 60_000 })).toMatchObject({ runtimeStatus: 'Completed', output: 'Hello C!' });
  });

  it('closes such a store while its calls wait for its open, without waiting for the old tab, even with no bound on the open', async () => {
    const name = uniqueName('queued-close');
    const a = await oldTab(name, 5);
    const b = track(new DexieStore({ name }));
    await expect(b.getInstance('x')).rejects.toMatchObject(BLOCKED);
    const counted = countingOpens();
    // No bound: the calls wait for as long as the open does, and tab A holds it back until the test closes it.
    const c = new DexieStore({ name, indexedDB: counted.indexedDB, IDBKeyRange, openTimeoutMs: Infinity });
    const calls = [c.getInstance('x'), create(c, newInstance('x')), c.getHistory('x')];
    for (const call of calls) call.catch(() => undefined);
    await counted.requested; // the calls wait for that request, queued behind B's upgrade
    // Before, close() waited for the calls, which waited for the open: until tab A closed.
    await c.close();
    for (const call of calls) await expect(call).rejects.toMatchObject({ code: 'store-closed' });
    await expect(c.getInstance('x')).rejects.toMatchObject({ code: 'store-closed' });
    expect(counted.opens()).toBe(1);

    a.close();
    // The open that C's store left queued goes through, and the store closes the connection it made.
    await counted.closed;
    expect((await b.queryInstances({})).instances).toEqual([]); // the create C's store was asked for wrote nothing
    await create(b, newInstance('x'));
    expect(await b.getInstance('x')).toMatchObject({ runtimeStatus: 'Pending' });
    expect(counted.opens()).toBe(1);
  });
});

describe('DexieStore upgrading a database with no other connection in the way', () => {
  it('serves the calls once an upgrade that outlasts the bound on the open is done, without DatabaseBlockedError', async () => {
    const name = uniqueName('slow-upgrade');
    const older = new Dexie(name, { indexedDB, IDBKeyRange });
    older.version(1).stores(DEXIE_LAYOUT_2);
    await older.open();
    await older.table('meta').put({ key: 'schema', version: 2, store: 'durable-rx/dexie' });
    older.close();

    // The upgrade to layout 3 is held (as a large database's index build holds it) until a timer set once it began,
    // as long as the bound on the open, has fired: after the store's timer on the open, set before the request.
    const bound = 100;
    let heldPastBound = false;
    // On a loaded machine IndexedDB may begin the upgrade only after the bound (nothing is in its way, but the open is
    // not answered yet): the first call then fails with DatabaseBlockedError, and the upgrade stays held until the
    // call made once it began (the open answered) waits for it, which the gate lets it do.
    let firstFailed = false;
    let retried = false;
    let boundPassed!: () => void;
    const upgradeHeldPastBound = new Promise<void>((resolve) => (boundPassed = resolve));
    const factory = new Proxy(indexedDB, {
      get(target, key) {
        if (key === 'open') {
          return (dbName: string, version?: number) => {
            const request = version === undefined ? target.open(dbName) : target.open(dbName, version);
            request.addEventListener('upgradeneeded', () => {
              const meta = request.transaction!.objectStore('meta');
              let released = false;
              setTimeout(() => {
                released = true;
                boundPassed();
              }, bound);
              const keepBusy = (): void => {
                if (released && (!firstFailed || retried)) heldPastBound = true;
                else meta.get('schema').onsuccess = keepBusy;
              };
              keepBusy();
            });
            return request;
          };
        }
        const value = Reflect.get(target, key) as unknown;
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
    const store = track(new DexieStore({ name, indexedDB: factory, IDBKeyRange, openTimeoutMs: bound }));
    // Before, the open counted as answered only once the upgrade was done: these failed, "(another tab?)".
    await within(create(store, newInstance('x')).catch(async (error: unknown) => {
      firstFailed = true;
      expect(error).toMatchObject({ ...BLOCKED, message: expect.stringContaining('openTimeoutMs') });
      await upgradeHeldPastBound;
      const retry = create(store, newInstance('x'));
      // Held a while longer, so that the call reaches the store's open before the upgrade is let go.
      await new Promise((resolve) => setTimeout(resolve, bound));
      retried = true;
      await retry;
    }), 'the create');
    expect(heldPastBound).toBe(true);
    expect(await store.getInstance('x')).toMatchObject({ runtimeStatus: 'Pending' });
  });
});

describe('a store closed while its open queues behind another store\'s blocked upgrade', () => {
  it.each(['DexieStore', 'KeyvalStore'] as const)('%s refuses every call made once close() was called with StoreClosedError, and nothing is written once the open goes through', async (adapter) => {
    const name = uniqueName(`queued-closed-${adapter}`);
    const make = (options: { readonly openTimeoutMs?: number } = {}) => adapter === 'DexieStore' ? new DexieStore({ name, ...options }) : new KeyvalStore({ name, ...options });
    // Tab A holds the database; another version of the app upgrades it, blocked by A: for Dexie a DexieStore of the
    // new layout (A holds version 5 of an empty database), for KeyvalStore a raw upgrade of the database it made.
    let existing: string[] = [];
    let upgraded: Promise<unknown>;
    let a: IDBDatabase;
    if (adapter === 'DexieStore') {
      a = await oldTab(name, 5);
      const b = track(new DexieStore({ name }));
      await expect(b.getInstance('x')).rejects.toMatchObject(BLOCKED);
      upgraded = Promise.resolve();
    } else {
      const first = make();
      await create(first, newInstance('x'));
      await first.close();
      existing = ['x'];
      a = await oldTab(name);
      upgraded = (await blockedUpgrade(name)).done;
    }

    const store = make(OPEN_TIMEOUT);
    const queued = store.getInstance('x'); // its read waits for the open, queued behind the upgrade
    queued.catch(() => undefined);
    const closing = store.close();
    // Made while the store closes, all refused: the reads too, which joined the read queued before them (refused as
    // the store closed, or answered, had the open gone through).
    const whileClosing = await Promise.all([
      store.getInstance('x'), store.getInstance('y'), create(store, newInstance('y')),
      store.claimOrchestration({ owner: 'w', leaseMs: 60_000, now: new Date() }),
    ].map((call) => call.then(() => 'answered', (error: { readonly code?: string }) => error.code)));
    expect(whileClosing).toEqual(['store-closed', 'store-closed', 'store-closed', 'store-closed']);
    await closing; // at once, not when tab A closes (nor when the bound on the open passes)
    await expect(queued).rejects.toMatchObject({ code: 'store-closed' });
    await expect(store.getInstance('x')).rejects.toMatchObject({ code: 'store-closed' });
    await expect(create(store, newInstance('z'))).rejects.toMatchObject({ code: 'store-closed' });
    expect(await firstValueFrom(store.changes$, { defaultValue: 'ended' })).toBe('ended');
    expect(await firstValueFrom(store.workAvailable$, { defaultValue: 'ended' })).toBe('ended');

    a.close();
    await upgraded;
    await openedInOrder(name); // after the open the closed store left queued
    await expect(store.getInstance('x')).rejects.toMatchObject({ code: 'store-closed' });
    const after = track(make());
    expect((await after.queryInstances({})).instances.map((state) => state.instanceId)).toEqual(existing);
  });
});

describe.each(['upgrades', 'deletes'] as const)('KeyvalStore while another connection %s the database, blocked by an old tab', (what) => {
  it('fails the calls with DatabaseBlockedError, and uses the database once the old tab closes', async () => {
    const name = uniqueName(`keyval-queued-${what}`);
    const first = new KeyvalStore({ name });
    await create(first, newInstance('before'));
    await first.close();
    const a = await oldTab(name);
    // Another version of the app upgrades (or deletes) the database: blocked by tab A.
    let blocked!: () => void;
    const isBlocked = new Promise<void>((resolve) => (blocked = resolve));
    const takenOver = new Promise<void>((resolve, reject) => {
      const request = what === 'upgrades' ? indexedDB.open(name, KEYVAL_DB_VERSION + 1) : indexedDB.deleteDatabase(name);
      request.onblocked = () => blocked();
      request.onsuccess = () => {
        if (what === 'upgrades') (request.result as IDBDatabase).close();
        resolve();
      };
      request.onerror = () => reject(request.error);
    });
    await isBlocked;

    const store = track(new KeyvalStore({ name, ...OPEN_TIMEOUT }));
    await expect(store.getInstance('before')).rejects.toMatchObject({ ...BLOCKED, message: expect.stringContaining('openTimeoutMs') });
    await expect(create(store, newInstance('after'))).rejects.toMatchObject(BLOCKED);

    a.close();
    await takenOver;
    await openedInOrder(name);
    // The deleted database is created again as idb-keyval does (version 1), then raised to KeyvalStore's version: a
    // second open, which IndexedDB may answer after the bound on a loaded machine (that call then fails with
    // DatabaseBlockedError, and a call once the open was answered takes its connection).
    const before = await vi.waitFor(() => store.getInstance('before'), { timeout: SETTLED.timeoutMs, interval: 50 });
    if (what === 'upgrades') expect(before).toMatchObject({ runtimeStatus: 'Pending' });
    else expect(before).toBeUndefined();
    await create(store, newInstance('after'));
    expect(await store.getInstance('after')).toMatchObject({ runtimeStatus: 'Pending' });
  });
});

describe('KeyvalStore whose own upgrade an old tab blocks', () => {
  it('fails the calls with DatabaseBlockedError at once, whatever openTimeoutMs, and uses the database once the old tab closes', async () => {
    const name = uniqueName('keyval-own-upgrade');
    // Tab A holds the database at version 1, as idb-keyval's first open makes a new one, and ignores versionchange: the
    // store raises it to its own version, an upgrade that A blocks, and IndexedDB tells the store so (`blocked`).
    const a = await new Promise<IDBDatabase>((resolve, reject) => {
      const request = indexedDB.open(name, 1);
      request.onupgradeneeded = () => request.result.createObjectStore('durable-rx');
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
    rawConnections.push(a);
    // No bound on the open: before, the calls waited for as long as A stayed open (the test's own bound fails it then).
    const store = track(new KeyvalStore({ name, openTimeoutMs: Infinity }));
    const error = await within(store.getInstance('x').then(() => undefined, (e: unknown) => e), 'the first call failing');
    expect(error).toMatchObject(BLOCKED);
    expect((error as { cause?: Event }).cause?.type).toBe('blocked');
    await expect(create(store, newInstance('x'))).rejects.toMatchObject(BLOCKED);

    a.close();
    await openedInOrder(name);
    await create(store, newInstance('x'));
    expect(await store.getInstance('x')).toMatchObject({ runtimeStatus: 'Pending' });
  });
});

describe('KeyvalStore after the browser closed its connection', () => {
  it('fails the calls with DatabaseBlockedError while its new connection queues behind a blocked upgrade, then uses it', async () => {
    const name = uniqueName('keyval-reopen');
    const store = track(new KeyvalStore({ name, ...OPEN_TIMEOUT }));
    // Its first open is queued behind nothing, but IndexedDB may answer it after the bound on a loaded machine (it
    // creates the database): that call then fails with DatabaseBlockedError, and the next one, once the open was
    // answered, takes its connection (as the gate says). Without this, the run failed at load 12-15.
    await create(store, newInstance('before')).catch(async (error: unknown) => {
      expect(error).toMatchObject(BLOCKED);
      await openedInOrder(name);
      await create(store, newInstance('before'));
    });
    // The site's data cleared (DevTools' delete, which force-closes the connections): the store's connection gets
    // `close`, and its next call opens a new one.
    await clearSiteData(store, name);
    // Meanwhile an old tab opens the database (as idb-keyval does) and ignores versionchange, and a newer version of
    // the app asks to upgrade it: blocked.
    const a = await oldKeyvalTab(name);
    const upgraded = (await blockedUpgrade(name)).done;

    // Before the bound, this call waited for as long as tab A stayed open (the test's own bound, far above the store's,
    // fails it then). The new connection's open stays queued until the test closes A, whatever the machine's load.
    await expect(within(store.getInstance('before'), 'the first call failing')).rejects.toMatchObject({ ...BLOCKED, message: expect.stringContaining('openTimeoutMs') });
    await expect(within(create(store, newInstance('after')), 'the create failing')).rejects.toMatchObject(BLOCKED);

    a.close();
    await upgraded;
    await openedInOrder(name);
    expect(await store.getInstance('before')).toBeUndefined(); // cleared with the site's data
    await create(store, newInstance('after'));
    expect(await store.getInstance('after')).toMatchObject({ runtimeStatus: 'Pending' });
  });
});

describe('KeyvalStore closed while its new connection queues behind a blocked upgrade', () => {
  it('settles close() without waiting for the old tab, even with no bound on the open, and writes nothing', async () => {
    const name = uniqueName('keyval-reopen-close');
    const store = new KeyvalStore({ name, openTimeoutMs: Infinity });
    await create(store, newInstance('before'));
    // The site's data cleared: the store's next call opens a new connection, which queues behind an upgrade that an
    // old tab blocks (as in the test above).
    await clearSiteData(store, name);
    const a = await oldKeyvalTab(name);
    const upgraded = (await blockedUpgrade(name)).done;

    const calls = [store.getInstance('before'), create(store, newInstance('after'))];
    for (const call of calls) call.catch(() => undefined);
    // Before, close() waited for the calls, which waited for the new connection: until tab A closed.
    await store.close();
    for (const call of calls) await expect(call).rejects.toMatchObject({ code: 'store-closed' });

    a.close();
    await upgraded;
    await openedInOrder(name); // after the open the closed store left queued
    const after = track(new KeyvalStore({ name }));
    expect((await after.queryInstances({})).instances).toEqual([]); // cleared with the site's data; 'after' not written
  });
});

/**
 * Another tab asks to upgrade `name` past KeyvalStore's version. Resolves once the upgrade is blocked (an open connection holds the
 * old version), with a promise that settles when the upgrade goes through.
 */
async function blockedUpgrade(name: string): Promise<{ readonly done: Promise<void> }> {
  const upgrade = askUpgrade(name, KEYVAL_DB_VERSION + 1);
  await upgrade.blocked;
  return { done: upgrade.done };
}

/**
 * Asks, at once, to upgrade `name` to `version`: `blocked` resolves if an open connection holds the old version, `done`
 * settles when the upgrade goes through (the connection it gets is closed) or fails.
 */
function askUpgrade(name: string, version: number): { readonly blocked: Promise<void>; readonly done: Promise<void> } {
  let blocked!: () => void;
  const isBlocked = new Promise<void>((resolve) => (blocked = resolve));
  const done = new Promise<void>((resolve, reject) => {
    const request = indexedDB.open(name, version);
    request.onblocked = () => blocked();
    request.onsuccess = () => {
      request.result.close();
      resolve();
    };
    request.onerror = () => reject(request.error);
  });
  return { blocked: isBlocked, done };
}

/** An old tab that opens the database as idb-keyval does, and ignores versionchange (closed by the test's cleanup). */
async function oldKeyvalTab(name: string): Promise<IDBDatabase> {
  const a = await new Promise<IDBDatabase>((resolve, reject) => {
    const request = indexedDB.open(name);
    request.onupgradeneeded = () => request.result.createObjectStore('durable-rx');
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  rawConnections.push(a);
  return a;
}

describe('DexieStore on a database a newer version of the app raised, whose second open queues behind a blocked upgrade', () => {
  /**
   * The database at a native version 10 above DexieStore's own (a newer app's), held open by an old tab that ignores
   * versionchange. DexieStore's open of its version fails with VersionError at once, and Dexie opens again without a
   * version; the returned factory has a still newer app ask to upgrade 10 above that (blocked by the old tab) at that
   * VersionError, before Dexie's second request, which so queues behind the upgrade, told nothing by Chromium.
   */
  async function raisedAndHeld(name: string): Promise<{
    readonly factory: ReturnType<typeof countingOpens>; readonly upgradeBlocked: Promise<void>; readonly upgraded: Promise<void>; readonly a: IDBDatabase;
  }> {
    const first = new DexieStore({ name });
    await create(first, newInstance('before'));
    await first.close();
    const own = await new Promise<number>((resolve, reject) => {
      const request = indexedDB.open(name);
      request.onsuccess = () => (resolve(request.result.version), request.result.close());
      request.onerror = () => reject(request.error);
    });
    (await oldTab(name, own + 10)).close(); // the newer app's upgrade, which changes no table
    const a = await oldTab(name, own + 10);
    let blocked!: () => void;
    const upgradeBlocked = new Promise<void>((resolve) => (blocked = resolve));
    let done!: () => void;
    let failed!: (error: unknown) => void;
    const upgraded = new Promise<void>((resolve, reject) => {
      done = resolve;
      failed = reject;
    });
    const counted = countingOpens((request) => request.addEventListener('error', () => {
      if (request.error?.name !== 'VersionError') return;
      const upgrade = askUpgrade(name, own + 20);
      void upgrade.blocked.then(blocked);
      upgrade.done.then(done, failed);
    }));
    return { factory: counted, upgradeBlocked, upgraded, a };
  }

  it('fails the calls with DatabaseBlockedError after openTimeoutMs, writes nothing, and uses the database once the old tab closes', async () => {
    const name = uniqueName('version-error-queued');
    const { factory, upgradeBlocked, upgraded, a } = await raisedAndHeld(name);
    const store = track(new DexieStore({ name, indexedDB: factory.indexedDB, IDBKeyRange, ...OPEN_TIMEOUT }));
    // Before, the VersionError counted as the answer to the open and ended its bound: these calls waited for as long
    // as tab A stayed open (here the test's own bound, far above the store's, would have failed them).
    // Handled at once: the store's bound counts from its open, so on a loaded machine the call may fail before the
    // upgrade is blocked, and a rejection without a handler by then would fail the run.
    const call = within(store.getInstance('before'), 'the first call failing').catch((error: unknown) => error);
    await upgradeBlocked;
    expect(await call).toMatchObject({ ...BLOCKED, message: expect.stringContaining('openTimeoutMs') });
    await expect(within(create(store, newInstance('after')), 'the create failing')).rejects.toMatchObject(BLOCKED);
    expect(factory.opens()).toBe(2); // the first with DexieStore's version, the second without: no third meanwhile

    a.close();
    await upgraded;
    await openedInOrder(name);
    expect(await store.getInstance('before')).toMatchObject({ runtimeStatus: 'Pending' });
    expect(await store.getInstance('after')).toBeUndefined(); // the refused create wrote nothing
    await create(store, newInstance('after'));
    expect(await store.getInstance('after')).toMatchObject({ runtimeStatus: 'Pending' });
    expect(factory.opens()).toBe(2);
  });

  it('closes at once while its calls wait for that second open, and what it opens later is closed, nothing written', async () => {
    const name = uniqueName('version-error-close');
    const { factory, upgradeBlocked, upgraded, a } = await raisedAndHeld(name);
    const store = new DexieStore({ name, indexedDB: factory.indexedDB, IDBKeyRange, openTimeoutMs: Infinity });
    const calls = [store.getInstance('before'), create(store, newInstance('after'))];
    for (const call of calls) call.catch(() => undefined);
    await upgradeBlocked; // the second open is queued behind the upgrade from now on
    await within(store.close(), 'the store closing');
    for (const call of calls) await expect(call).rejects.toMatchObject({ code: 'store-closed' });
    await expect(store.getInstance('before')).rejects.toMatchObject({ code: 'store-closed' });

    a.close();
    await upgraded;
    await factory.closed; // the queued second open went through, and the closed store closed its connection
    const after = track(new DexieStore({ name }));
    expect((await after.queryInstances({})).instances.map((state) => state.instanceId)).toEqual(['before']);
    expect(factory.opens()).toBe(2);
  });
});
