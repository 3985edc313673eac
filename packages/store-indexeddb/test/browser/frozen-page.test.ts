import { StoreClosedError } from '@durable-rx/runtime';
import type { Store } from '@durable-rx/runtime/store-kit';
import { VirtualClock } from '@durable-rx/runtime/testing';
import { firstValueFrom } from 'rxjs';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { SETTLED } from '../../../../test-support/settled.js';
import { DatabaseBlockedError } from '../../src/errors/database-blocked-error.js';
import { DatabaseUpgradingError } from '../../src/errors/database-upgrading-error.js';
import { changeChannelName } from '../../src/idb-store.js';
import { DEXIE_SCHEMA_VERSION } from '../../src/internal/dexie-backend.js';
import { ChangeFeed } from '../../src/internal/change-feed.js';
import { OpenGate } from '../../src/internal/open-gate.js';
import { acceptDispatchedPageEvents, PageFreeze } from '../../src/internal/page-freeze.js';
import { adapters, claim, commitOf, create, newInstance, started, uniqueName, within, type AdapterName } from '../shared/fixtures.js';
import { layoutOf as readLayout, requested, writeOldLayout as writeLayoutBefore } from '../shared/old-layouts.js';

// A frozen page (Chromium freezes background tabs) still receives BroadcastChannel messages while none of its
// IndexedDB callbacks runs: a worker woken then starts claims whose transactions cannot end, and another tab's claims
// wait for them until Chromium aborts them (60 s). The page's `freeze` and `resume` events are dispatched here by hand:
// the stores take only the browser's own (trusted) events, unless told otherwise by this test-only switch. (The e2e
// tests freeze real tabs through the DevTools protocol.)
beforeAll(() => acceptDispatchedPageEvents(true));
afterAll(() => acceptDispatchedPageEvents(false));

/** One macrotask: whatever a call does before it waits for something (its microtasks) has been done. */
const nextTask = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0));

/** A feed on `name` that posts every commit (its lock requests are refused: no presence, so no peer to wait for). */
function feedOn(name: string, page?: PageFreeze): ChangeFeed {
  const refused = () => Promise.reject(new DOMException('refused', 'SecurityError'));
  return new ChangeFeed({
    channelName: changeChannelName(name), gapTimeoutMs: 1000, joinTimeoutMs: 600_000, clock: new VirtualClock(),
    locks: { request: refused, query: () => navigator.locks.query() } as unknown as LockManager, page,
  });
}

describe('the change feed of a frozen page', () => {
  it('holds the work signals other tabs post until the page resumes, then gives one', async () => {
    const name = uniqueName('frozen-page');
    const page = new PageFreeze();
    const here = feedOn(name, page);
    const there = feedOn(name);
    let signals = 0;
    here.workAvailable$.subscribe(() => signals++);
    try {
      await Promise.all([here.joined, there.joined]);
      document.dispatchEvent(new Event('freeze'));
      const delivered = firstValueFrom(here.changes$);
      there.publish([{ instanceId: 'x', after: 0, state: newInstance('x').state }], true);
      expect((await delivered).instanceId).toBe('x'); // the changes come (they start no transaction), with the signal
      expect(signals).toBe(0);
      const resumed = firstValueFrom(here.workAvailable$);
      document.dispatchEvent(new Event('resume'));
      await resumed;
      expect(signals).toBe(1);
      there.publish([], true);
      await firstValueFrom(here.workAvailable$);
      expect(signals).toBe(2);
    } finally {
      document.dispatchEvent(new Event('resume'));
      here.close();
      there.close();
      page.dispose();
    }
  });
});

// The stores abort their own transactions at the page's freeze, run them again after the resume, and begin none until
// then (see PageFreeze): a frozen page's open transaction would hold every other tab's transactions on the same tables
// (until Chromium aborts it for inactivity, 60 s). The events are dispatched by hand, so code goes on running here
// while the page is "frozen" (a transaction the store did not abort would commit).

const stores: Store[] = [];
afterEach(async () => {
  document.dispatchEvent(new Event('resume'));
  await Promise.all(stores.splice(0).map((store) => store.close()));
});

/** Counts the IndexedDB transactions begun (on any connection) and the writes issued, until `restore`. */
function watchIndexedDb(): { transactions: number; writes: number; freezeAtNextWrite(): void; restore(): void } {
  const { transaction } = IDBDatabase.prototype;
  const { put, add } = IDBObjectStore.prototype;
  let armed = false;
  const watch = {
    transactions: 0,
    writes: 0,
    /** The page's `freeze` event comes right after the next write is issued (once the code that issued it ends). */
    freezeAtNextWrite() {
      armed = true;
    },
    restore() {
      IDBDatabase.prototype.transaction = transaction;
      IDBObjectStore.prototype.put = put;
      IDBObjectStore.prototype.add = add;
    },
  };
  IDBDatabase.prototype.transaction = function (this: IDBDatabase, ...args: Parameters<IDBDatabase['transaction']>) {
    watch.transactions++;
    return transaction.apply(this, args);
  } as IDBDatabase['transaction'];
  const counted = (write: typeof put): typeof put => function (this: IDBObjectStore, ...args: Parameters<typeof put>) {
    watch.writes++;
    if (armed) {
      armed = false;
      queueMicrotask(() => document.dispatchEvent(new Event('freeze')));
    }
    return write.apply(this, args);
  };
  IDBObjectStore.prototype.put = counted(put);
  IDBObjectStore.prototype.add = counted(add);
  return watch;
}

describe.each(Object.keys(adapters) as AdapterName[])('a %s store in a page that freezes', (adapter) => {
  it('aborts a step whose transaction is still open at the freeze, its writes issued: nothing of it is written while frozen, and it commits once, after the resume', async () => {
    const name = uniqueName('frozen-commit');
    const store = adapters[adapter](name);
    stores.push(store);
    await create(store, newInstance('a'));
    const item = await claim(store);
    const commit = commitOf(item.state, item.lease.token, {
      consumedMessageIds: item.messages.map((m) => m.id),
      state: { ...item.state, runtimeStatus: 'Running', customStatus: 'step', version: item.state.version + 1, historyLength: 1 },
      history: [started('a')],
      activityTasks: [{ id: 't1', instanceId: 'a', executionId: 'exec-1', name: 'Act', taskScheduledId: 0, attempt: 1 }],
    });
    const watch = watchIndexedDb();
    let settled = false;
    let committed: Promise<unknown>;
    try {
      const froze = new Promise((resolve) => document.addEventListener('freeze', resolve, { once: true }));
      watch.freezeAtNextWrite();
      committed = store.commit(commit).finally(() => (settled = true));
      committed.catch(() => undefined);
      await within(froze, 'the freeze');
      // Another store on the database, made after the freeze (so not frozen), reads what the step left. Its
      // transactions come after the step's (IndexedDB orders them on the tables they share): had the step's not been
      // aborted, they would read it committed (the page does not really freeze here).
      const other = adapters[adapter](name);
      stores.push(other);
      expect(await within(other.getInstance('a'), 'the read of the other store')).toMatchObject({ runtimeStatus: 'Pending', version: 1 });
      expect(await other.getHistory('a')).toEqual([]);
      expect(await other.claimActivity({ owner: 'w', leaseMs: 1000, now: new Date(2e12) })).toBeUndefined();
      expect(watch.writes).toBeGreaterThan(0); // the freeze came with writes of the step issued
      await nextTask();
      expect(settled).toBe(false); // the step waits for the resume, and fails not
      document.dispatchEvent(new Event('resume'));
      await within(committed, 'the step after the resume');
    } finally {
      watch.restore();
      document.dispatchEvent(new Event('resume'));
    }
    expect(await store.getInstance('a')).toMatchObject({ runtimeStatus: 'Running', customStatus: 'step', version: 2 });
    expect(await store.getHistory('a')).toEqual([started('a')]);
    expect((await store.claimActivity({ owner: 'w', leaseMs: 1000, now: new Date(2e12) }))?.task.id).toBe('t1');
    // The same commit again is refused: the run after the resume consumed the lease it names (written once).
    await expect(store.commit(commit)).rejects.toThrow();
    expect(await store.getHistory('a')).toEqual([started('a')]);
  });

  it('begins no transaction while the page is frozen: the calls made then wait for the resume', async () => {
    const store = adapters[adapter](uniqueName('frozen-calls'));
    stores.push(store);
    await create(store, newInstance('a'));
    const watch = watchIndexedDb();
    try {
      document.dispatchEvent(new Event('freeze'));
      const settled: string[] = [];
      const read = store.getInstance('a').finally(() => settled.push('read'));
      const started = create(store, newInstance('b')).finally(() => settled.push('start'));
      await nextTask(); // not frozen, each would have begun its transaction within its microtasks
      expect(settled).toEqual([]);
      expect(watch.transactions).toBe(0);
      document.dispatchEvent(new Event('resume'));
      expect(await within(read, 'the read after the resume')).toMatchObject({ instanceId: 'a' });
      await within(started, 'the start after the resume');
    } finally {
      watch.restore();
    }
    expect(await store.getInstance('b')).toMatchObject({ instanceId: 'b', version: 1 });
  });

  it('fails the calls waiting for the resume with StoreClosedError when it closes', async () => {
    const store = adapters[adapter](uniqueName('frozen-close'));
    await create(store, newInstance('a'));
    document.dispatchEvent(new Event('freeze'));
    const read = store.getInstance('a').then(() => undefined, (error: unknown) => error);
    await nextTask(); // the read waits for the resume
    await within(store.close(), 'the close');
    expect(await within(read, 'the read')).toBeInstanceOf(StoreClosedError);
  });

  it('fails the calls waiting for the resume with DatabaseUpgradingError when another connection deletes the database', async () => {
    const name = uniqueName('frozen-lost');
    const store = adapters[adapter](name);
    stores.push(store);
    await create(store, newInstance('a'));
    document.dispatchEvent(new Event('freeze'));
    const read = store.getInstance('a').then(() => undefined, (error: unknown) => error);
    await nextTask(); // the read waits for the resume
    await within(new Promise<void>((resolve, reject) => {
      const request = indexedDB.deleteDatabase(name);
      request.onsuccess = () => resolve();
      request.onerror = () => reject(request.error);
      request.onblocked = () => reject(new Error('the deletion is blocked by a connection that did not close'));
    }), 'the deletion');
    expect(await within(read, 'the read')).toBeInstanceOf(DatabaseUpgradingError);
  });

  it('closed from an earlier freeze listener, still aborts its transaction at work there, and its call fails with StoreClosedError', async () => {
    const name = uniqueName('frozen-closing');
    let store: Store | undefined;
    let closing: Promise<void> | undefined;
    // Added before the store's own listener: the app closes its stores at the freeze (as for the back/forward cache).
    const closeAtFreeze = () => (closing ??= store?.close());
    document.addEventListener('freeze', closeAtFreeze);
    const watch = watchIndexedDb();
    try {
      store = adapters[adapter](name);
      await create(store, newInstance('a'));
      const item = await claim(store);
      const commit = commitOf(item.state, item.lease.token, {
        consumedMessageIds: item.messages.map((m) => m.id),
        state: { ...item.state, runtimeStatus: 'Running', version: item.state.version + 1, historyLength: 1 },
        history: [started('a')],
      });
      watch.freezeAtNextWrite();
      const failed = store.commit(commit).then(() => undefined, (error: unknown) => error);
      expect(await within(failed, 'the step')).toBeInstanceOf(StoreClosedError);
      expect(closing).toBeDefined();
      await within(closing!, 'the close');
    } finally {
      document.removeEventListener('freeze', closeAtFreeze);
      watch.restore();
      document.dispatchEvent(new Event('resume'));
    }
    // Aborted, not committed (the page does not really freeze here: a transaction left alone would have committed).
    const after = adapters[adapter](name);
    stores.push(after);
    expect(await after.getInstance('a')).toMatchObject({ runtimeStatus: 'Pending', version: 1 });
    expect(await after.getHistory('a')).toEqual([]);
  });
});

/** IndexedDB's own `open`, which {@link watchOpens} does not count. */
const { open: rawOpen } = IDBFactory.prototype;

/** The IndexedDB version of database `name` and the layout its marker names, read on IndexedDB's own `open`. */
function layoutOf(adapter: AdapterName, name: string): Promise<{ idbVersion: number; layout: number | undefined }> {
  return readLayout(adapter === 'DexieStore', name, (n) => rawOpen.call(indexedDB, n));
}

/** Writes `name` as the layout before this one left it, empty: DexieStore 2 (Dexie version 1), KeyvalStore 7. */
function writeOldLayout(adapter: AdapterName, name: string): Promise<void> {
  return writeLayoutBefore(adapter === 'DexieStore', name);
}

/**
 * Counts the open requests of database `name`; `freezeInOpening` has the page's `freeze` event come while the first
 * transaction of the next open is at work (its upgrade's, else its first readwrite one, the layout check), after a few
 * requests of its own on that transaction.
 */
function watchOpens(name: string, holdUpgrade = true): { opens: number; freezeInOpening(): void; restore(): void } {
  const { open } = IDBFactory.prototype;
  const { transaction } = IDBDatabase.prototype;
  let armed = false;
  const hold = (tx: IDBTransaction): void => {
    armed = false;
    const objectStore = tx.objectStore(tx.objectStoreNames[0]!);
    let requests = 0;
    const next = (): void => {
      if (++requests < 3) objectStore.count().onsuccess = next;
      else document.dispatchEvent(new Event('freeze'));
    };
    next();
  };
  const watch = {
    opens: 0,
    freezeInOpening() {
      armed = true;
    },
    restore() {
      IDBFactory.prototype.open = open;
      IDBDatabase.prototype.transaction = transaction;
    },
  };
  IDBFactory.prototype.open = function (this: IDBFactory, ...args: Parameters<typeof open>) {
    const request = open.apply(this, args);
    if (args[0] === name) {
      watch.opens++;
      if (holdUpgrade) request.addEventListener('upgradeneeded', () => armed && hold(request.transaction!));
    }
    return request;
  } as typeof open;
  IDBDatabase.prototype.transaction = function (this: IDBDatabase, ...args: Parameters<typeof transaction>) {
    const begun = transaction.apply(this, args);
    if (armed && this.name === name && begun.mode === 'readwrite') hold(begun);
    return begun;
  } as typeof transaction;
  return watch;
}

describe.each(Object.keys(adapters) as AdapterName[])('a %s store whose page freezes as it opens the database', (adapter) => {
  it('opens nothing while the page is frozen: its first call waits for the resume', async () => {
    const name = uniqueName('frozen-first-call');
    const store = adapters[adapter](name); // made before the freeze: a store made in a frozen page cannot tell
    stores.push(store);
    const watch = watchOpens(name);
    try {
      document.dispatchEvent(new Event('freeze'));
      let settled = false;
      const read = store.getInstance('a').finally(() => (settled = true));
      await nextTask();
      expect(settled).toBe(false);
      expect(watch.opens).toBe(0); // an open made now would run its upgrade (the database's creation) while frozen
      document.dispatchEvent(new Event('resume'));
      expect(await within(read, 'the read after the resume')).toBeUndefined();
      // KeyvalStore creates the database as idb-keyval does (version 1), then raises it to its version.
      expect(watch.opens).toBe(adapter === 'DexieStore' ? 1 : 2);
    } finally {
      watch.restore();
    }
  });

  it('aborts its upgrade at work at the freeze: the database stays as it was while frozen, and the call opens it again after the resume, upgrading it once', async () => {
    const name = uniqueName('frozen-upgrade');
    await writeOldLayout(adapter, name);
    const before = await layoutOf(adapter, name);
    const store = adapters[adapter](name);
    stores.push(store);
    // KeyvalStore: its layout check, after the raise of the IndexedDB version (which has no request to hold).
    const watch = watchOpens(name, adapter === 'DexieStore');
    let settled = false;
    let read: Promise<unknown>;
    try {
      const froze = new Promise((resolve) => document.addEventListener('freeze', resolve, { once: true }));
      watch.freezeInOpening(); // DexieStore: its upgrade (versionchange); KeyvalStore: its layout check (readwrite)
      read = store.getInstance('a').finally(() => (settled = true));
      read.catch(() => undefined);
      await within(froze, 'the freeze');
      // Aborted (the page does not really freeze here: an upgrade left alone would have committed): another
      // connection finds the database as it was, and the call waits for the resume. (KeyvalStore's raise of the
      // IndexedDB version, before its check, writes nothing and commits as its event ends: its layout stays.)
      expect(await within(layoutOf(adapter, name), 'the other connection')).toEqual(adapter === 'DexieStore' ? before : { ...before, idbVersion: 3 });
      await nextTask();
      expect(settled).toBe(false);
      // KeyvalStore opened the older database, then again at its version.
      const first = adapter === 'DexieStore' ? 1 : 2;
      expect(watch.opens).toBe(first);
      document.dispatchEvent(new Event('resume'));
      expect(await within(read, 'the read after the resume')).toBeUndefined();
      expect(watch.opens).toBe(first + 1);
    } finally {
      watch.restore();
      document.dispatchEvent(new Event('resume'));
    }
    expect(await layoutOf(adapter, name)).toEqual(adapter === 'DexieStore' ? { idbVersion: 80, layout: 10 } : { idbVersion: 3, layout: 16 });
    await create(store, newInstance('a'));
    expect(await store.getInstance('a')).toMatchObject({ instanceId: 'a', version: 1 });
  });
});

describe.each(Object.keys(adapters) as AdapterName[])('a %s store', (adapter) => {
  it('takes no freeze a script dispatched (not trusted): its calls do not wait for a resume', async () => {
    const store = adapters[adapter](uniqueName('untrusted-freeze'));
    stores.push(store);
    await create(store, newInstance('a'));
    acceptDispatchedPageEvents(false);
    try {
      document.dispatchEvent(new Event('freeze'));
      expect(await within(store.getInstance('a'), 'the read')).toMatchObject({ instanceId: 'a' });
    } finally {
      acceptDispatchedPageEvents(true);
    }
  });
});

describe('a KeyvalStore whose page freezes while it rebuilds its name and tag entries (layout 14)', () => {
  it('goes on with the rebuild once the page resumes, with no call of its own', async () => {
    const name = uniqueName('frozen-rebuild');
    const first = adapters.KeyvalStore(name);
    await Promise.all(Array.from({ length: 600 }, (_, i) => create(first, newInstance(`i-${i}`))));
    await first.close();
    // The marker of a rebuild at its start, as an upgrade leaves it: five steps (three of rows, then xg, then xn).
    await writeKeyvalMarker(name, { version: 16, store: 'durable-rx/keyval', rebuild: { step: 'rows' } });
    const store = adapters.KeyvalStore(name);
    stores.push(store);
    await store.getInstance('none'); // the first step went before it; the next one is at work, or about to begin
    document.dispatchEvent(new Event('freeze')); // aborts the step at work, or the next one as it begins
    await nextTask();
    expect(await readKeyvalMarker(name)).toHaveProperty('rebuild');
    document.dispatchEvent(new Event('resume'));
    // Before: the steps stayed stopped until a listing by name or tags, or the next open.
    await vi.waitFor(async () => {
      expect(await readKeyvalMarker(name)).toEqual({ version: 16, store: 'durable-rx/keyval' });
    }, { timeout: SETTLED.timeoutMs, interval: 50 });
  });
});

describe('a DexieStore whose page freezes while it gives its rows their tag keys (layout 8)', () => {
  it('aborts the step at work, its row writes issued: nothing of it is written while frozen, and the rebuild goes on once the page resumes, with no call of its own', async () => {
    const name = uniqueName('frozen-tag-keys');
    const count = 600;
    const first = adapters.DexieStore(name);
    await Promise.all(Array.from({ length: count }, (_, i) => {
      const request = newInstance(`i-${String(i).padStart(4, '0')}`);
      return create(first, { ...request, state: { ...request.state, tags: { tenant: 'acme' } } });
    }));
    await first.close();
    // As an upgrade from layout 7 leaves it: rows without their tag keys, and the marker of a rebuild at its start
    // (three steps of 256 rows).
    const marker = { key: 'schema', version: DEXIE_SCHEMA_VERSION, store: 'durable-rx/dexie', rebuild: {} };
    await rewriteDexie(name, (tx) => {
      tx.objectStore('meta').put(marker);
      const rows = tx.objectStore('instances').openCursor();
      rows.onsuccess = () => {
        const cursor = rows.result;
        if (!cursor) return;
        const { tagKeys: _keys, ...row } = cursor.value as { tagKeys?: unknown };
        cursor.update(row);
        cursor.continue();
      };
    });
    // The page's `freeze` comes right after the rebuild's first step issued its first row write (the code that issued
    // it, its other writes and the marker's, then ends; the step has not asked to commit).
    const { put } = IDBObjectStore.prototype;
    let froze = false;
    IDBObjectStore.prototype.put = function (this: IDBObjectStore, ...args: Parameters<typeof put>) {
      if (!froze && this.name === 'instances' && this.transaction.objectStoreNames.contains('meta')) {
        froze = true;
        queueMicrotask(() => document.dispatchEvent(new Event('freeze')));
      }
      return put.apply(this, args);
    };
    const store = adapters.DexieStore(name);
    stores.push(store);
    // Opens the database, and the steps begin; the call may wait for the resume.
    const call = store.getInstance('none');
    try {
      await vi.waitFor(() => expect(froze).toBe(true), { timeout: SETTLED.timeoutMs, interval: 10 });
    } finally {
      IDBObjectStore.prototype.put = put;
    }
    try {
      await nextTask();
      // Read on another connection (the page does not really freeze here: a step left alone would have committed, and
      // one begun while frozen would be read before this transaction or after it).
      expect(await readDexie(name, 'meta')).toEqual([marker]);
      expect((await readDexie(name, 'instances')).filter((row) => row.tagKeys)).toEqual([]);
    } finally {
      document.dispatchEvent(new Event('resume'));
    }
    expect(await within(call, 'the call')).toBeUndefined();
    await vi.waitFor(async () => {
      expect(await readDexie(name, 'meta')).toEqual([{ key: 'schema', version: DEXIE_SCHEMA_VERSION, store: 'durable-rx/dexie' }]);
    }, { timeout: SETTLED.timeoutMs, interval: 50 });
    expect((await readDexie(name, 'instances')).filter((row) => !row.tagKeys)).toEqual([]);
  });
});

/** Runs `write` in a readwrite transaction over every table of DexieStore's database `name`, on IndexedDB's own `open`. */
async function rewriteDexie(name: string, write: (tx: IDBTransaction) => void): Promise<void> {
  const connection = await requested(rawOpen.call(indexedDB, name));
  try {
    const transaction = connection.transaction([...connection.objectStoreNames], 'readwrite');
    write(transaction);
    await new Promise((resolve, reject) => {
      transaction.oncomplete = resolve;
      transaction.onabort = () => reject(transaction.error);
    });
  } finally {
    connection.close();
  }
}

/** The rows of table `table` of DexieStore's database `name`, read on IndexedDB's own `open`. */
async function readDexie(name: string, table: string): Promise<Record<string, unknown>[]> {
  const connection = await requested(rawOpen.call(indexedDB, name));
  try {
    return await requested(connection.transaction(table, 'readonly').objectStore(table).getAll()) as Record<string, unknown>[];
  } finally {
    connection.close();
  }
}

/** Puts KeyvalStore's layout marker of database `name`, on IndexedDB's own `open`. */
async function writeKeyvalMarker(name: string, marker: object): Promise<void> {
  const connection = await requested(rawOpen.call(indexedDB, name));
  try {
    const transaction = connection.transaction('durable-rx', 'readwrite');
    transaction.objectStore('durable-rx').put(marker, ['meta']);
    await new Promise((resolve) => (transaction.oncomplete = resolve));
  } finally {
    connection.close();
  }
}

/** KeyvalStore's layout marker of database `name`, read on IndexedDB's own `open`. */
async function readKeyvalMarker(name: string): Promise<unknown> {
  const connection = await requested(rawOpen.call(indexedDB, name));
  try {
    return await requested(connection.transaction('durable-rx', 'readonly').objectStore('durable-rx').get(['meta']));
  } finally {
    connection.close();
  }
}

/**
 * The open timer (`openTimeoutMs`) of a request still unanswered when the page freezes. The request stays queued, and
 * its answer, like the timer, waits for the resume; the timer must not fail the call because of the freeze. The gate
 * is given an open the test answers itself, the request held as long as the test wants.
 */
describe('the open timer of a page that freezes while its open request waits for an answer', () => {
  const TIMEOUT_MS = 300;
  const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

  /** An open the test answers (with `answer`), through a gate that knows the page's freezes. */
  function heldOpen() {
    const page = new PageFreeze();
    const gate = new OpenGate<string>('held-open', TIMEOUT_MS, () => undefined, page);
    let answer!: () => void;
    const answered = new Promise<void>((resolve) => (answer = resolve));
    const call = gate.open(() => ({ answered, opened: answered.then(() => 'opened') }));
    const outcome = call.then((value) => ({ ok: true as const, value }), (error: unknown) => ({ ok: false as const, error }));
    return { page, gate, answer, outcome };
  }

  it('starts again at the resume when it ends while the page is frozen: answered right after the resume, the call succeeds', async () => {
    const { page, gate, answer, outcome } = heldOpen();
    try {
      document.dispatchEvent(new Event('freeze'));
      await sleep(3 * TIMEOUT_MS); // the timer ends meanwhile (dispatched events do not stop it)
      document.dispatchEvent(new Event('resume'));
      answer();
      expect(await outcome).toEqual({ ok: true, value: 'opened' });
    } finally {
      document.dispatchEvent(new Event('resume'));
      gate.close();
      page.dispose();
    }
  });

  it('starts again when it ends after a freeze and resume (as after a real freeze, whose timers wait for the resume)', async () => {
    const { page, gate, answer, outcome } = heldOpen();
    try {
      document.dispatchEvent(new Event('freeze'));
      document.dispatchEvent(new Event('resume'));
      // The gate's timer, armed first, ends before this sleep, and its second one (TIMEOUT_MS later) after it.
      await sleep(1.5 * TIMEOUT_MS);
      answer();
      expect(await outcome).toEqual({ ok: true, value: 'opened' });
    } finally {
      gate.close();
      page.dispose();
    }
  });

  it('still fails the call with DatabaseBlockedError when no freeze came, or after the restarted wait', async () => {
    const opens = [heldOpen()];
    try {
      expect(await opens[0]!.outcome).toMatchObject({ ok: false, error: expect.any(DatabaseBlockedError) });
      opens.push(heldOpen());
      document.dispatchEvent(new Event('freeze'));
      document.dispatchEvent(new Event('resume'));
      expect(await opens[1]!.outcome).toMatchObject({ ok: false, error: expect.any(DatabaseBlockedError) });
    } finally {
      for (const { gate, page } of opens) {
        gate.close();
        page.dispose();
      }
    }
  });
});
