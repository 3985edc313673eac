import { afterEach, describe, expect, it, vi } from 'vitest';
import { Dexie } from 'dexie';
import { createClient, createRuntime, silentLogger, type Runtime } from '@durable-rx/runtime';
import { helloSequence } from '@durable-rx/runtime/samples';
import type { ActivityTask, Store } from '@durable-rx/runtime/store-kit';
import { DEXIE_SCHEMA_VERSION } from '../../src/internal/dexie-backend.js';
import { countIndexedDb } from '../count-idb.js';
import { instanceRow } from '../../src/internal/rows.js';
import { VirtualClock } from '@durable-rx/runtime/testing';
import { SETTLED } from '../../../../test-support/settled.js';
import {
  adapters, allIds, claim, closeAtRebuildStep, commitOf, create, message, newInstance, send, started, T0, uniqueName, upgradeAtRebuildStep,
} from './fixtures.js';

// Layout 3 of DexieStore (Dexie version 2) keeps an instance's first activity task in its row (further ones in the
// tasks table), with an index over it. Layout 2 (Dexie version 1) kept every task in the tasks table. These tests write a layout-2 database with Dexie and the old table declarations, as that layout left it, and
// check that this layout upgrades it and runs what it holds.

/** The tables of Dexie version 1 (layouts 1 and 2). */
const LAYOUT_2 = {
  meta: 'key',
  instances: 'id, [readyMs+headSeq], [createdMs+id], [status+createdMs+id]',
  history: '[instanceId+seq]',
  messages: '++seq, [instanceId+seq]',
  tasks: '++seq, &id, [readyMs+seq], instanceId',
};

const opened: Store[] = [];
const runtimes: Runtime[] = [];
afterEach(async () => {
  await Promise.all(runtimes.splice(0).map((r) => r.stop({ graceMs: 0 })));
  await Promise.all(opened.splice(0).map((s) => s.close()));
});
function open(name: string, options: Parameters<typeof adapters.DexieStore>[1] = {}): Store {
  const store = adapters.DexieStore(name, options);
  opened.push(store);
  return store;
}

function dexie(name: string): Dexie {
  return new Dexie(name, { indexedDB, IDBKeyRange });
}

function task(id: string, instanceId: string): ActivityTask {
  return { id, instanceId, executionId: 'exec-1', name: 'E1_SayHello', taskScheduledId: 0, attempt: 1, input: 'Tokyo' };
}

type Row = Record<string, unknown>;

/** Writes a layout-2 database: the rows given, tasks in their own table (numbered by it), and the layout-2 marker. */
async function writeLayout2(name: string, rows: { instances: readonly object[]; history?: readonly object[]; messages?: readonly object[]; tasks: readonly object[] }): Promise<void> {
  const db = dexie(name);
  db.version(1).stores(LAYOUT_2);
  await db.open();
  await db.transaction('rw', ['meta', 'instances', 'history', 'messages', 'tasks'], async () => {
    await db.table('meta').put({ key: 'schema', version: 2, store: 'durable-rx/dexie' });
    await db.table('instances').bulkPut(rows.instances);
    await db.table('history').bulkPut(rows.history ?? []);
    await db.table('messages').bulkPut(rows.messages ?? []);
    await db.table('tasks').bulkAdd(rows.tasks);
  });
  db.close();
}

/** Resolves once the marker names no rebuild of the rows' `tagKeys` (layout 8): its steps are done. */
async function rebuilt(name: string): Promise<void> {
  await vi.waitFor(async () => {
    expect(await rawRows(name, 'meta')).toEqual([{ key: 'schema', version: DEXIE_SCHEMA_VERSION, store: 'durable-rx/dexie' }]);
  }, { timeout: SETTLED.timeoutMs, interval: 20 });
}

/** Every row of a table of the database as it is now. */
async function rawRows(name: string, table: string): Promise<Row[]> {
  const db = dexie(name);
  await db.open();
  try {
    return await db.table(table).toArray();
  } finally {
    db.close();
  }
}

async function rawVersion(name: string): Promise<number> {
  const db = dexie(name);
  await db.open();
  const version = db.backendDB().version;
  db.close();
  return version;
}

describe('DexieStore layout 3: an instance\'s first activity task kept in its row', () => {
  it('completes a hello sequence a layout-2 database holds half-way, its task in the tasks table', async () => {
    // This layout runs a hello sequence until its second activity, which never returns; stopping releases its lease.
    const source = uniqueName('layout-3-source');
    let calls = 0;
    let secondStarted!: () => void;
    const second = new Promise<void>((resolve) => (secondStarted = resolve));
    const first = createRuntime({
      store: open(source), logger: silentLogger, orchestrators: { Hello: helloSequence },
      activities: {
        E1_SayHello: (city: string) => {
          if (++calls < 2) return `Hello ${city}!`;
          secondStarted();
          return new Promise<string>(() => undefined);
        },
      },
    });
    await first.start();
    await first.client.startNew('Hello', { instanceId: 'h' });
    await second;
    await first.stop({ graceMs: 0 });
    await opened.pop()!.close();

    // The same rows as layout 2 kept them: the task in the tasks table, the instance row without it.
    const instances = await rawRows(source, 'instances');
    const tasks = instances.flatMap((row) => (row.task ? [row.task as Row] : []));
    expect(tasks).toMatchObject([{ instanceId: 'h', readyMs: 0, task: { input: 'Seattle' } }]);
    expect(await rawRows(source, 'tasks')).toEqual([]);
    const name = uniqueName('layout-2');
    await writeLayout2(name, {
      instances: instances.map(({ task: _t, taskReadyMs: _r, taskOrder: _o, ...row }) => row),
      history: await rawRows(source, 'history'),
      messages: await rawRows(source, 'messages'),
      tasks: tasks.map(({ seq: _seq, ...row }) => row),
    });

    const runtime = createRuntime({ store: open(name), logger: silentLogger, orchestrators: { Hello: helloSequence }, activities: { E1_SayHello: (city: string) => `Hello ${city}!` } });
    runtimes.push(runtime);
    await runtime.start();
    const done = await runtime.client.waitForCompletion('h', { timeoutMs: 60_000 });
    expect(done).toMatchObject({ runtimeStatus: 'Completed', output: ['Hello Tokyo!', 'Hello Seattle!', 'Hello London!'] });
    expect(await rawRows(name, 'tasks')).toEqual([]);
    expect(await rawRows(name, 'meta')).toEqual([{ key: 'schema', version: DEXIE_SCHEMA_VERSION, store: 'durable-rx/dexie' }]);
    expect(DEXIE_SCHEMA_VERSION).toBe(10);
  });

  it('claims layout-2 tasks before newer ones, keeps their leases, renews and abandons them by task id alone', async () => {
    const name = uniqueName('layout-2-leased');
    const expiresMs = T0.getTime() + 30_000;
    await writeLayout2(name, {
      instances: [instanceRow({ ...newInstance('a').state, runtimeStatus: 'Running' })],
      tasks: [
        { id: 'old-free', instanceId: 'a', readyMs: 0, task: task('old-free', 'a') },
        { id: 'old-leased', instanceId: 'a', readyMs: expiresMs, task: task('old-leased', 'a'), lease: { owner: 'w', token: 'k1', expiresAt: new Date(expiresMs) } },
      ],
    });
    const store = open(name);
    await create(store, newInstance('b'));
    // Instance 'b' gets a task of this layout (in its row): the older task of the table is claimed first.
    const item = await claim(store);
    expect(item.state.instanceId).toBe('b');
    await store.commit(commitOf(item.state, item.lease.token, {
      consumedMessageIds: item.messages.map((m) => m.id),
      state: { ...item.state, runtimeStatus: 'Running', version: item.state.version + 1, historyLength: 1 },
      history: [started('b')],
      activityTasks: [task('new', 'b')],
    }));
    expect((await rawRows(name, 'instances')).find((row) => row.id === 'b')).toMatchObject({ task: { id: 'new' } });
    expect((await store.claimActivity({ owner: 'x', leaseMs: 60_000, now: T0 }))?.task.id).toBe('old-free');
    expect((await store.claimActivity({ owner: 'x', leaseMs: 60_000, now: T0 }))?.task.id).toBe('new');
    // The leased one waits for its lease; renewed and abandoned by a handle that never saw which instance holds it.
    expect(await store.claimActivity({ owner: 'x', leaseMs: 1000, now: T0 })).toBeUndefined();
    expect(await store.nextWakeTime(T0)).toEqual(new Date(expiresMs));
    const other = open(name);
    await other.renewActivityLease('old-leased', 'k1', new Date(expiresMs + 30_000));
    expect(await store.nextWakeTime(T0)).toEqual(new Date(expiresMs + 30_000));
    expect(await store.claimActivity({ owner: 'x', leaseMs: 1000, now: new Date(expiresMs + 1) })).toBeUndefined();
    await other.abandonActivity('old-leased', 'k1');
    expect((await store.claimActivity({ owner: 'x', leaseMs: 1000, now: T0 }))?.task.id).toBe('old-leased');
  });

  it('is refused by layout-2 code opened later, which leaves it as it is: this layout\'s connections stay open', async () => {
    const name = uniqueName('layout-2-later');
    const store = open(name);
    await create(store, newInstance('a'));
    const versionBefore = await rawVersion(name);
    // Layout-2 code opens the database with its own table declarations (it checks the schema marker next).
    const older = dexie(name);
    older.version(1).stores(LAYOUT_2);
    await older.open();
    const marker = await older.table('meta').get('schema');
    older.close();
    expect(marker).toEqual({ key: 'schema', version: DEXIE_SCHEMA_VERSION, store: 'durable-rx/dexie' });
    // Had it found a table or index missing, Dexie would have upgraded the database, closing this store's connection.
    expect(await rawVersion(name)).toBe(versionBefore);
    expect(await store.getInstance('a')).toMatchObject({ runtimeStatus: 'Pending' });
  });
});

// Layout 4 (Dexie version 3) adds the index `[state.name+createdMs+id]` for the list's name filter; IndexedDB builds it
// from the rows a layout-3 database holds, which stay as they are.
describe('DexieStore layout 4: an index by orchestrator name', () => {
  const LAYOUT_3 = { ...LAYOUT_2, instances: `${LAYOUT_2.instances}, [taskReadyMs+taskOrder]` };

  it('opens a layout-3 database and lists its instances by orchestrator name, newest first', async () => {
    const source = uniqueName('layout-4-source');
    const first = open(source);
    const names = ['Orders', 'Billing', 'Orders', 'orders'];
    for (const [i, name] of names.entries()) {
      const request = newInstance(`n-${i}`);
      const createdTime = new Date(T0.getTime() + i * 1000);
      await create(first, { ...request, state: { ...request.state, name, createdTime, lastUpdatedTime: createdTime } });
    }
    await first.close();
    const instances = await rawRows(source, 'instances');

    const name = uniqueName('layout-3');
    const db = dexie(name);
    db.version(2).stores(LAYOUT_3);
    await db.open();
    await db.transaction('rw', ['meta', 'instances'], async () => {
      await db.table('meta').put({ key: 'schema', version: 3, store: 'durable-rx/dexie' });
      await db.table('instances').bulkPut(instances);
    });
    db.close();

    const store = open(name);
    const ids = async (query: Parameters<Store['queryInstances']>[0]) => (await store.queryInstances(query)).instances.map((s) => s.instanceId);
    expect(await ids({ name: ['Orders'], order: 'desc' })).toEqual(['n-2', 'n-0']);
    expect(await ids({ name: ['orders', 'Billing'] })).toEqual(['n-1', 'n-3']);
    expect(await rawRows(name, 'meta')).toEqual([{ key: 'schema', version: DEXIE_SCHEMA_VERSION, store: 'durable-rx/dexie' }]);
    expect(await rawVersion(name)).toBe(80);
  });
});

describe('DexieStore layout 5: the keys of keyed raises in a table of their own', () => {
  const LAYOUT_4 = { ...LAYOUT_2, instances: `${LAYOUT_2.instances}, [taskReadyMs+taskOrder], [state.name+createdMs+id]` };
  const raised = (item: Awaited<ReturnType<typeof claim>>) => item.messages.filter((m) => m.event.type === 'EventRaised').map((m) => (m.event as { input?: unknown }).input);

  it('opens a layout-4 database whose instance keeps keys in its state: they still count, stay in the state while new keys go to the record, and go with a purge', async () => {
    const source = uniqueName('layout-5-source');
    const first = open(source);
    await create(first, newInstance('a', { rows: Array.from({ length: 100 }, (_, i) => i) }));
    await first.close();
    const [instance] = await rawRows(source, 'instances');
    const messages = await rawRows(source, 'messages');

    // What layout 4 left: the keys in the state, no raiseKeys table.
    const name = uniqueName('layout-4');
    const db = dexie(name);
    db.version(3).stores(LAYOUT_4);
    await db.open();
    await db.transaction('rw', ['meta', 'instances', 'messages'], async () => {
      await db.table('meta').put({ key: 'schema', version: 4, store: 'durable-rx/dexie' });
      await db.table('instances').put({ ...instance, state: { ...(instance!.state as Row), raisedEventKeys: ['old'] } });
      await db.table('messages').bulkPut(messages);
    });
    db.close();

    const store = open(name);
    const client = createClient({ store });
    await client.raiseEvent('a', 'go', 'repeat', { idempotencyKey: 'old' });
    await client.raiseEvent('a', 'go', 'new', { idempotencyKey: 'new' });
    await client.raiseEvent('a', 'go', 'repeat', { idempotencyKey: 'old' });
    await client.raiseEvent('a', 'go', 'repeat', { idempotencyKey: 'new' });
    expect(await rawRows(name, 'raiseKeys')).toEqual([{ id: 'a', keys: ['new'] }]);
    expect((await rawRows(name, 'instances'))[0]!.state).toHaveProperty('raisedEventKeys', ['old']);
    expect(await rawRows(name, 'meta')).toEqual([{ key: 'schema', version: DEXIE_SCHEMA_VERSION, store: 'durable-rx/dexie' }]);
    expect(await rawVersion(name)).toBe(80);
    // A keyed raise now writes the key to the record alone: the state in the instance's row stays as it was (the row
    // itself counts the message, as for any message).
    const [before] = await rawRows(name, 'instances');
    await client.raiseEvent('a', 'go', 'third', { idempotencyKey: 'third' });
    expect((await rawRows(name, 'instances'))[0]!.state).toEqual(before!.state);
    expect(await rawRows(name, 'raiseKeys')).toEqual([{ id: 'a', keys: ['new', 'third'] }]);

    const item = await claim(store);
    expect(raised(item)).toEqual(['new', 'third']);
    await store.commit(commitOf(item.state, item.lease.token, {
      state: { ...item.state, runtimeStatus: 'Completed', version: item.state.version + 1 }, consumedMessageIds: item.messages.map((m) => m.id),
    }));
    expect(await store.purgeInstance('a')).toBe(1);
    expect(await rawRows(name, 'raiseKeys')).toEqual([]);
  });
});

// Layout 6 (Dexie version 5) adds the multiEntry index `*tagKeys` for the list's tag filter: its upgrade gives each row
// with tags its `tagKeys` ([key, value, createdMs, id] per pair), from which IndexedDB builds the index.
describe('DexieStore layout 6: an index by tag pair', () => {
  const LAYOUT_5 = { ...LAYOUT_2, instances: `${LAYOUT_2.instances}, [taskReadyMs+taskOrder], [state.name+createdMs+id]`, raiseKeys: 'id' };

  it('opens a layout-5 database and lists its instances by tags, across pages and newest first', async () => {
    const source = uniqueName('layout-6-source');
    const first = open(source);
    const tags: (Record<string, string> | undefined)[] = [{ tenant: 'acme', region: 'eu' }, { tenant: 'globex' }, undefined, { tenant: 'acme' }];
    for (const [i, tagged] of tags.entries()) {
      const request = newInstance(`g-${i}`);
      const createdTime = new Date(T0.getTime() + i * 1000);
      await create(first, { ...request, state: { ...request.state, createdTime, lastUpdatedTime: createdTime, ...(tagged ? { tags: tagged } : {}) } });
    }
    await first.close();
    // The rows as layout 5 wrote them: without `tagKeys`.
    const instances = (await rawRows(source, 'instances')).map(({ tagKeys: _t, ...row }) => row);
    expect(instances.filter((row) => (row.state as { tags?: unknown }).tags !== undefined)).toHaveLength(3);

    const name = uniqueName('layout-5');
    const db = dexie(name);
    db.version(4).stores(LAYOUT_5);
    await db.open();
    await db.transaction('rw', ['meta', 'instances'], async () => {
      await db.table('meta').put({ key: 'schema', version: 5, store: 'durable-rx/dexie' });
      await db.table('instances').bulkPut(instances);
    });
    db.close();

    const store = open(name);
    expect(await allIds(store, { tags: { tenant: 'acme' } })).toEqual(['g-0', 'g-3']);
    expect(await allIds(store, { tags: { tenant: 'acme' }, order: 'desc' })).toEqual(['g-3', 'g-0']);
    expect(await allIds(store, { tags: { tenant: 'acme', region: 'eu' } })).toEqual(['g-0']);
    expect(await allIds(store, { tags: { tenant: 'globex' } })).toEqual(['g-1']);
    await rebuilt(name);
    expect(await allIds(store, { tags: { tenant: 'acme' }, order: 'desc' })).toEqual(['g-3', 'g-0']);
    expect((await rawRows(name, 'instances')).find((row) => row.id === 'g-0')?.tagKeys).toEqual([
      ['region', 'eu', T0.getTime(), 'g-0'], ['tenant', 'acme', T0.getTime(), 'g-0'],
    ]);
    expect((await rawRows(name, 'instances')).find((row) => row.id === 'g-2')?.tagKeys).toBeUndefined();
    expect(await rawRows(name, 'meta')).toEqual([{ key: 'schema', version: DEXIE_SCHEMA_VERSION, store: 'durable-rx/dexie' }]);
    expect(await rawVersion(name)).toBe(80);
  });
});

// Layout 8 gives the rows of layout 5 or older their `tagKeys` after the open, in steps of their own, instead of in the
// upgrade's versionchange transaction (which every call waited for).
describe('DexieStore layout 8: tag keys given after the open, in steps', () => {
  const LAYOUT_5 = { ...LAYOUT_2, instances: `${LAYOUT_2.instances}, [taskReadyMs+taskOrder], [state.name+createdMs+id]`, raiseKeys: 'id' };
  const LAYOUT_8 = { ...LAYOUT_5, instances: `${LAYOUT_5.instances}, *tagKeys`, inputs: 'id' };
  const idOf = (i: number) => `i-${String(i).padStart(4, '0')}`;
  const msOf = (i: number) => T0.getTime() + i;

  /**
   * Writes `count` completed instances named Orders (every third Billing) with the tag pair tenant=acme (every fifth
   * tenant=globex), created 1 ms apart, into database `name` at Dexie version `version` with the marker `meta`; an
   * instance `keyed(i)` accepts has its `tagKeys`.
   */
  async function instances(name: string, count: number, version: number, meta: object, keyed: (i: number) => boolean): Promise<void> {
    const db = dexie(name);
    db.version(version).stores(version === 4 ? LAYOUT_5 : LAYOUT_8);
    await db.open();
    const template = newInstance('template', { n: 1 }).state;
    const rows = Array.from({ length: count }, (_, i) => {
      const id = idOf(i);
      const createdTime = new Date(msOf(i));
      const tenant = i % 5 === 0 ? 'globex' : 'acme';
      const state = { ...template, instanceId: id, name: i % 3 === 0 ? 'Billing' : 'Orders', runtimeStatus: 'Completed', createdTime, lastUpdatedTime: createdTime, tags: { tenant } };
      return { ...instanceRow(state as typeof template), ...(keyed(i) ? { tagKeys: [['tenant', tenant, msOf(i), id]] } : {}) };
    });
    await db.transaction('rw', ['meta', 'instances'], async () => {
      await db.table('meta').put(meta);
      await db.table('instances').bulkPut(rows);
    });
    db.close();
  }

  /** The ids of the first `count` instances `keep` accepts. */
  const ids = (count: number, keep: (i: number) => boolean) => Array.from({ length: count }, (_, i) => i).filter(keep).map(idOf);
  const acme = (i: number) => i % 5 !== 0;

  it('opens a layout-5 database, lists and purges by tags exactly while its rows get their tag keys in steps, and gives every row its keys', async () => {
    const name = uniqueName('layout-5-steps');
    const count = 1000;
    await instances(name, count, 4, { key: 'schema', version: 5, store: 'durable-rx/dexie' }, () => false);

    const store = open(name);
    // Exact however far the steps (transactions of their own, beside the calls) have come.
    expect(await allIds(store, { tags: { tenant: 'acme' }, pageSize: 300 })).toEqual(ids(count, acme));
    expect(await allIds(store, { tags: { tenant: 'acme' }, name: ['Billing'], order: 'desc', pageSize: 300 })).toEqual(
      ids(count, (i) => acme(i) && i % 3 === 0).reverse(),
    );
    expect(await store.purgeInstances({ createdTimeFrom: T0, tags: { tenant: 'globex' } })).toBe(count / 5);

    await rebuilt(name);
    const left = ids(count, acme);
    expect((await rawRows(name, 'instances')).map((row) => row.tagKeys)).toEqual(
      left.map((id) => [['tenant', 'acme', msOf(Number(id.slice(2))), id]]),
    );
    expect(await allIds(store, { tags: { tenant: 'acme' }, pageSize: 300 })).toEqual(left);
    expect(await rawVersion(name)).toBe(80);
  });

  it('goes on with a rebuild whose step failed at the store\'s next call of any kind, without a listing', async () => {
    const name = uniqueName('layout-8-failed-step');
    const count = 1000;
    await instances(name, count, 6, { key: 'schema', version: 8, store: 'durable-rx/dexie', rebuild: { after: [msOf(100), idOf(100)] } },
      (i) => i <= 100 || i % 2 === 0);
    // The rebuild's first step (the second readwrite transaction to read the marker, after the open's schema check) is
    // aborted as it reads it, as the browser aborts a transaction (a storage failure, a frozen tab's for inactivity).
    const get = IDBObjectStore.prototype.get;
    let markerReads = 0;
    let aborted = false;
    IDBObjectStore.prototype.get = function (this: IDBObjectStore, key: IDBValidKey | IDBKeyRange) {
      const request = get.call(this, key);
      if (this.transaction.mode === 'readwrite' && key === 'schema' && ++markerReads === 2) {
        this.transaction.abort();
        aborted = true;
      }
      return request;
    };
    const store = open(name);
    try {
      expect(await store.getInstance('none')).toBeUndefined();
    } finally {
      IDBObjectStore.prototype.get = get;
    }
    expect(aborted).toBe(true);
    // A call that lists nothing by tags starts the steps again.
    expect(await store.getInstance(idOf(3))).toMatchObject({ instanceId: idOf(3) });
    await rebuilt(name);
    expect((await rawRows(name, 'instances')).filter((row) => !row.tagKeys)).toEqual([]);
  });

  it('right after the upgrade, before any step, a page by tags reads at most 512 rows past the place, the pages exact both ways', async () => {
    const name = uniqueName('layout-8-bounded');
    const count = 3000;
    await instances(name, count, 6, { key: 'schema', version: 8, store: 'durable-rx/dexie', rebuild: {} }, () => false);
    // Every step fails (its transaction aborted as it reads the marker), so no row gets its keys meanwhile; the rows a
    // listing's cursors read (readonly transactions only) are counted.
    const steps = abortMarkerWritesAfterFirst();
    const step = IDBCursor.prototype.continue;
    let rowsRead = 0;
    IDBCursor.prototype.continue = function (this: IDBCursor, key?: IDBValidKey) {
      if (this.request.transaction?.mode === 'readonly') rowsRead++;
      return step.call(this, key);
    };
    try {
      const store = open(name);
      for (const order of ['asc', 'desc'] as const) {
        const pages: number[] = [];
        const listed: string[] = [];
        let token: string | undefined;
        do {
          const before = rowsRead;
          const page = await store.queryInstances({ tags: { tenant: 'globex' }, pageSize: 300, order, ...(token ? { continuationToken: token } : {}) });
          pages.push(rowsRead - before);
          listed.push(...page.instances.map((s) => s.instanceId));
          token = page.continuationToken;
        } while (token);
        const globex = ids(count, (i) => !acme(i));
        expect(listed).toEqual(order === 'asc' ? globex : globex.reverse());
        // Before: the first page read every row up to its 301st globex instance, 1,501.
        expect(Math.max(...pages)).toBeLessThanOrEqual(512);
      }
      expect((await rawRows(name, 'instances')).filter((row) => row.tagKeys)).toEqual([]);
    } finally {
      steps.restore();
      IDBCursor.prototype.continue = step;
    }
  });

  it('lists by tags across the place the rebuild has come to, in pages both ways: the tag index up to it, every row past it', async () => {
    const name = uniqueName('layout-8-place');
    const count = 1000;
    await instances(name, count, 6, { key: 'schema', version: 8, store: 'durable-rx/dexie', rebuild: { after: [msOf(500), idOf(500)] } },
      (i) => i <= 500 || i % 2 === 0);
    // Every step fails (its transaction aborted as it reads the marker), so the place stays where it is meanwhile.
    const steps = abortMarkerWritesAfterFirst();
    const clock = new VirtualClock(T0);
    const store = open(name, { clock });
    try {
      const around = { tags: { tenant: 'globex' }, createdTimeFrom: new Date(msOf(430)), createdTimeTo: new Date(msOf(570)), pageSize: 4 };
      const globex = ids(count, (i) => !acme(i) && i >= 430 && i <= 570);
      expect(await allIds(store, around)).toEqual(globex);
      expect(await allIds(store, { ...around, order: 'desc' })).toEqual([...globex].reverse());
      expect(await allIds(store, { tags: { tenant: 'acme' }, pageSize: 300 })).toEqual(ids(count, acme));
      expect((await rawRows(name, 'meta'))[0]).toMatchObject({ rebuild: { after: [msOf(500), idOf(500)] } });
    } finally {
      steps.restore();
    }
    // After failed steps in a row, a call starts them again once the wait has passed on the store's clock.
    await clock.advance(60_000);
    expect(await store.getInstance(idOf(0))).toMatchObject({ instanceId: idOf(0) });
    await rebuilt(name);
  });

  it('aborts the step under way when it closes: the step writes nothing, holds the database no longer, and the next open goes on from the place', async () => {
    const name = uniqueName('layout-8-close');
    const count = 1000;
    const marker = { key: 'schema', version: DEXIE_SCHEMA_VERSION, store: 'durable-rx/dexie', rebuild: { after: [msOf(100), idOf(100)] } };
    await instances(name, count, 7, marker, (i) => i <= 100);
    const store = open(name);
    // Before: the step went on after the close had resolved, and committed (the marker moved on by a step).
    expect(await closeAtRebuildStep(store, (key) => key === 'schema')).toBe('abort');
    expect((await rawRows(name, 'meta'))[0]).toEqual(marker);
    expect((await rawRows(name, 'instances')).filter((row) => !row.tagKeys)).toHaveLength(count - 101);
    const again = open(name);
    expect(await again.getInstance(idOf(3))).toMatchObject({ instanceId: idOf(3) });
    await rebuilt(name);
    expect((await rawRows(name, 'instances')).filter((row) => !row.tagKeys)).toEqual([]);
  });

  it('aborts the step under way when another tab upgrades the database: the step writes nothing and holds the upgrade no longer', async () => {
    const name = uniqueName('layout-8-upgraded');
    const count = 1000;
    const marker = { key: 'schema', version: DEXIE_SCHEMA_VERSION, store: 'durable-rx/dexie', rebuild: { after: [msOf(100), idOf(100)] } };
    await instances(name, count, 7, marker, (i) => i <= 100);
    const store = open(name);
    // Before: the step went on under the closing connection, and committed (the marker moved on by a step) before the
    // upgrade could begin.
    expect(await upgradeAtRebuildStep(store, name, (key) => key === 'schema')).toBe('abort');
    expect((await rawRows(name, 'meta'))[0]).toEqual(marker);
    expect((await rawRows(name, 'instances')).filter((row) => !row.tagKeys)).toHaveLength(count - 101);
    await expect(store.getInstance(idOf(3))).rejects.toMatchObject({ code: 'database-upgrading' });
  });

  it('goes on with a rebuild cut short (a reload) from its place, and shares it between two tabs, one closed mid-way', async () => {
    const name = uniqueName('layout-8-cut');
    const count = 2000;
    // Cut short after i-0500: the rows up to it have their tag keys, half of the later ones none.
    await instances(name, count, 6, { key: 'schema', version: 8, store: 'durable-rx/dexie', rebuild: { after: [msOf(500), idOf(500)] } },
      (i) => i <= 500 || i % 2 === 0);

    const first = open(name);
    const second = open(name);
    expect(await allIds(first, { tags: { tenant: 'acme' }, order: 'desc', pageSize: 1000 })).toEqual(ids(count, acme).reverse());
    // A tab closed while the steps run: its close settles, nothing fails, and the other tab finishes the rebuild.
    await first.close();
    expect(await allIds(second, { tags: { tenant: 'globex' }, pageSize: 1000 })).toEqual(ids(count, (i) => !acme(i)));
    await rebuilt(name);
    expect((await rawRows(name, 'instances')).filter((row) => !row.tagKeys)).toEqual([]);
    expect(await allIds(second, { tags: { tenant: 'acme' }, pageSize: 1000 })).toEqual(ids(count, acme));
  });
});

// Layout 7 (Dexie version 6) adds the table `inputs`: an instance's input is written there by the commit that creates
// its execution, and the instance row, which every step rewrites, holds none.
describe('DexieStore layout 7: inputs in a table of their own', () => {
  const LAYOUT_6 = {
    ...LAYOUT_2, instances: `${LAYOUT_2.instances}, [taskReadyMs+taskOrder], [state.name+createdMs+id], *tagKeys`, raiseKeys: 'id',
  };
  const input = { rows: Array.from({ length: 100 }, (_, i) => i) };

  it('keeps the input out of the row its steps rewrite, reads it with the state, and purges it with the instance', async () => {
    const name = uniqueName('layout-7');
    const store = open(name);
    await create(store, newInstance('a', input));
    const [row] = await rawRows(name, 'instances');
    expect(row).toMatchObject({ id: 'a', inputApart: true });
    expect(row!.state).not.toHaveProperty('input');
    expect(await rawRows(name, 'inputs')).toEqual([{ id: 'a', executionId: 'exec-1', createdMs: T0.getTime(), input }]);

    const item = await claim(store);
    expect(item.state.input).toEqual(input);
    const running = { ...item.state, runtimeStatus: 'Running' as const, version: item.state.version + 1 };
    await store.commit(commitOf(item.state, item.lease.token, { state: running, history: [started('a')], consumedMessageIds: item.messages.map((m) => m.id) }));
    expect((await rawRows(name, 'instances'))[0]!.state).not.toHaveProperty('input');
    expect(await store.getInstance('a')).toMatchObject({ runtimeStatus: 'Running', input });
    expect((await store.getInstanceHistory!('a')).state?.input).toEqual(input);
    expect((await store.queryInstances({})).instances[0]?.input).toEqual(input);
    expect((await store.queryInstances({ showInput: false })).instances[0]).not.toHaveProperty('input');

    await send(store, message('a', { type: 'EventRaised', eventId: -1, timestamp: T0.toISOString(), name: 'end' }));
    const last = await claim(store);
    await store.commit(commitOf(last.state, last.lease.token, {
      state: { ...last.state, runtimeStatus: 'Completed', version: last.state.version + 1 }, consumedMessageIds: last.messages.map((m) => m.id),
    }));
    expect(await store.purgeInstance('a')).toBe(1);
    expect(await rawRows(name, 'inputs')).toEqual([]);
  });

  it('opens a layout-6 database: a row keeps its input in its state, read as it is, until its next write moves it out', async () => {
    const source = uniqueName('layout-7-source');
    const first = open(source);
    await create(first, newInstance('a', input));
    await first.close();
    // The row as layout 6 wrote it: the input in its state.
    const { inputApart: _apart, ...row } = (await rawRows(source, 'instances'))[0]!;
    const messages = await rawRows(source, 'messages');
    const name = uniqueName('layout-6');
    const db = dexie(name);
    db.version(5).stores(LAYOUT_6);
    await db.open();
    await db.transaction('rw', ['meta', 'instances', 'messages'], async () => {
      await db.table('meta').put({ key: 'schema', version: 6, store: 'durable-rx/dexie' });
      await db.table('instances').put({ ...row, state: { ...(row.state as Row), input } });
      await db.table('messages').bulkPut(messages);
    });
    db.close();

    const store = open(name);
    expect(await store.getInstance('a')).toMatchObject({ runtimeStatus: 'Pending', input });
    expect(await rawVersion(name)).toBe(80);
    expect(await rawRows(name, 'meta')).toEqual([{ key: 'schema', version: DEXIE_SCHEMA_VERSION, store: 'durable-rx/dexie' }]);
    expect(await rawRows(name, 'inputs')).toEqual([]);
    const item = await claim(store);
    expect(item.state.input).toEqual(input);
    const { input: _given, ...withoutInput } = item.state; // a state without its input: the stored one moves all the same
    await store.commit(commitOf(item.state, item.lease.token, {
      state: { ...withoutInput, runtimeStatus: 'Running', version: item.state.version + 1 }, consumedMessageIds: item.messages.map((m) => m.id),
    }));
    expect((await rawRows(name, 'instances'))[0]).toMatchObject({ inputApart: true });
    expect((await rawRows(name, 'instances'))[0]!.state).not.toHaveProperty('input');
    expect(await rawRows(name, 'inputs')).toEqual([{ id: 'a', executionId: 'exec-1', createdMs: T0.getTime(), input }]);
    expect(await store.getInstance('a')).toMatchObject({ runtimeStatus: 'Running', input });
  });
});

// Every lease in the database at an upgrade is held by a tab whose connection the upgrade closed: void.
describe('DexieStore upgrade: the leases of the tabs it closed released', () => {
  const LAYOUT_6 = {
    ...LAYOUT_2, instances: `${LAYOUT_2.instances}, [taskReadyMs+taskOrder], [state.name+createdMs+id], *tagKeys`, raiseKeys: 'id',
  };
  const HOUR = 3_600_000;

  it('opens a layout-6 database whose instance and tasks an older tab leased: a worker of this version claims them at once', async () => {
    const source = uniqueName('leased-source');
    const first = open(source);
    // 'a' claimed for an hour; 'b' with two activity tasks (one kept in its row, one in the tasks table), each leased for an hour.
    await create(first, newInstance('a'));
    await create(first, newInstance('b'));
    expect((await first.claimOrchestration({ owner: 'old-tab', leaseMs: HOUR, now: T0 }))?.state.instanceId).toBe('a');
    const item = (await first.claimOrchestration({ owner: 'old-tab', leaseMs: HOUR, now: T0 }))!;
    expect(item.state.instanceId).toBe('b');
    await first.commit(commitOf(item.state, item.lease.token, {
      state: { ...item.state, runtimeStatus: 'Running', version: item.state.version + 1 },
      history: [started('b')], consumedMessageIds: item.messages.map((m) => m.id), activityTasks: [task('t1', 'b'), task('t2', 'b')],
    }));
    for (const id of ['t1', 't2']) expect((await first.claimActivity({ owner: 'old-tab', leaseMs: HOUR, now: T0 }))?.task.id).toBe(id);
    expect(await first.claimOrchestration({ owner: 'old-tab', leaseMs: HOUR, now: T0 })).toBeUndefined();
    await first.close();
    // The same rows in a database of layout 6 (Dexie version 5), as a tab of that layout left it when the upgrade closed it.
    const [instances, messages, tasks] = await Promise.all(['instances', 'messages', 'tasks'].map((table) => rawRows(source, table)));
    const name = uniqueName('leased-layout-6');
    const db = dexie(name);
    db.version(5).stores(LAYOUT_6);
    await db.open();
    await db.transaction('rw', ['meta', 'instances', 'messages', 'tasks'], async () => {
      await db.table('meta').put({ key: 'schema', version: 6, store: 'durable-rx/dexie' });
      await db.table('instances').bulkPut(instances!.map(({ inputApart: _apart, ...row }) => row));
      await db.table('messages').bulkPut(messages!);
      await db.table('tasks').bulkPut(tasks!);
    });
    db.close();

    const store = adapters.DexieStore(name, { clock: new VirtualClock(T0) });
    opened.push(store);
    const later = new Date(T0.getTime() + 1000);
    expect((await store.claimOrchestration({ owner: 'new-tab', leaseMs: 30_000, now: later }))?.state.instanceId).toBe('a');
    const claimed = [await store.claimActivity({ owner: 'new-tab', leaseMs: 30_000, now: later }), await store.claimActivity({ owner: 'new-tab', leaseMs: 30_000, now: later })];
    expect(claimed.map((w) => w?.task.id).sort()).toEqual(['t1', 't2']);
    expect(await rawVersion(name)).toBe(80);
  });

  it('leaves the leases of a database it does not upgrade', async () => {
    const name = uniqueName('leased-current');
    const first = open(name);
    await create(first, newInstance('a'));
    expect((await first.claimOrchestration({ owner: 'this-version', leaseMs: HOUR, now: T0 }))?.state.instanceId).toBe('a');
    await first.close();
    const store = adapters.DexieStore(name, { clock: new VirtualClock(T0) });
    opened.push(store);
    expect(await store.claimOrchestration({ owner: 'other', leaseMs: 30_000, now: new Date(T0.getTime() + 1000) })).toBeUndefined();
  });
});

describe('DexieStore layout 9: an execution\'s input written once, in its record', () => {
  it('upgrades past a tab of an earlier version open on the database (it closes), and runs the starts it wrote with their input', async () => {
    const input = { rows: Array.from({ length: 50 }, (_, i) => `row ${i}`) };
    const name = uniqueName('layout-2-tab');
    // A start as an earlier layout wrote it: the input in the state and in the start message.
    const start = newInstance('a', input);
    await writeLayout2(name, { instances: [{ ...instanceRow(start.state), readyMs: 0, headSeq: 1, minVisibleMs: 0, pendingCount: 1 }], messages: [{ instanceId: 'a', seq: 1, visibleMs: 0, message: start.message }], tasks: [] });
    const old = await new Promise<IDBDatabase>((resolve, reject) => {
      const request = indexedDB.open(name);
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
    let asked: number | null | undefined;
    old.onversionchange = (event) => {
      asked = event.newVersion;
      old.close();
    };
    const store = open(name);
    const item = await claim(store);
    expect(asked).toBe(80);
    expect(item.state.input).toEqual(input);
    expect(item.messages.map((m) => m.event)).toEqual([start.message.event]);
    // Its first step records the start: without the input now, read back with it.
    await store.commit(commitOf(item.state, item.lease.token, {
      state: { ...item.state, runtimeStatus: 'Running', historyLength: 1, version: item.state.version + 1 },
      history: [item.messages[0]!.event], consumedMessageIds: [item.messages[0]!.id],
    }));
    const [stored] = (await rawRows(name, 'history')).flatMap((row) => row.events as Row[]);
    expect(stored).not.toHaveProperty('input');
    expect(await open(name).getHistory('a')).toEqual([start.message.event]);
    // A new start of another id: its message leaves the input out.
    await create(store, newInstance('b', input));
    const message = (await rawRows(name, 'messages')).find((row) => row.instanceId === 'b')!.message as { event: Row };
    expect(message.event).not.toHaveProperty('input');
    expect((await claim(open(name))).messages[0]!.event).toEqual(newInstance('b', input).message.event);
  });
});

describe('DexieStore layout 10: the end index of listEnded', () => {
  /** The tables of Dexie versions 6 and 7 (layouts 7 to 9): no end index. */
  const LAYOUT_9 = {
    ...LAYOUT_2, instances: `${LAYOUT_2.instances}, [taskReadyMs+taskOrder], [state.name+createdMs+id], *tagKeys`, raiseKeys: 'id', inputs: 'id',
  };

  it('upgrades a layout-9 database with ended instances in it: listEnded lists them in end order from the index built from its rows', async () => {
    // The rows as layout 9 writes them, from a store of this layout: three ended in another order than created, one running.
    const source = uniqueName('layout-10-source');
    const first = open(source);
    const ends = new Map([['a', 3000], ['b', 1000], ['c', 2000], ['d', 500]]);
    for (const id of ends.keys()) await create(first, newInstance(id));
    for (let i = 0; i < ends.size; i++) {
      const item = await claim(first);
      const { instanceId } = item.state;
      await first.commit(commitOf(item.state, item.lease.token, {
        state: {
          ...item.state, runtimeStatus: instanceId === 'd' ? 'Running' : 'Completed',
          lastUpdatedTime: new Date(T0.getTime() + ends.get(instanceId)!), version: item.state.version + 1,
        },
        consumedMessageIds: item.messages.map((m) => m.id),
      }));
    }
    await first.close();
    const instances = await rawRows(source, 'instances');
    const inputs = await rawRows(source, 'inputs');
    const name = uniqueName('layout-9');
    const db = dexie(name);
    db.version(7).stores(LAYOUT_9);
    await db.open();
    await db.transaction('rw', ['meta', 'instances', 'inputs'], async () => {
      await db.table('meta').put({ key: 'schema', version: 9, store: 'durable-rx/dexie' });
      await db.table('instances').bulkPut(instances);
      await db.table('inputs').bulkPut(inputs);
    });
    db.close();

    const store = open(name);
    const list = (after?: { endedMs: number; instanceId: string }) => store.listEnded!({
      runtimeStatus: 'Completed', endedTo: new Date(T0.getTime() + 2500), limit: 10, ...(after ? { after } : {}),
    }).then((states) => states.map((state) => state.instanceId));
    expect(await list()).toEqual(['b', 'c']);
    expect(await list({ endedMs: T0.getTime() + 1000, instanceId: 'b' })).toEqual(['c']);
    expect(await rawVersion(name)).toBe(80);
    expect(await rawRows(name, 'meta')).toEqual([{ key: 'schema', version: DEXIE_SCHEMA_VERSION, store: 'durable-rx/dexie' }]);
    // Rows written since are indexed as they are written, and a purge takes its row out of the index.
    await store.purgeInstance('b');
    expect(await list()).toEqual(['c']);
  });

  it('reads only the rows of the page from the end index, however many instances ended before its key or after its time', async () => {
    const name = uniqueName('end-index-reads');
    const store = open(name);
    const ids = Array.from({ length: 60 }, (_, i) => `e${String(i).padStart(2, '0')}`);
    for (const id of ids) await create(store, newInstance(id));
    for (let i = 0; i < ids.length; i++) {
      const item = await claim(store);
      await store.commit(commitOf(item.state, item.lease.token, {
        state: { ...item.state, runtimeStatus: 'Completed', lastUpdatedTime: new Date(T0.getTime() + 1000 * (i + 1)), version: item.state.version + 1 },
        consumedMessageIds: item.messages.map((m) => m.id),
      }));
    }
    const ended = await Promise.all(ids.map(async (id) => (await store.getInstance(id))!));
    const byEnd = [...ended].sort((x, y) => x.lastUpdatedTime.getTime() - y.lastUpdatedTime.getTime());
    const after = { endedMs: byEnd[29]!.lastUpdatedTime.getTime(), instanceId: byEnd[29]!.instanceId };
    const counter = countIndexedDb();
    try {
      const page = await store.listEnded!({ runtimeStatus: 'Completed', endedTo: byEnd[39]!.lastUpdatedTime, after, limit: 5 });
      expect(page.map((state) => state.instanceId)).toEqual(byEnd.slice(30, 35).map((state) => state.instanceId));
      // One request on the end index, bounded by the page's limit: no cursor walks the 30 before its key or the rest.
      expect(counter.counts()).toMatchObject({ readonly: 1, requests: 1, byMethod: { 'index.getAll': 1 } });
    } finally {
      counter.uninstall();
    }
  });
});

/**
 * Aborts every readwrite transaction in this realm that reads the schema marker, as it reads it, but the first (the
 * store's schema check as it opens): each step of the rebuild fails, so no row gets its keys and the place stays where
 * it is. Until `restore`.
 */
function abortMarkerWritesAfterFirst(): { restore(): void } {
  const get = IDBObjectStore.prototype.get;
  let markerReads = 0;
  IDBObjectStore.prototype.get = function (this: IDBObjectStore, key: IDBValidKey | IDBKeyRange) {
    const request = get.call(this, key);
    if (this.transaction.mode === 'readwrite' && key === 'schema' && ++markerReads > 1) this.transaction.abort();
    return request;
  };
  return { restore: () => (IDBObjectStore.prototype.get = get) };
}
