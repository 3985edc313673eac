import type { Observable } from 'rxjs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { OrchestrationWorkItem, Store } from '@durable-rx/runtime/store-kit';
import { SETTLED } from '../../../../test-support/settled.js';
import { DexieStore } from '../../src/dexie-store.js';
import { IdbStore } from '../../src/idb-store.js';
import type { StoreBackend } from '../../src/internal/store-backend.js';
import { BrowserClose, finishChecked } from '../../src/internal/idb-transaction.js';
import { ReadsAhead } from '../../src/internal/read-ahead.js';
import { DEXIE_SCHEMA_VERSION } from '../../src/internal/dexie-backend.js';
import { KEYVAL_DB_VERSION, KEYVAL_SCHEMA_VERSION } from '../../src/internal/keyval-backend.js';
import { CLOSE_WAIT_MS } from '../../src/internal/idb-transaction.js';
import { KeyvalStore } from '../../src/keyval-store.js';
import { DatabaseUpgradingError } from '../../src/errors/database-upgrading-error.js';
import { adapters, claim, commitOf, create, message, newInstance, send, started, T0, uniqueName, connectionOf, type AdapterName } from './fixtures.js';

const opened: Store[] = [];
const rawConnections: IDBDatabase[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((s) => s.close()));
  for (const db of rawConnections.splice(0)) db.close();
});
function track<T extends Store>(store: T): T {
  opened.push(store);
  return store;
}

describe.each(Object.keys(adapters) as AdapterName[])('failures of %s', (adapter) => {
  it('writes nothing of a commit that fails half-way (a value IndexedDB cannot store)', async () => {
    const store = track(adapters[adapter](uniqueName('atomic')));
    await create(store, newInstance('a'));
    const item = await claim(store);
    await create(store, newInstance('other'));
    const commit = commitOf(item.state, item.lease.token, {
      consumedMessageIds: item.messages.map((m) => m.id),
      state: { ...item.state, runtimeStatus: 'Running', customStatus: 'half', version: item.state.version + 1, historyLength: 1 },
      history: [started('a')],
      // Written after the history, the state and the consumed messages: its failure must undo all of them.
      activityTasks: [{ id: 't1', instanceId: 'a', executionId: 'exec-1', name: 'Act', taskScheduledId: 0, attempt: 1, input: () => 'not cloneable' }],
      // ... and so must the reads and writes the commit goes on with after the failed one.
      messages: [message('other', { type: 'EventRaised', eventId: -1, timestamp: T0.toISOString(), name: 'from-a' })],
    });
    await expect(store.commit(commit)).rejects.toMatchObject({ code: 'invalid-argument', status: 400 });
    expect(await store.getInstance('a')).toMatchObject({ runtimeStatus: 'Pending', version: 1 });
    expect(await store.getHistory('a')).toEqual([]);
    expect(await store.claimActivity({ owner: 'w', leaseMs: 1000, now: new Date(2e12) })).toBeUndefined();
    // The lease is still held and the start message still there: the worker can retry or abandon.
    await store.abandonOrchestration('a', item.lease.token);
    const next = await claim(store);
    expect(next.state.instanceId).toBe('a');
    expect(next.messages.map((m) => m.event.type)).toEqual(['ExecutionStarted']);
    const other = await claim(store);
    expect(other.messages.map((m) => m.event.type)).toEqual(['ExecutionStarted']);
  });

  it('writes nothing of a commit whose write IndexedDB refuses after it was issued, and goes on working', async () => {
    // The transaction asks to commit without waiting for its writes: a write that fails on the way must abort it.
    const store = track(await refusingDatabase[adapter](uniqueName('atomic-async')));
    const changes: string[] = [];
    const feed = store.changes$.subscribe(({ instanceId, state }) => changes.push(`${instanceId} v${state?.version}`));
    try {
      await create(store, newInstance('a'));
      await create(store, newInstance('b'));
      const first = await claim(store);
      const other = first.state.instanceId;
      const act = { executionId: 'exec-1', name: 'Act', taskScheduledId: 0, attempt: 1 };
      await store.commit(commitOf(first.state, first.lease.token, {
        consumedMessageIds: first.messages.map((m) => m.id),
        state: { ...first.state, runtimeStatus: 'Running', version: first.state.version + 1, historyLength: 1 },
        history: [started(other)],
        // DexieStore keeps an instance's first task in its row: the second one is a row of the tasks table.
        activityTasks: [{ id: 'first', instanceId: other, ...act }, { id: 'shared-id', instanceId: other, ...act, taskScheduledId: 1 }],
      }));
      const second = await claim(store);
      const id = second.state.instanceId;
      await send(store, message(other, { type: 'EventRaised', eventId: -1, timestamp: T0.toISOString(), name: 'waiting' }));
      const before = changes.length;
      // The refused write (see refusingDatabase) comes after the history and the deletes of the consumed messages; the
      // database refuses it when it runs it, not when it is issued.
      const step = {
        consumedMessageIds: second.messages.map((m) => m.id),
        state: { ...second.state, runtimeStatus: 'Running' as const, customStatus: 'half', version: second.state.version + 1, historyLength: 1 },
        history: [started(id)],
      };
      await expect(store.commit(commitOf(second.state, second.lease.token, {
        ...step,
        activityTasks: [{ id: 'second', instanceId: id, ...act }, { id: 'shared-id', instanceId: id, ...act, taskScheduledId: 1 }],
        messages: [message(other, { type: 'EventRaised', eventId: -1, timestamp: T0.toISOString(), name: 'from-b' })],
      }))).rejects.toMatchObject({ code: 'storage-error', status: 500 });

      // Nothing of it is visible: no change was published, the state, history, messages and tasks are as before it.
      expect(changes.slice(before)).toEqual([]);
      expect(await store.getInstance(id)).toMatchObject({ runtimeStatus: 'Pending', version: 1, historyLength: 0 });
      expect(await store.getHistory(id)).toEqual([]);
      // The consumed start message is still pending under the held lease, and nothing reached the other instance.
      await store.abandonOrchestration(id, second.lease.token);
      const pending = new Map<string, string[]>();
      let again: OrchestrationWorkItem | undefined;
      for (let item = await claimNext(store); item; item = await claimNext(store)) {
        pending.set(item.state.instanceId, item.messages.map((m) => (m.event.type === 'EventRaised' ? m.event.name : m.event.type)));
        if (item.state.instanceId === id) again = item;
      }
      expect(pending).toEqual(new Map([[other, ['waiting']], [id, ['ExecutionStarted']]]));
      expect((await store.claimActivity({ owner: 'w', leaseMs: 1000, now: T0 }))?.task.instanceId).toBe(other);
      expect((await store.claimActivity({ owner: 'w', leaseMs: 1000, now: T0 }))?.task.instanceId).toBe(other);
      expect(await store.claimActivity({ owner: 'w', leaseMs: 1000, now: T0 })).toBeUndefined();

      // The store goes on working: the same step without the refused write commits.
      await store.commit(commitOf(again!.state, again!.lease.token, { ...step, activityTasks: [{ id: 'own-id', instanceId: id, ...act }] }));
      expect(await store.getInstance(id)).toMatchObject({ runtimeStatus: 'Running', customStatus: 'half', version: 2 });
      expect(changes.slice(before)).toEqual([`${id} v2`]);
      expect((await store.claimActivity({ owner: 'w', leaseMs: 1000, now: T0 }))?.task.id).toBe('own-id');
    } finally {
      feed.unsubscribe();
    }
  });

  it('reports another connection upgrading the database, and lets it proceed', async () => {
    const name = uniqueName('upgrade');
    const store = track(adapters[adapter](name));
    await create(store, newInstance('a'));
    const upgraded = await openRaw(name, 1000);
    expect(upgraded.version).toBe(1000);
    await expect(store.getInstance('a')).rejects.toMatchObject({ code: 'database-upgrading', status: 503 });
    await expect(create(store, newInstance('b'))).rejects.toMatchObject({ code: 'database-upgrading' });
  });

  it.each(['upgrades', 'deletes'] as const)('fails its change feeds for good when another connection %s the database', async (what) => {
    const name = uniqueName(`lost-${what}`);
    const store = track(adapters[adapter](name));
    await create(store, newInstance('a'));
    // Subscribed before: a client's status$, a worker's wake-ups. They must not wait for changes that cannot come.
    const changes = ended(store.changes$);
    const work = ended(store.workAvailable$);
    if (what === 'upgrades') rawConnections.push(await openRaw(name, 1000));
    else await requestDone(indexedDB.deleteDatabase(name));
    const error = await changes;
    expect(error).toBeInstanceOf(DatabaseUpgradingError);
    expect(error).toMatchObject({ code: 'database-upgrading', status: 503, storeClosed: true });
    expect(await work).toBe(error);
    // A subscriber that comes later hears the same at once, and every call rejects with it.
    expect(await ended(store.changes$)).toBe(error);
    expect(await ended(store.workAvailable$)).toBe(error);
    await expect(store.getInstance('a')).rejects.toBe(error);
    // Closing it settles, and changes nothing.
    await store.close();
    expect(await ended(store.changes$)).toBe(error);
  });

  it('settles a commit that read ahead, made while the browser closes the connection, and closes after it', async () => {
    const name = uniqueName('closing-ahead');
    // Closed here, not by afterEach: a close that never settles fails the test instead of hanging the hook.
    const store = adapters[adapter](name);
    await create(store, newInstance('a'));
    const event = (eventName: string) => message('a', { type: 'EventRaised', eventId: -1, timestamp: T0.toISOString(), name: eventName });
    await send(store, event('first')); // the store remembers 'a': the next commit to it reads it ahead
    // Chromium: the commit is made after the browser aborted the busy transaction; it then gets no abort of its own.
    const call = await settled(callWhileClosing(await connectionOf(store), name, () => send(store, event('second'))));
    const closing = await settled(store.close());
    if (typeof window === 'undefined') {
      expect(call).toEqual({ value: undefined }); // run on the next connection
    } else {
      // Run on the next connection, in the new database: the browser deleted the instance with the site's data.
      expect(call).toMatchObject({ error: { code: 'instance-not-found' } });
    }
    expect(closing).toEqual({ value: undefined });
  });
});

describe.each(Object.keys(adapters) as AdapterName[])('%s connection', (adapter) => {
  it('goes on working on a new connection after the browser closed the one it had (site data cleared, a storage failure)', async () => {
    const store = track(adapters[adapter](uniqueName('closed')));
    await create(store, newInstance('a'));
    await closeAsTheBrowserDoes(await connectionOf(store));
    expect((await store.getInstance('a'))?.instanceId).toBe('a');
    await create(store, newInstance('b'));
    expect((await store.getInstance('b'))?.instanceId).toBe('b');
  });

  it('runs a call made while the browser closes its connection on the next one, instead of failing it', async () => {
    const name = uniqueName('closing');
    const store = track(adapters[adapter](name));
    await create(store, newInstance('a'));
    await callWhileClosing(await connectionOf(store), name, () => create(store, newInstance('b')));
    expect((await store.getInstance('b'))?.instanceId).toBe('b');
  });

  it('opens the database again, new and marked as its own, when the browser cleared it under the store', async () => {
    const name = uniqueName('cleared-again');
    const store = track(adapters[adapter](name));
    await create(store, newInstance('a'));
    await clearAsTheBrowserDoes(await connectionOf(store), name);
    await create(store, newInstance('b'));
    expect(await store.getInstance('a')).toBeUndefined(); // the browser cleared it
    expect((await store.getInstance('b'))?.instanceId).toBe('b');
    await store.close();
    // A store made later takes the new database as its own.
    const later = track(adapters[adapter](name));
    expect((await later.getInstance('b'))?.instanceId).toBe('b');
  });
});

describe('KeyvalStore connection', () => {
  it('runs a call on another connection when the browser closes the new one right after checking its layout', async () => {
    const store = track(new KeyvalStore({ name: uniqueName('closed-new') }));
    await create(store, newInstance('a'));
    await closeAsTheBrowserDoes(await connectionOf(store));
    // The next call opens a connection and checks its layout in its first transaction: the browser closes that
    // connection as the check commits, before the call makes its own transaction on it.
    const close = await browserClose();
    const transaction = IDBDatabase.prototype.transaction;
    const checked: IDBDatabase[] = [];
    IDBDatabase.prototype.transaction = function (this: IDBDatabase, ...args: Parameters<typeof transaction>) {
      const made = transaction.apply(this, args);
      if (!checked.length) made.addEventListener('complete', () => close(this));
      if (!checked.includes(this)) checked.push(this);
      return made;
    };
    try {
      await create(store, newInstance('b'));
    } finally {
      IDBDatabase.prototype.transaction = transaction;
    }
    expect(checked.length).toBe(2); // the one closed, then the one the call ran on
    expect((await store.getInstance('b'))?.instanceId).toBe('b');
  });

  it('fails a call after three runs when the browser closes every new connection right after checking its layout', async () => {
    const store = track(new KeyvalStore({ name: uniqueName('closing-always') }));
    await create(store, newInstance('a'));
    await closeAsTheBrowserDoes(await connectionOf(store));
    const close = await browserClose();
    const transaction = IDBDatabase.prototype.transaction;
    const opened: IDBDatabase[] = [];
    IDBDatabase.prototype.transaction = function (this: IDBDatabase, ...args: Parameters<typeof transaction>) {
      const made = transaction.apply(this, args);
      if (!opened.includes(this)) {
        opened.push(this);
        made.addEventListener('complete', () => close(this));
      }
      return made;
    };
    try {
      await expect(create(store, newInstance('b'))).rejects.toMatchObject({ code: 'storage-error' });
    } finally {
      IDBDatabase.prototype.transaction = transaction;
    }
    expect(opened.length).toBe(3); // one connection per run, however the runs ended
  });

  it('marks the database its layout when the browser cleared it under the store', async () => {
    const name = uniqueName('cleared');
    const store = track(new KeyvalStore({ name }));
    await create(store, newInstance('a'));
    await clearAsTheBrowserDoes(await connectionOf(store), name);
    await create(store, newInstance('b'));
    expect(await readMeta(name)).toEqual({ version: KEYVAL_SCHEMA_VERSION, store: 'durable-rx/keyval' });
    expect(await store.getInstance('a')).toBeUndefined(); // the browser cleared it
    expect((await store.getInstance('b'))?.instanceId).toBe('b');
  });

  it('refuses a database that a newer layout made after the browser cleared it under the store, writing nothing', async () => {
    const name = uniqueName('cleared-newer');
    const store = track(new KeyvalStore({ name }));
    await create(store, newInstance('a'));
    await clearAsTheBrowserDoes(await connectionOf(store), name);
    // Newer code in another tab opened the new database first.
    const newer = { version: KEYVAL_SCHEMA_VERSION + 1, store: 'durable-rx/keyval' };
    const db = await openRaw(name, KEYVAL_DB_VERSION, (upgrading) => upgrading.createObjectStore('durable-rx'));
    rawConnections.push(db);
    await requestDone(db.transaction('durable-rx', 'readwrite').objectStore('durable-rx').put(newer, ['meta']));
    await expect(create(store, newInstance('b'))).rejects.toMatchObject({ code: 'incompatible-schema' });
    await expect(store.getInstance('a')).rejects.toMatchObject({ code: 'incompatible-schema' });
    const keys = db.transaction('durable-rx', 'readonly').objectStore('durable-rx').getAllKeys();
    await requestDone(keys);
    expect(keys.result).toEqual([['meta']]);
  });
  it('refuses a database that older code wrote without a layout marker after the browser cleared it, writing nothing', async () => {
    const name = uniqueName('cleared-older');
    const store = track(new KeyvalStore({ name }));
    await create(store, newInstance('a'));
    await clearAsTheBrowserDoes(await connectionOf(store), name);
    // Older code in another tab, whose connection was cleared too, wrote an instance to the new database: it checks the
    // layout only when it opens, and wrote no marker then. It opens without a version (at 1), and closes its connection
    // when another asks for a higher one, as every KeyvalStore does.
    const old = await openRaw(name, undefined, (upgrading) => upgrading.createObjectStore('durable-rx'));
    old.onversionchange = () => old.close();
    await requestDone(old.transaction('durable-rx', 'readwrite').objectStore('durable-rx').put({ instanceId: 'old' }, ['i', 'old']));
    await expect(create(store, newInstance('b'))).rejects.toMatchObject({ code: 'incompatible-schema' });
    const db = await openRaw(name);
    rawConnections.push(db);
    const keys = db.transaction('durable-rx', 'readonly').objectStore('durable-rx').getAllKeys();
    await requestDone(keys);
    expect(keys.result).toEqual([['i', 'old']]);
  });
});

describe('IdbStore', () => {
  it('runs a transaction at most three times when its backend keeps asking to run it again (a connection that keeps closing)', async () => {
    let runs = 0;
    const backend: StoreBackend = {
      // Rejecting with `reads` asks for another run (the connection closed under the transaction); the tenth run fails
      // for good, so a store without a bound fails here too instead of running forever.
      transact: (_mode, _scope, _work, reads) => Promise.reject(++runs < 10 ? reads : new Error('ran ten times')),
      close: () => undefined,
    };
    class Store extends IdbStore {
      constructor() {
        super({ kind: 'test', databaseName: uniqueName('reruns'), startOpen: () => ({ opened: Promise.resolve(backend), answered: Promise.resolve() }) });
      }
    }
    const store = track(new Store());
    await expect(store.getInstance('a')).rejects.toMatchObject({ code: 'storage-error', message: expect.stringContaining('kept closing') });
    expect(runs).toBe(3);
  });
});

describe('finishChecked', () => {
  it('holds no wait for a close once a transaction ended: a connection that stays open keeps nothing per transaction', async () => {
    const db = await openRaw(uniqueName('held'), 1, (upgrading) => upgrading.createObjectStore('rows'));
    rawConnections.push(db);
    const close = new BrowserClose(db);
    for (let i = 0; i < 20; i++) {
      const transaction = db.transaction('rows', i % 2 ? 'readwrite' : 'readonly');
      const rows = transaction.objectStore('rows');
      await finishChecked(transaction, new ReadsAhead(undefined), async () => {
        if (i % 2) rows.put(i, `row ${i}`);
      }, { closed: close, rerun: true });
    }
    // A readwrite transaction returns once it ended, a readonly one once its work did, its wait for the end still held
    // until its `complete`. A final readwrite over the same store starts only after every one made before it ended
    // (the specification orders overlapping scopes), so once it returns every wait was let go of.
    const last = db.transaction('rows', 'readwrite');
    await finishChecked(last, new ReadsAhead(undefined), async () => {
      last.objectStore('rows').put(20, 'row 20');
    }, { closed: close, rerun: true });
    expect(close.waiting).toBe(0);
    const first = db.transaction('rows', 'readonly').objectStore('rows').get('row 19');
    await requestDone(first);
    expect(first.result).toBe(19);
  });

  it('never runs again a transaction whose work failed with TransactionInactiveError after the connection closed (it may have committed)', async () => {
    const db = await openRaw(uniqueName('inactive'), 1, (upgrading) => upgrading.createObjectStore('rows'));
    rawConnections.push(db);
    const close = new BrowserClose(db);
    const transaction = db.transaction('rows', 'readwrite');
    const rows = transaction.objectStore('rows');
    const committed = new Promise((resolve) => transaction.addEventListener('complete', resolve));
    const run = finishChecked(transaction, new ReadsAhead(undefined), async () => {
      rows.put(1, 'first');
      await committed; // a work that waits for something else than its requests: the transaction commits under it
      close.fired = true; // as if the browser closed the connection meanwhile
      rows.put(2, 'second');
    }, { closed: close, rerun: true });
    await expect(run).rejects.toMatchObject({ name: 'TransactionInactiveError' });
    const first = db.transaction('rows', 'readonly').objectStore('rows').get('first');
    await requestDone(first);
    expect(first.result).toBe(1); // committed: running the work again would write it twice
  });
});

/**
 * How `promise` settled, or 'pending' when it has not well past the longest wait a store allows itself (a call on a
 * closing connection waits at most CLOSE_WAIT_MS for its close): a hang, which the test reports instead of running
 * into its timeout.
 */
async function settled(promise: Promise<unknown>): Promise<{ value: unknown } | { error: unknown } | 'pending'> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const pending = new Promise<'pending'>((resolve) => {
    timer = setTimeout(resolve, 4 * CLOSE_WAIT_MS, 'pending');
  });
  try {
    return await Promise.race([promise.then((value) => ({ value }), (error: unknown) => ({ error })), pending]);
  } finally {
    clearTimeout(timer);
  }
}

/** Resolves when the browser closed `connection` (its `close` event). The test's timeout ends the wait. */
function closed(connection: IDBDatabase): Promise<void> {
  return new Promise<void>((resolve) => connection.addEventListener('close', () => resolve()));
}

/**
 * What the browser does to a connection when the site's data is cleared: closes it and fires `close` at it. fake-indexeddb
 * does both itself, once every transaction of the database has finished (its declaration types the connection as its
 * class); the browser branch does them at once. Imported beforehand: an import may take tasks.
 */
async function browserClose(): Promise<(connection: IDBDatabase) => void> {
  if (typeof window === 'undefined') {
    const { forceCloseDatabase } = await import('fake-indexeddb');
    return (connection) => forceCloseDatabase(connection as unknown as Parameters<typeof forceCloseDatabase>[0]);
  }
  return (connection) => {
    connection.close();
    connection.dispatchEvent(new Event('close'));
  };
}

/** Closes `connection` as the browser does (see {@link browserClose}); resolves once it got `close`. */
async function closeAsTheBrowserDoes(connection: IDBDatabase): Promise<void> {
  // Resolved by `close` itself, which the store hears first (its listener came earlier): then it has forgotten the
  // connection. fake-indexeddb fires `close` only once every transaction of the database has finished, and the read
  // that found the connection resolved with its request, maybe before its transaction finished: then `close` comes in
  // a later task, not in forceCloseDatabase.
  const done = closed(connection);
  (await browserClose())(connection);
  await done;
}

/**
 * Deletes database `name` as the browser does when the site's data is cleared: its connections are closed (each gets
 * `close`, not `versionchange`) and its data is gone. Resolves once `connection` got `close` (the store heard it first).
 * In Chromium that is DevTools' delete (CDP IndexedDB.deleteDatabase, which force-closes); fake-indexeddb closes the
 * connection, then deletes the database.
 */
async function clearAsTheBrowserDoes(connection: IDBDatabase, name: string): Promise<void> {
  const done = closed(connection);
  if (typeof window === 'undefined') {
    const { forceCloseDatabase } = await import('fake-indexeddb');
    forceCloseDatabase(connection as unknown as Parameters<typeof forceCloseDatabase>[0]);
    await done;
    await requestDone(indexedDB.deleteDatabase(name));
  } else {
    const { cdp } = await import('vitest/browser');
    await cdp().send('IndexedDB.deleteDatabase', { securityOrigin: location.origin, databaseName: name });
    await done;
  }
}

/**
 * Makes `call` while the browser closes `connection` and resolves with its result. A transaction of the test's own
 * keeps the connection busy with reads meanwhile:
 * - Chromium (the database cleared, see clearAsTheBrowserDoes): the browser aborts that transaction first and closes
 *   the connection afterwards; the call is made when the abort arrives, so its transaction is refused or aborted by
 *   the close that follows.
 * - fake-indexeddb closes the connection once its transactions finished: the call is made at once, while it is closing,
 *   and the reads stop a few tasks later.
 */
async function callWhileClosing<T>(connection: IDBDatabase, name: string, call: () => Promise<T>): Promise<T> {
  const node = typeof window === 'undefined';
  // Imported before the reads start: an import may take tasks.
  const { forceCloseDatabase } = node ? await import('fake-indexeddb') : { forceCloseDatabase: undefined };
  const { cdp } = node ? { cdp: undefined } : await import('vitest/browser');
  const table = connection.objectStoreNames[0]!;
  const busy = connection.transaction(table, 'readonly');
  const reads = busy.objectStore(table);
  let left = node ? 20 : Infinity;
  const read = (): void => {
    if (left-- > 0) reads.count().onsuccess = read;
  };
  read();
  if (forceCloseDatabase) {
    forceCloseDatabase(connection as unknown as Parameters<typeof forceCloseDatabase>[0]);
    return call();
  }
  const result = new Promise<T>((resolve, reject) => busy.addEventListener('abort', () => call().then(resolve, reject)));
  result.catch(() => undefined); // it may fail before the delete returns: awaited below
  await cdp!().send('IndexedDB.deleteDatabase', { securityOrigin: location.origin, databaseName: name });
  return result;
}

/** The layout marker of a KeyvalStore database, read on a connection of its own. */
async function readMeta(name: string): Promise<unknown> {
  const db = await openRaw(name);
  try {
    const meta = db.transaction('durable-rx', 'readonly').objectStore('durable-rx').get(['meta']);
    await requestDone(meta);
    return meta.result;
  } finally {
    db.close();
  }
}

/**
 * Each adapter's database, made to refuse one write of a commit when it runs the write (a request that fails after it
 * was issued, not an exception when it is issued). In the test above that is the second instance's task 'shared-id'
 * (DexieStore), or the second pending message of the first instance (KeyvalStore).
 * - DexieStore keeps an instance's first task in its row and further ones in a table whose task-id index is unique:
 *   a task id already taken there is refused.
 * - KeyvalStore keeps tasks in their instance's value, under keys of one object store that has no index. Here the
 *   database was created beforehand with a unique index over the `instanceId` of the stored values (another app
 *   sharing the database could have one), so only message rows are indexed, and a second pending message of one
 *   instance is refused.
 */
const refusingDatabase: Record<AdapterName, (name: string) => Promise<Store>> = {
  DexieStore: async (name) => adapters.DexieStore(name),
  KeyvalStore: async (name) => {
    const db = await openRaw(name, 1, (upgrading) => {
      upgrading.createObjectStore('durable-rx').createIndex('one-message-per-instance', 'instanceId', { unique: true });
    });
    db.close();
    return adapters.KeyvalStore(name);
  },
};

/** The next claimable orchestration work item, if any. */
function claimNext(store: Store) {
  return store.claimOrchestration({ owner: 'w', leaseMs: 30_000, now: T0 });
}

describe('options', () => {
  it('are checked when the store is created: no options, or a name that is no non-empty string, is a typed 400', () => {
    const invalid = { code: 'invalid-argument', status: 400 };
    for (const make of [
      () => new DexieStore(undefined as never), () => new DexieStore(null as never), () => new DexieStore({ name: '' }),
      () => new DexieStore({ name: 5 as never }), () => new KeyvalStore(undefined as never), () => new KeyvalStore({ name: '' }),
    ]) {
      expect(make).toThrow(expect.objectContaining(invalid));
    }
  });

  it('refuses a wait that is not a number of ms >= 0 (an open\'s bound: > 0), a clock that is no Clock, and a function or name of the wrong kind, before any database is opened', async () => {
    const invalid = { name: 'InvalidArgumentError', code: 'invalid-argument', status: 400 };
    const name = `refused-options-${Math.random()}`;
    const bad: [string, Record<string, unknown>][] = [
      ['gapTimeoutMs', { gapTimeoutMs: -1 }], ['gapTimeoutMs', { gapTimeoutMs: Number.NaN }], ['gapTimeoutMs', { gapTimeoutMs: '1000' }],
      ['joinTimeoutMs', { joinTimeoutMs: -1 }], ['joinTimeoutMs', { joinTimeoutMs: Number.NaN }],
      ['openTimeoutMs', { openTimeoutMs: -1 }], ['openTimeoutMs', { openTimeoutMs: 0 }], ['openTimeoutMs', { openTimeoutMs: '5000' }],
      ['clock', { clock: {} }], ['clock', { clock: Date }],
      ['IDBKeyRange', { IDBKeyRange: 5 }],
    ];
    const dexieOnly: [string, Record<string, unknown>][] = [['indexedDB', { indexedDB: {} }], ['indexedDB', { indexedDB: 'idb' }]];
    const keyvalOnly: [string, Record<string, unknown>][] = [['storeName', { storeName: '' }], ['storeName', { storeName: 5 }]];
    for (const [member, given] of [...bad, ...dexieOnly]) {
      expect(() => new DexieStore({ name, ...given }), `Dexie ${JSON.stringify(given)}`)
        .toThrow(expect.objectContaining({ ...invalid, message: expect.stringContaining(`DexieStore options.${member}`) }));
    }
    for (const [member, given] of [...bad, ...keyvalOnly]) {
      expect(() => new KeyvalStore({ name, ...given }), `Keyval ${JSON.stringify(given)}`)
        .toThrow(expect.objectContaining({ ...invalid, message: expect.stringContaining(`KeyvalStore options.${member}`) }));
    }
    expect((await indexedDB.databases()).map((db) => db.name)).not.toContain(name);
    // Within the rules: 0 waits not at all, Infinity as long as it takes.
    const store = new KeyvalStore({ name, gapTimeoutMs: 0, joinTimeoutMs: Infinity, openTimeoutMs: Infinity, storeName: 'custom' });
    await expect(store.getInstance('none')).resolves.toBeUndefined();
    await store.close();
  });
});

describe('schema checks', () => {
  it('DexieStore refuses a database written by a newer schema, writing nothing', async () => {
    const name = uniqueName('newer-dexie');
    const first = track(new DexieStore({ name }));
    await create(first, newInstance('a'));
    await first.close();
    // A newer version of the app upgraded the database (new native version, new table) and its schema marker: one
    // native version past the one this version wrote, whatever that is.
    const current = await openRaw(name);
    const newer = current.version + 10;
    current.close();
    const db = await openRaw(name, newer, (upgrading, tx) => {
      upgrading.createObjectStore('newTable');
      tx.objectStore('meta').put({ key: 'schema', version: DEXIE_SCHEMA_VERSION + 1, store: 'durable-rx/dexie' });
    });
    db.close();
    const older = track(new DexieStore({ name }));
    const error = await older.getInstance('a').catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'incompatible-schema', status: 409, name: 'IncompatibleSchemaError' });
  });

  it('KeyvalStore refuses a database written by a newer layout', async () => {
    const name = uniqueName('newer-keyval');
    const first = track(new KeyvalStore({ name }));
    await create(first, newInstance('a'));
    await first.close();
    const db = await openRaw(name);
    await requestDone(db.transaction('durable-rx', 'readwrite').objectStore('durable-rx').put({ version: KEYVAL_SCHEMA_VERSION + 1, store: 'durable-rx/keyval' }, ['meta']));
    db.close();
    await expect(track(new KeyvalStore({ name })).getInstance('a')).rejects.toMatchObject({ code: 'incompatible-schema' });
  });

  it('KeyvalStore reads the history a layout-1 database kept one event per key, and marks the database as its own layout', async () => {
    const name = uniqueName('layout-1');
    const first = track(new KeyvalStore({ name }));
    await create(first, newInstance('a'));
    await first.close();
    const db = await openRaw(name);
    const store = db.transaction('durable-rx', 'readwrite').objectStore('durable-rx');
    store.put({ version: 1, store: 'durable-rx/keyval' }, ['meta']);
    store.put(started('a'), ['h', 'a', 0]);
    await requestDone(store.put({ ...started('a'), name: 'second' }, ['h', 'a', 1]));
    db.close();
    const upgraded = track(new KeyvalStore({ name }));
    expect((await upgraded.getHistory('a')).map((e) => e.type === 'ExecutionStarted' && e.name)).toEqual(['Orch', 'second']);
    expect((await upgraded.getHistory('a', { fromIndex: 1 })).map((e) => e.type === 'ExecutionStarted' && e.name)).toEqual(['second']);
    const marker = async (): Promise<unknown> => {
      const raw = await openRaw(name);
      const meta = raw.transaction('durable-rx', 'readonly').objectStore('durable-rx').get(['meta']);
      await requestDone(meta);
      raw.close();
      return meta.result;
    };
    // Marked as this layout at once; the rebuilds it names (of the end entries, of the name and tag entries) then run to their end.
    await vi.waitFor(async () => {
      expect(await marker()).toEqual({ version: KEYVAL_SCHEMA_VERSION, store: 'durable-rx/keyval' });
    }, { timeout: SETTLED.timeoutMs, interval: 50 });
    await upgraded.close();
    expect(await marker()).toEqual({ version: KEYVAL_SCHEMA_VERSION, store: 'durable-rx/keyval' });
  });

  it('KeyvalStore opens a layout-2 database: statuses page, messages stay first, tasks are claimed and purged, the old indexes go and the counter stays', async () => {
    const name = uniqueName('layout-2');
    const first = new KeyvalStore({ name });
    await first.getInstance('none'); // creates the database and its object store
    await first.close();
    // What layout 2 wrote for instance 'a' with its start message (sequence 4 of the shared counter) and a task
    // (sequence 3) with its entry in the tasks-of-an-instance index.
    const { state, message: start } = newInstance('a');
    const createdMs = T0.getTime();
    const task = { id: 't1', instanceId: 'a', executionId: 'exec-1', name: 'Act', taskScheduledId: 0, attempt: 1 };
    const db = await openRaw(name);
    const raw = db.transaction('durable-rx', 'readwrite').objectStore('durable-rx');
    raw.put({ version: 2, store: 'durable-rx/keyval' }, ['meta']);
    raw.put({ id: 'a', state, createdMs, status: 'Pending', minVisibleMs: 0, headSeq: 4, pendingCount: 1, readyMs: 0 }, ['i', 'a']);
    raw.put(0, ['xc', createdMs, 'a']);
    raw.put(0, ['xs', 'Pending', createdMs, 'a']);
    raw.put(0, ['xr', 0, 4, 'a']);
    raw.put({ seq: 4, instanceId: 'a', visibleMs: 0, message: start }, ['m', 'a', 4]);
    raw.put({ seq: 3, id: 't1', instanceId: 'a', readyMs: 0, task }, ['t', 't1']);
    raw.put(0, ['xt', 0, 3, 't1']);
    raw.put(0, ['xti', 'a', 't1']);
    await requestDone(raw.put(4, ['seq']));
    db.close();

    const store = track(new KeyvalStore({ name }));
    expect((await store.queryInstances({ runtimeStatus: ['Pending'] })).instances.map((i) => i.instanceId)).toEqual(['a']);
    expect((await store.queryInstances({ runtimeStatus: ['Running'] })).instances).toEqual([]);
    await send(store, message('a', { type: 'EventRaised', eventId: -1, timestamp: T0.toISOString(), name: 'after' }));
    const item = await claim(store);
    expect(item.messages.map((m) => m.event.type)).toEqual(['ExecutionStarted', 'EventRaised']);
    expect((await store.claimActivity({ owner: 'w', leaseMs: 1000, now: T0 }))?.task.id).toBe('t1');
    await store.commit(commitOf(item.state, item.lease.token, {
      consumedMessageIds: item.messages.map((m) => m.id),
      state: { ...item.state, runtimeStatus: 'Completed', version: 2 },
    }));
    expect(await store.purgeInstance('a')).toBe(1);
    await store.close();

    const check = await openRaw(name);
    const keys = check.transaction('durable-rx', 'readonly').objectStore('durable-rx').getAllKeys();
    await requestDone(keys);
    check.close();
    // Only the schema marker and the counter are left: the task went with its instance, the old indexes at the
    // upgrade; the counter stays for older code still open in another tab.
    expect(keys.result).toEqual([['meta'], ['seq']]);
  });

  it('KeyvalStore pages by status through a paging entry that older code, still open in another tab, wrote without the status', async () => {
    const name = uniqueName('older-tab');
    const store = track(new KeyvalStore({ name }));
    await create(store, newInstance('a'));
    const db = await openRaw(name);
    await requestDone(db.transaction('durable-rx', 'readwrite').objectStore('durable-rx').put(0, ['xc', T0.getTime(), 'a']));
    db.close();
    expect((await store.queryInstances({ runtimeStatus: ['Pending'] })).instances.map((i) => i.instanceId)).toEqual(['a']);
    expect((await store.queryInstances({ runtimeStatus: ['Completed'] })).instances).toEqual([]);
  });

  it('KeyvalStore finds by status an instance whose status older code, still open in another tab, changed', async () => {
    const name = uniqueName('older-tab-status');
    const store = track(new KeyvalStore({ name }));
    await create(store, newInstance('a'));
    await create(store, newInstance('b'));
    // Older code completes 'a': it rewrites the row, adds an entry under its status, and leaves the paging entry
    // (same key) as it was, with 'Pending' as its value.
    const db = await openRaw(name);
    const raw = db.transaction('durable-rx', 'readwrite').objectStore('durable-rx');
    const read = raw.get(['i', 'a']);
    await requestDone(read);
    const row = read.result as { state: { runtimeStatus: string } };
    raw.put({ ...row, state: { ...row.state, runtimeStatus: 'Completed' }, status: 'Completed' }, ['i', 'a']);
    await requestDone(raw.put(0, ['xs', 'Completed', T0.getTime(), 'a']));
    db.close();
    expect((await store.queryInstances({ runtimeStatus: ['Completed'] })).instances.map((i) => i.instanceId)).toEqual(['a']);
    expect((await store.queryInstances({ runtimeStatus: ['Pending'] })).instances.map((i) => i.instanceId)).toEqual(['b']);
  });

  it('KeyvalStore finds by status an instance whose paging entry still holds an older non-terminal status', async () => {
    const name = uniqueName('stale-active-status');
    const store = track(new KeyvalStore({ name }));
    await create(store, newInstance('a'));
    await create(store, newInstance('b'));
    const item = await claim(store);
    expect(item.state.instanceId).toBe('a');
    await store.commit(commitOf(item.state, item.lease.token, {
      consumedMessageIds: item.messages.map((m) => m.id), state: { ...item.state, runtimeStatus: 'Running', version: 2 },
    }));
    // Layout 4 wrote every status into the paging entry, 'Pending' for 'a' at its start; a step from Pending to
    // Running no longer rewrites it.
    const db = await openRaw(name);
    await requestDone(db.transaction('durable-rx', 'readwrite').objectStore('durable-rx').put('Pending', ['xc', T0.getTime(), 'a']));
    db.close();
    expect((await store.queryInstances({ runtimeStatus: ['Running'] })).instances.map((i) => i.instanceId)).toEqual(['a']);
    expect((await store.queryInstances({ runtimeStatus: ['Pending'] })).instances.map((i) => i.instanceId)).toEqual(['b']);
    expect((await store.queryInstances({ runtimeStatus: ['Completed'] })).instances).toEqual([]);
  });

  it('KeyvalStore keeps the counter of layout 2, so older code still open elsewhere never reuses a pending message key', async () => {
    const name = uniqueName('older-tab-seq');
    const first = new KeyvalStore({ name });
    await first.getInstance('none');
    await first.close();
    const db = await openRaw(name);
    const raw = db.transaction('durable-rx', 'readwrite').objectStore('durable-rx');
    raw.put({ version: 2, store: 'durable-rx/keyval' }, ['meta']);
    await requestDone(raw.put(7, ['seq']));
    db.close();
    const store = track(new KeyvalStore({ name }));
    await create(store, newInstance('a'));
    const check = await openRaw(name);
    const seq = check.transaction('durable-rx', 'readonly').objectStore('durable-rx').get(['seq']);
    await requestDone(seq);
    check.close();
    expect(seq.result).toBe(7);
  });

  it('KeyvalStore refuses a database that belongs to someone else', async () => {
    const name = uniqueName('foreign');
    (await openRaw(name, 1, (upgrading) => upgrading.createObjectStore('something-else'))).close();
    await expect(track(new KeyvalStore({ name })).getInstance('a')).rejects.toMatchObject({ code: 'incompatible-schema' });
  });

  it('DexieStore reports an upgrade blocked by a connection that does not close, at every call until it opens', async () => {
    const name = uniqueName('blocked');
    // An old version of the app holds version 5 open and ignores versionchange.
    const old = await openRaw(name, 5);
    rawConnections.push(old);
    const store = track(new DexieStore({ name }));
    await expect(store.getInstance('a')).rejects.toMatchObject({ code: 'database-blocked', status: 503 });
    // A new open request would queue behind the blocked one, which IndexedDB answers only once the old connection
    // closes, with no blocked event of its own: this call waited for as long as the old tab stayed open.
    await expect(store.getInstance('a')).rejects.toMatchObject({ code: 'database-blocked', status: 503 });
    old.close();
    // Once the old tab is gone and the blocked open went through (an open queued behind it is answered after it), the
    // next call uses the database.
    (await openRaw(name)).close();
    await create(store, newInstance('a'));
    expect(await store.getInstance('a')).toMatchObject({ runtimeStatus: 'Pending' });
  });
});

/** Opens the database with the raw IndexedDB API (as another app version would), optionally upgrading it. */
function openRaw(name: string, version?: number, upgrade?: (db: IDBDatabase, tx: IDBTransaction) => void): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const request = version === undefined ? indexedDB.open(name) : indexedDB.open(name, version);
    request.onupgradeneeded = () => {
      if (upgrade && request.transaction) upgrade(request.result, request.transaction);
    };
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
    request.onblocked = () => reject(new Error('raw open blocked'));
  });
}

/** How `feed` ends for a subscriber: its error, or `'completed'` (a wait bounded by the test's timeout). */
function ended(feed: Observable<unknown>): Promise<unknown> {
  return new Promise((resolve) => feed.subscribe({ error: resolve, complete: () => resolve('completed') }));
}

function requestDone(request: IDBRequest): Promise<void> {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve();
    request.onerror = () => reject(request.error);
  });
}
