import { afterEach, describe, expect, it, vi } from 'vitest';
import { SETTLED } from '../../../../test-support/settled.js';
import type { ActivityTask, InstanceState, Lease, OrchestrationMessage, Store, WriteSet } from '@durable-rx/runtime/store-kit';
import { compareEndedKeys, endedKeyOf, matchesEndedQuery } from '@durable-rx/runtime/store-kit';
import type { ExecutionStartedEvent, HistoryEvent } from '@durable-rx/runtime';
import { createStore, setMany } from 'idb-keyval';
import { KEYVAL_DB_VERSION, KEYVAL_SCHEMA_VERSION, MAX_PACKED_TASKS } from '../../src/internal/keyval-backend.js';
import { VirtualClock } from '@durable-rx/runtime/testing';
import { KeyvalStore, type KeyvalStoreOptions } from '../../src/keyval-store.js';
import { countIndexedDb, type IdbCounts } from '../count-idb.js';
import { rowsByTransaction } from '../row-reads.js';
import { createClient, createRuntime, silentLogger, type Orchestrator, type Runtime } from '@durable-rx/runtime';
import {
  allIds, claim, closeAtRebuildStep, commitOf, connectionOf, create, message, newInstance, send, started, T0, uniqueName, upgradeAtRebuildStep,
} from './fixtures.js';

// Layout 6 of KeyvalStore packs an instance's activity tasks into its value, with one ['xp', readyMs, id] entry per
// instance that has tasks. These tests write what layout 5 (or layout-5 code still open in another tab) leaves in the
// database with the raw IndexedDB API, and check that this layout reads, repairs and runs it.

const STORE = 'durable-rx';
const opened: KeyvalStore[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((s) => s.close()));
});
function open(name: string, options: Omit<KeyvalStoreOptions, 'name'> = {}): KeyvalStore {
  const store = new KeyvalStore({ name, ...options });
  opened.push(store);
  return store;
}

function task(id: string, instanceId = 'a'): ActivityTask {
  return { id, instanceId, executionId: 'exec-1', name: 'Act', taskScheduledId: 0, attempt: 1 };
}

function lease(token: string, expiresAtMs: number): Lease {
  return { owner: 'w', token, expiresAt: new Date(expiresAtMs) };
}

/** Claims 'a' (after a nudge when it has no pending message) and commits a step that deletes and inserts tasks. */
async function step(store: KeyvalStore, parts: { deleteTaskId?: string; insert?: { task: ActivityTask; lease?: Lease } }): Promise<void> {
  const current = await store.getInstance('a');
  if (current?.runtimeStatus !== 'Pending') await send(store, message('a', { type: 'EventRaised', eventId: -1, timestamp: T0.toISOString(), name: 'tick' }));
  const item = await claim(store);
  const writeSet: WriteSet = {
    lease: { kind: 'orchestration', instanceId: 'a', token: item.lease.token },
    requests: [
      { type: 'replaceState', state: { ...item.state, runtimeStatus: 'Running', version: item.state.version + 1 } },
      { type: 'deleteMessages', instanceId: 'a', messageIds: item.messages.map((m) => m.id) },
      ...(parts.deleteTaskId ? [{ type: 'deleteTask' as const, taskId: parts.deleteTaskId }] : []),
      ...(parts.insert ? [{ type: 'insertTask' as const, task: parts.insert.task, ...(parts.insert.lease ? { lease: parts.insert.lease } : {}) }] : []),
    ],
  };
  await store.commit(writeSet);
}

/** The result of task `taskId` of instance `instanceId` delivered under its activity lease (no fused step). */
function completion(taskId: string, token: string, instanceId = 'a'): WriteSet {
  return {
    lease: { kind: 'activity', taskId, token },
    requests: [
      { type: 'deleteTask', taskId },
      {
        type: 'insertMessage', ifMissing: 'drop',
        message: message(instanceId, { type: 'TaskCompleted', eventId: -1, timestamp: T0.toISOString(), taskScheduledId: 0, result: 'done' }),
      },
    ],
  };
}

/** The `xp` entries as (prefix, readyMs, instance id), checking each has the task's seq between those (layout 7). */
function taskEntries(keys: readonly IDBValidKey[][]): IDBValidKey[][] {
  const entries = keys.filter(([prefix]) => prefix === 'xp');
  for (const key of entries) expect(typeof key[2]).toBe('number');
  return entries.map((key) => [key[0]!, key[1]!, key[3]!]);
}

describe('KeyvalStore layout 6: activity tasks packed into their instance', () => {
  it('opens a layout-5 database and claims, completes and deletes the task row layout 5 left', async () => {
    const name = uniqueName('layout-5');
    const first = new KeyvalStore({ name });
    await create(first, newInstance('a'));
    await first.close();
    // Layout 5 kept each task as a row of its own with an entry in the task claim order.
    await rawWrite(name, (raw) => {
      raw.put({ version: 5, store: 'durable-rx/keyval' }, ['meta']);
      raw.put({ seq: 3, id: 't1', instanceId: 'a', readyMs: 0, task: task('t1') }, ['t', 't1']);
      raw.put(0, ['xt', 0, 3, 't1']);
    });

    const store = open(name);
    expect(await store.nextWakeTime(T0)).toEqual(new Date(0));
    const claimed = await store.claimActivity({ owner: 'w', leaseMs: 1000, now: T0 });
    expect(claimed?.task.id).toBe('t1');
    await store.commit(completion('t1', claimed!.lease.token));
    const item = await claim(store);
    expect(item.messages.map((m) => m.event.type)).toEqual(['ExecutionStarted', 'TaskCompleted']);
    await rebuilt(name);
    await store.close();

    const keys = await rawKeys(name);
    expect(keys.filter(([prefix]) => prefix === 't' || prefix === 'xt' || prefix === 'xp')).toEqual([]);
    expect(KEYVAL_SCHEMA_VERSION).toBe(16);
  });

  it('keeps a task out of the ranges layout-5 code reads, and keeps it through a row that code rewrote', async () => {
    const name = uniqueName('older-tab-tasks');
    const store = open(name);
    await create(store, newInstance('a'));
    await step(store, { insert: { task: task('t1') } });
    // Layout-5 code still open in another tab claims tasks from the 'xt' range and reads them under 't'.
    const keys = await rawKeys(name);
    expect(keys.filter(([prefix]) => prefix === 't' || prefix === 'xt')).toEqual([]);
    expect(taskEntries(keys)).toEqual([['xp', 0, 'a']]);
    // It rewrites the instance row by spreading what it read (here: a new custom status), so the tasks stay.
    const row = await rawGet(name, ['i', 'a']) as { state: object };
    await rawWrite(name, (raw) => raw.put({ ...row, state: { ...row.state, customStatus: 'older tab' } }, ['i', 'a']));
    expect((await store.claimActivity({ owner: 'w', leaseMs: 1000, now: T0 }))?.task.id).toBe('t1');
    expect(await store.getInstance('a')).toMatchObject({ customStatus: 'older tab' });
  });

  it('deletes the task entry of an instance that layout-5 code purged, without claiming anything', async () => {
    const name = uniqueName('older-tab-purge');
    const store = open(name);
    await create(store, newInstance('a'));
    await step(store, { insert: { task: task('t1'), lease: lease('k1', T0.getTime() + 1000) } });
    expect(taskEntries(await rawKeys(name))).toEqual([['xp', T0.getTime() + 1000, 'a']]);
    // Layout-5 code deleted the instance row (and the task rows it knows of), leaving the entry behind.
    await rawWrite(name, (raw) => raw.delete(['i', 'a']));
    expect(await store.nextWakeTime(T0)).toEqual(new Date(T0.getTime() + 1000));
    expect(await store.claimActivity({ owner: 'w', leaseMs: 1000, now: new Date(T0.getTime() + 5000) })).toBeUndefined();
    expect(taskEntries(await rawKeys(name))).toEqual([]);
    expect(await store.nextWakeTime(T0)).toBeUndefined();
  });

  it('leaves the task entry early while steps replace leased tasks, and moves it when a claim finds it early', async () => {
    const name = uniqueName('early-entry');
    const store = open(name);
    await create(store, newInstance('a'));
    // Leases in the future of the real clock: an entry that is not yet due may stay early.
    const first = Date.now() + 600_000;
    const second = first + 1000;
    await step(store, { insert: { task: task('t1'), lease: lease('k1', first) } });
    await step(store, { deleteTaskId: 't1', insert: { task: task('t2'), lease: lease('k2', second) } });
    // The step wrote no entry: the one of t1 still stands for t2, whose lease ends later.
    expect(taskEntries(await rawKeys(name))).toEqual([['xp', first, 'a']]);
    expect(await store.nextWakeTime(T0)).toEqual(new Date(first));
    // A claim at that time finds t2 still leased: it moves the entry to t2's lease expiry and claims nothing.
    expect(await store.claimActivity({ owner: 'x', leaseMs: 1000, now: new Date(first + 1) })).toBeUndefined();
    expect(taskEntries(await rawKeys(name))).toEqual([['xp', second, 'a']]);
    expect(await store.nextWakeTime(T0)).toEqual(new Date(second));
    const taken = await store.claimActivity({ owner: 'x', leaseMs: 1000, now: new Date(second + 1) });
    expect(taken?.task.id).toBe('t2');
    // The new lease is renewed and abandoned by task id alone (no instance id at hand).
    await store.renewActivityLease('t2', taken!.lease.token, new Date(second + 5000));
    expect(taskEntries(await rawKeys(name))).toEqual([['xp', second + 5000, 'a']]);
    await store.abandonActivity('t2', taken!.lease.token);
    expect((await store.claimActivity({ owner: 'y', leaseMs: 1000, now: T0 }))?.task.id).toBe('t2');
  });

  it('tells an entry still in the future by the store\'s clock, not the system clock', async () => {
    const name = uniqueName('early-entry-clock');
    // The store's clock stands at T0, long before the system clock: leases from T0 on are in its future.
    const store = open(name, { clock: new VirtualClock(T0) });
    await create(store, newInstance('a'));
    const first = T0.getTime() + 600_000;
    const second = first + 1000;
    expect(first).toBeLessThan(Date.now());
    await step(store, { insert: { task: task('t1'), lease: lease('k1', first) } });
    await step(store, { deleteTaskId: 't1', insert: { task: task('t2'), lease: lease('k2', second) } });
    // Not yet due by the store's clock: the step left the entry of t1 standing for t2 (by the system clock, long past,
    // it would have moved it).
    expect(taskEntries(await rawKeys(name))).toEqual([['xp', first, 'a']]);
    const taken = await store.claimActivity({ owner: 'x', leaseMs: 1000, now: new Date(second + 1) });
    expect(taken?.task.id).toBe('t2');
  });

  it('renews and abandons, by task id alone, a lease another handle took (it did not see which instance holds the task)', async () => {
    const name = uniqueName('other-handle-lease');
    const leaser = open(name);
    const other = open(name);
    for (const id of ['a', 'b', 'c']) await create(leaser, newInstance(id));
    await step(leaser, { insert: { task: task('t1'), lease: lease('k1', T0.getTime() + 30_000) } });
    await other.renewActivityLease('t1', 'k1', new Date(T0.getTime() + 60_000));
    // Renewed: not claimable once the first lease would have expired.
    expect(await leaser.claimActivity({ owner: 'y', leaseMs: 1000, now: new Date(T0.getTime() + 40_000) })).toBeUndefined();
    await expect(other.renewActivityLease('t1', 'not-the-token', new Date(T0.getTime() + 90_000))).rejects.toMatchObject({ code: 'lease-lost' });
    await other.abandonActivity('t1', 'k1');
    expect((await leaser.claimActivity({ owner: 'y', leaseMs: 1000, now: T0 }))?.task.id).toBe('t1');
  });
});

describe('KeyvalStore layout 7: task claim order by the first task of each instance', () => {
  /** 'zzz' schedules one task, then 'aaa' schedules 20 (all ready at once). */
  async function fanOut(name: string): Promise<void> {
    const store = new KeyvalStore({ name });
    for (const [id, count] of [['zzz', 1], ['aaa', 20]] as const) {
      await create(store, newInstance(id));
      const item = await claim(store);
      await store.commit({
        lease: { kind: 'orchestration', instanceId: id, token: item.lease.token },
        requests: [
          { type: 'replaceState', state: { ...item.state, runtimeStatus: 'Running', version: item.state.version + 1 } },
          { type: 'deleteMessages', instanceId: id, messageIds: item.messages.map((m) => m.id) },
          ...Array.from({ length: count }, (_, i) => ({ type: 'insertTask' as const, task: task(`${id}-${i + 1}`, id) })),
        ],
      });
    }
    await store.close();
  }

  /** Rewrites the task entries and instance values as layout 6 (or layout-6 code in another tab) writes them. */
  async function asLayout6(name: string, meta: number): Promise<void> {
    const entries = (await rawKeys(name)).filter(([prefix]) => prefix === 'xp');
    const values = await Promise.all(entries.map((key) => rawGet(name, ['i', key[3]!]) as Promise<{ tasksSeq?: number }>));
    await rawWrite(name, (raw) => {
      raw.put({ version: meta, store: 'durable-rx/keyval' }, ['meta']);
      entries.forEach((key, i) => {
        raw.delete(key);
        raw.put(0, ['xp', key[1]!, key[3]!]);
        const { tasksSeq: _, ...value } = values[i]!;
        raw.put(value, ['i', key[3]!]);
      });
    });
  }

  async function claimOrder(store: KeyvalStore): Promise<string[]> {
    const claimed: string[] = [];
    for (;;) {
      const work = await store.claimActivity({ owner: 'w', leaseMs: 60_000, now: T0 });
      if (!work) return claimed;
      claimed.push(work.task.id);
    }
  }

  it('opens a layout-6 database and moves each entry to its instance\'s first task: the oldest task is claimed first', async () => {
    const name = uniqueName('layout-6');
    await fanOut(name);
    await asLayout6(name, 6);
    expect((await rawKeys(name)).filter(([prefix]) => prefix === 'xp')).toEqual([['xp', 0, 'aaa'], ['xp', 0, 'zzz']]);
    const store = open(name);
    await store.nextWakeTime(T0);
    expect(taskEntries(await rawKeys(name))).toEqual([['xp', 0, 'zzz'], ['xp', 0, 'aaa']]);
    const order = await claimOrder(store);
    expect(order[0]).toBe('zzz-1');
    expect(order).toHaveLength(21);
  });

  it('replaces the entries layout-6 code in another tab wrote before it claims from any of them', async () => {
    const name = uniqueName('layout-6-tab');
    await fanOut(name);
    await asLayout6(name, KEYVAL_SCHEMA_VERSION);
    const store = open(name);
    const order = await claimOrder(store);
    expect(order[0]).toBe('zzz-1');
    expect(order).toHaveLength(21);
    expect(taskEntries(await rawKeys(name))).toEqual([['xp', T0.getTime() + 60_000, 'zzz'], ['xp', T0.getTime() + 60_000, 'aaa']]);
  });
});

describe('KeyvalStore layout 8: tasks beyond the packed ones as rows of their own', () => {
  const input = 'x'.repeat(1024);

  /** Claims instance `id` (started, or nudged) and commits a step that schedules `count` tasks of 1 KB input (ids `<id>-<n>`), and ends it with `status`. */
  async function fanOut(store: KeyvalStore, id: string, count: number, status: 'Running' | 'Terminated' = 'Running'): Promise<void> {
    if ((await store.getInstance(id))?.runtimeStatus !== 'Pending') {
      await send(store, message(id, { type: 'EventRaised', eventId: -1, timestamp: T0.toISOString(), name: 'tick' }));
    }
    const item = await claim(store);
    await store.commit({
      lease: { kind: 'orchestration', instanceId: id, token: item.lease.token },
      requests: [
        { type: 'replaceState', state: { ...item.state, runtimeStatus: status, version: item.state.version + 1 } },
        { type: 'deleteMessages', instanceId: id, messageIds: item.messages.map((m) => m.id) },
        ...Array.from({ length: count }, (_, i) => ({ type: 'insertTask' as const, task: { ...task(`${id}-${i + 1}`, id), input } })),
      ],
    });
  }

  /** Claims every ready task, one by one, in claim order. */
  async function claimAll(store: KeyvalStore): Promise<{ task: ActivityTask; lease: Lease }[]> {
    const claimed: { task: ActivityTask; lease: Lease }[] = [];
    for (;;) {
      const work = await store.claimActivity({ owner: 'w', leaseMs: 60_000, now: T0 });
      if (!work) return claimed;
      claimed.push(work);
    }
  }

  function taskKeys(keys: readonly IDBValidKey[][]): IDBValidKey[][] {
    return keys.filter(([prefix]) => prefix === 't' || prefix === 'xt' || prefix === 'xi' || prefix === 'xp');
  }

  it('claims and completes each task of a fan-out with the same requests and about the same bytes, whatever its size', async () => {
    const counter = countIndexedDb();
    try {
      const perTask: number[] = [];
      const lastClaim: IdbCounts[] = [];
      const lastCompletion: IdbCounts[] = [];
      for (const size of [40, 160]) {
        const store = open(uniqueName('fan-out'));
        await create(store, newInstance('a'));
        await fanOut(store, 'a', size);
        counter.reset();
        let claimed: { task: ActivityTask; lease: Lease }[] = [];
        for (;;) {
          const before = counter.counts();
          const work = await store.claimActivity({ owner: 'w', leaseMs: 60_000, now: T0 });
          if (!work) break;
          claimed = [...claimed, work];
          lastClaim[perTask.length] = minus(counter.counts(), before);
        }
        for (const { task: { id }, lease: { token } } of claimed) {
          const before = counter.counts();
          await store.commit(completion(id, token));
          lastCompletion[perTask.length] = minus(counter.counts(), before);
        }
        perTask.push(counter.counts().bytesWritten / size);
        expect(claimed.map((w) => w.task.id)).toEqual(Array.from({ length: size }, (_, i) => `a-${i + 1}`));
        expect((await claim(store)).messages).toHaveLength(size);
      }
      // Packed into the instance's value (layout 7), the last claim of 160 tasks rewrote 160 KB of tasks, and the whole
      // fan-out wrote 4 times as much per task as one of 40.
      expect(perTask[1]).toBeLessThanOrEqual(perTask[0]!);
      for (const last of [lastClaim, lastCompletion]) {
        expect(last[1]!.requests).toBe(last[0]!.requests);
        expect(last[1]!.bytesWritten).toBeLessThan(last[0]!.bytesWritten * 1.05);
        expect(last[1]!.bytesWritten).toBeLessThan(2 * input.length);
      }
    } finally {
      counter.uninstall();
    }
  });

  it('opens a layout-7 database whose instance packs 30 tasks, keeps 8 of them packed, and claims and completes all oldest first', async () => {
    const name = uniqueName('layout-7');
    const first = new KeyvalStore({ name });
    await create(first, newInstance('a'));
    await fanOut(first, 'a', 0);
    await first.close();
    // Layout 7 packed every task into the instance's value, with one entry at the first; a task row of layout 5 (without
    // an entry of its instance) may be left from before.
    const tasks = Array.from({ length: 30 }, (_, i) => ({ seq: 1000 + i, id: `p${i}`, instanceId: 'a', readyMs: 0, task: { ...task(`p${i}`), input } }));
    const row = await rawGet(name, ['i', 'a']) as object;
    await rawWrite(name, (raw) => {
      raw.put({ version: 7, store: 'durable-rx/keyval' }, ['meta']);
      raw.put({ ...row, tasks: [...tasks].reverse(), tasksReadyMs: 0, tasksSeq: 1000 }, ['i', 'a']);
      raw.put(0, ['xp', 0, 1000, 'a']);
      raw.put({ seq: 3, id: 'old', instanceId: 'a', readyMs: 0, task: task('old') }, ['t', 'old']);
      raw.put(0, ['xt', 0, 3, 'old']);
    });

    const store = open(name);
    expect(await store.nextWakeTime(T0)).toEqual(new Date(0));
    const stored = await rawGet(name, ['i', 'a']) as { tasks: { id: string }[] };
    expect(stored.tasks.map((t) => t.id)).toEqual(tasks.slice(0, MAX_PACKED_TASKS).map((t) => t.id));
    const keys = await rawKeys(name);
    expect(keys.filter(([prefix]) => prefix === 'xi').map(lastOfKey).sort()).toEqual(['old', ...tasks.slice(MAX_PACKED_TASKS).map((t) => t.id)].sort());
    expect(keys.filter(([prefix]) => prefix === 't')).toHaveLength(30 - MAX_PACKED_TASKS + 1);

    const claimed = await claimAll(store);
    expect(claimed.map((w) => w.task.id)).toEqual(['old', ...tasks.map((t) => t.id)]);
    for (const { task: { id }, lease: { token } } of claimed) await store.commit(completion(id, token));
    expect((await claim(store)).messages).toHaveLength(31);
    expect(taskKeys(await rawKeys(name))).toEqual([]);
    await rebuilt(name);
  });

  it('turns the tasks that layout-7 code in another tab packs beyond 8 into rows when it next writes the instance', async () => {
    const name = uniqueName('layout-7-tab');
    const store = open(name);
    await create(store, newInstance('a'));
    await fanOut(store, 'a', 1);
    // Layout-7 code packs 20 more tasks into the value (its entry stays at the first task, which is older).
    const row = await rawGet(name, ['i', 'a']) as { tasks: { seq: number }[] };
    const more = Array.from({ length: 20 }, (_, i) => ({ seq: row.tasks[0]!.seq + 1 + i, id: `q${i}`, instanceId: 'a', readyMs: 0, task: task(`q${i}`) }));
    await rawWrite(name, (raw) => raw.put({ ...row, tasks: [...row.tasks, ...more] }, ['i', 'a']));
    const claimed = await claimAll(store);
    expect(claimed.map((w) => w.task.id)).toEqual(['a-1', ...more.map((t) => t.id)]);
    const stored = await rawGet(name, ['i', 'a']) as { tasks: { id: string }[] };
    expect(stored.tasks).toHaveLength(MAX_PACKED_TASKS);
    expect((await rawKeys(name)).filter(([prefix]) => prefix === 'xi')).toHaveLength(21 - MAX_PACKED_TASKS);
  });

  it('purges an instance with its task rows, and leaves those of another instance', async () => {
    const name = uniqueName('purge-rows');
    const store = open(name);
    for (const id of ['a', 'b']) {
      await create(store, newInstance(id));
      await fanOut(store, id, 12);
    }
    await fanOut(store, 'a', 0, 'Terminated');
    expect(await store.purgeInstance('a')).toBe(1);
    const keys = taskKeys(await rawKeys(name));
    expect(keys.every((key) => !key.includes('a') && !lastOfKey(key).startsWith('a-'))).toBe(true);
    expect(keys.filter(([prefix]) => prefix === 'xi')).toHaveLength(12 - MAX_PACKED_TASKS);
    const claimed = await claimAll(store);
    expect(claimed.map((w) => w.task.id)).toEqual(Array.from({ length: 12 }, (_, i) => `b-${i + 1}`));
    for (const { task: { id }, lease: { token } } of claimed) await store.commit(completion(id, token, 'b'));
    expect(taskKeys(await rawKeys(name))).toEqual([]);
  });
});

/** What a counter counted between two readings. */
function minus(after: IdbCounts, before: IdbCounts): IdbCounts {
  return { ...after, requests: after.requests - before.requests, bytesWritten: after.bytesWritten - before.bytesWritten };
}

function lastOfKey(key: readonly IDBValidKey[]): string {
  return key[key.length - 1] as string;
}

function rawOpen(name: string): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(name);
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

function done(transaction: IDBTransaction): Promise<void> {
  return new Promise((resolve, reject) => {
    transaction.oncomplete = () => resolve();
    transaction.onerror = () => reject(transaction.error);
    transaction.onabort = () => reject(transaction.error);
  });
}

async function rawWrite(name: string, write: (raw: IDBObjectStore) => void): Promise<void> {
  const db = await rawOpen(name);
  try {
    const tx = db.transaction(STORE, 'readwrite');
    write(tx.objectStore(STORE));
    await done(tx);
  } finally {
    db.close();
  }
}

async function rawRead<T>(name: string, read: (raw: IDBObjectStore) => IDBRequest): Promise<T> {
  const db = await rawOpen(name);
  try {
    const tx = db.transaction(STORE, 'readonly');
    const request = read(tx.objectStore(STORE));
    await done(tx);
    return request.result as T;
  } finally {
    db.close();
  }
}

function rawKeys(name: string): Promise<IDBValidKey[][]> {
  return rawRead(name, (raw) => raw.getAllKeys());
}

function rawGet(name: string, key: IDBValidKey): Promise<unknown> {
  return rawRead(name, (raw) => raw.get(key));
}

/**
 * Aborts the second readwrite transaction in this realm that reads the layout marker, as it reads it (the first is a
 * store's layout check as it opens, the second the first step of its rebuild of the name and tag entries), until
 * `restore`.
 */
function abortSecondMarkerWrite(): { readonly aborted: boolean; restore(): void } {
  const get = IDBObjectStore.prototype.get;
  let reads = 0;
  const watch = {
    aborted: false,
    restore: () => (IDBObjectStore.prototype.get = get),
  };
  IDBObjectStore.prototype.get = function (this: IDBObjectStore, key: IDBValidKey | IDBKeyRange) {
    const request = get.call(this, key);
    if (this.transaction.mode === 'readwrite' && Array.isArray(key) && key.length === 1 && key[0] === 'meta' && ++reads === 2) {
      this.transaction.abort();
      watch.aborted = true;
    }
    return request;
  };
  return watch;
}

/**
 * Closes the connection of the second readwrite transaction in this realm that reads the layout marker, as it reads it,
 * as the browser closes one (the first is a store's layout check as it opens, the second the first step of its rebuild
 * of the name and tag entries): fake-indexeddb's forceCloseDatabase, else `close()` and a `close` event. Until `restore`.
 */
async function closeAtSecondMarkerWrite(): Promise<{ readonly closed: boolean; restore(): void }> {
  // Imported beforehand: an import may take tasks.
  const { forceCloseDatabase } = typeof window === 'undefined' ? await import('fake-indexeddb') : { forceCloseDatabase: undefined };
  const get = IDBObjectStore.prototype.get;
  let reads = 0;
  const watch = { closed: false, restore: () => (IDBObjectStore.prototype.get = get) };
  IDBObjectStore.prototype.get = function (this: IDBObjectStore, key: IDBValidKey | IDBKeyRange) {
    const request = get.call(this, key);
    if (this.transaction.mode === 'readwrite' && Array.isArray(key) && key.length === 1 && key[0] === 'meta' && ++reads === 2) {
      const connection = this.transaction.db;
      connection.addEventListener('close', () => (watch.closed = true));
      if (forceCloseDatabase) forceCloseDatabase(connection as unknown as Parameters<typeof forceCloseDatabase>[0]);
      else {
        connection.close();
        connection.dispatchEvent(new Event('close'));
      }
    }
    return request;
  };
  return watch;
}

/**
 * Aborts every readwrite transaction in this realm that reads the layout marker, as it reads it, but the first (a
 * store's layout check as it opens): each step of a rebuild of the name and tag entries fails, as it does while the
 * origin's storage is full. Counts the aborted ones until `restore`.
 */
function abortMarkerWritesAfterFirst(): { count(): number; restore(): void } {
  const get = IDBObjectStore.prototype.get;
  let reads = 0;
  IDBObjectStore.prototype.get = function (this: IDBObjectStore, key: IDBValidKey | IDBKeyRange) {
    const request = get.call(this, key);
    if (this.transaction.mode === 'readwrite' && Array.isArray(key) && key.length === 1 && key[0] === 'meta' && ++reads > 1) {
      this.transaction.abort();
    }
    return request;
  };
  return { count: () => Math.max(0, reads - 1), restore: () => (IDBObjectStore.prototype.get = get) };
}

/**
 * Counts the instance rows (`['i', id]`) read by readonly transactions in this realm (a listing's, not the rebuild's
 * steps), by watching the object stores' `get` until `uninstall`.
 */
function readsOfRows(): { count(): number; uninstall(): void } {
  const get = IDBObjectStore.prototype.get;
  let count = 0;
  IDBObjectStore.prototype.get = function (this: IDBObjectStore, key: IDBValidKey | IDBKeyRange) {
    if (this.transaction.mode === 'readonly' && Array.isArray(key) && key[0] === 'i') count++;
    return get.call(this, key);
  };
  return { count: () => count, uninstall: () => (IDBObjectStore.prototype.get = get) };
}

/**
 * Watches the reads of instance rows by key range in readonly transactions in this realm (a page of listEnded read over
 * several transactions makes one a transaction), until `uninstall`: `counts` holds how many rows each asked for
 * (`undefined`: all in its range), and `onRead` runs as each is made, with the number of reads so far.
 */
function rowReads(onRead: (reads: number) => void = () => {}): { readonly counts: (number | undefined)[]; uninstall(): void } {
  const getAll = IDBObjectStore.prototype.getAll;
  const counts: (number | undefined)[] = [];
  IDBObjectStore.prototype.getAll = function (this: IDBObjectStore, query?: IDBValidKey | IDBKeyRange | null, count?: number) {
    if (this.transaction.mode === 'readonly' && query instanceof IDBKeyRange && Array.isArray(query.lower) && query.lower[0] === 'i') onRead(counts.push(count));
    return getAll.call(this, query, count);
  };
  return { counts, uninstall: () => (IDBObjectStore.prototype.getAll = getAll) };
}

/** Counts the end entries (`['xe', ...]`) put in this realm, by watching the object stores' `put` until `uninstall`. */
function endEntryPuts(): { count(): number; uninstall(): void } {
  const put = IDBObjectStore.prototype.put;
  let count = 0;
  IDBObjectStore.prototype.put = function (this: IDBObjectStore, value: unknown, key?: IDBValidKey) {
    if (Array.isArray(key) && key[0] === 'xe') count++;
    return put.call(this, value, key);
  };
  return { count: () => count, uninstall: () => (IDBObjectStore.prototype.put = put) };
}

/**
 * Waits until the marker of database `name` is this layout's with no rebuild under way (of the name and tag entries, or
 * of the end entries): a store that opened an older layout runs those after the open, in steps of its own.
 */
async function rebuilt(name: string): Promise<void> {
  await vi.waitFor(async () => {
    expect(await rawGet(name, ['meta'])).toEqual({ version: KEYVAL_SCHEMA_VERSION, store: 'durable-rx/keyval' });
  }, { timeout: SETTLED.timeoutMs });
}

// Layout 9 keeps an entry ['xn', name, createdMs, id] per instance for the list's name filter.
describe('KeyvalStore layout 9: paging entries per orchestrator name', () => {
  it('opens a layout-8 database, gives each instance its name entry, and lists by name newest first', async () => {
    const name = uniqueName('layout-8');
    const first = open(name);
    for (const [i, orchestrator] of ['Orders', 'Billing', 'Orders', 'orders'].entries()) {
      const request = newInstance(`n-${i}`);
      const createdTime = new Date(T0.getTime() + i * 1000);
      await create(first, { ...request, state: { ...request.state, name: orchestrator, createdTime, lastUpdatedTime: createdTime } });
    }
    await first.close();
    // What layout 8 left: no name entries.
    await rawWrite(name, (raw) => {
      raw.put({ version: 8, store: 'durable-rx/keyval' }, ['meta']);
      raw.delete(IDBKeyRange.bound(['xn'], ['xn', []]));
    });
    expect((await rawKeys(name)).filter(([prefix]) => prefix === 'xn')).toEqual([]);

    const store = open(name);
    const ids = async (query: Parameters<KeyvalStore['queryInstances']>[0]) => (await store.queryInstances(query)).instances.map((s) => s.instanceId);
    expect(await ids({ name: ['Orders'], order: 'desc' })).toEqual(['n-2', 'n-0']);
    expect(await ids({ name: ['orders', 'Billing'] })).toEqual(['n-1', 'n-3']);
    await rebuilt(name);
    await store.close();
    const keys = (await rawKeys(name)).filter(([prefix]) => prefix === 'xn');
    expect(keys).toEqual([
      ['xn', 'Billing', T0.getTime() + 1000, 'n-1'], ['xn', 'Orders', T0.getTime(), 'n-0'], ['xn', 'Orders', T0.getTime() + 2000, 'n-2'],
      ['xn', 'orders', T0.getTime() + 3000, 'n-3'],
    ]);
  });
});

describe('KeyvalStore layout 9 next to layout-8 code still open in another tab', () => {
  it('lists by name without a gap when such a tab started an instance again at a later createdTime (its name entry left behind)', async () => {
    const name = uniqueName('layout-8-tab');
    const store = open(name);
    for (const [i, id] of ['a', 'x', 'b', 'c'].entries()) {
      const request = newInstance(id);
      const createdTime = new Date(T0.getTime() + i * 1000);
      await create(store, { ...request, state: { ...request.state, runtimeStatus: 'Completed', createdTime, lastUpdatedTime: createdTime } });
    }
    await store.close();
    // What layout-8 code does starting 'x' again, later: its row and `xc` entry move; its `xn` entry stays where it was.
    const restartedMs = T0.getTime() + 9000;
    const row = await rawGet(name, ['i', 'x']) as { createdMs: number; state: { createdTime: Date; lastUpdatedTime: Date; executionId: string } };
    await rawWrite(name, (raw) => {
      raw.put({
        ...row, createdMs: restartedMs,
        state: { ...row.state, runtimeStatus: 'Pending', createdTime: new Date(restartedMs), lastUpdatedTime: new Date(restartedMs), executionId: 'exec-2' },
      }, ['i', 'x']);
      raw.delete(['xc', row.createdMs, 'x']);
      raw.put(0, ['xc', restartedMs, 'x']);
    });
    const reopened = open(name);
    for (const order of ['asc', 'desc'] as const) {
      const seen = await allIds(reopened, { name: ['Orch'], order, pageSize: 2 });
      // Every instance whose entry is its own, once and in order; never one listed out of its place, skipping others.
      expect(seen).toEqual(order === 'asc' ? ['a', 'b', 'c'] : ['c', 'b', 'a']);
    }
  });
});

// Layout 10 keeps the keys of an instance's keyed raises under ['k', id] instead of in its state.
describe('KeyvalStore layout 10: the keys of keyed raises in a value of their own', () => {
  const raised = (item: Awaited<ReturnType<typeof claim>>) => item.messages.filter((m) => m.event.type === 'EventRaised').map((m) => (m.event as { input?: unknown }).input);
  type StoredRow = { state: Record<string, unknown> };

  it('opens a layout-9 database whose instance keeps keys in its state: they still count, stay in the state while new keys go to the record, and go with a purge', async () => {
    const name = uniqueName('layout-9');
    const first = open(name);
    await create(first, newInstance('a', { rows: Array.from({ length: 100 }, (_, i) => i) }));
    await first.close();
    // What layout 9 left: the keys in the state, no record.
    const row = await rawGet(name, ['i', 'a']) as StoredRow;
    await rawWrite(name, (raw) => {
      raw.put({ version: 9, store: 'durable-rx/keyval' }, ['meta']);
      raw.put({ ...row, state: { ...row.state, raisedEventKeys: ['old'] } }, ['i', 'a']);
    });

    const store = open(name);
    const client = createClient({ store });
    await client.raiseEvent('a', 'go', 'repeat', { idempotencyKey: 'old' });
    await client.raiseEvent('a', 'go', 'new', { idempotencyKey: 'new' });
    await client.raiseEvent('a', 'go', 'repeat', { idempotencyKey: 'old' });
    await client.raiseEvent('a', 'go', 'repeat', { idempotencyKey: 'new' });
    expect(await rawGet(name, ['k', 'a'])).toEqual(['new']);
    expect((await rawGet(name, ['i', 'a']) as StoredRow).state).toHaveProperty('raisedEventKeys', ['old']);
    await rebuilt(name);
    // A keyed raise now writes the key to the record alone: the state in the instance's value stays as it was (the
    // value itself takes the message's number, as for any message).
    const before = await rawGet(name, ['i', 'a']) as StoredRow;
    await client.raiseEvent('a', 'go', 'third', { idempotencyKey: 'third' });
    expect((await rawGet(name, ['i', 'a']) as StoredRow).state).toEqual(before.state);
    expect(await rawGet(name, ['k', 'a'])).toEqual(['new', 'third']);

    const item = await claim(store);
    expect(raised(item)).toEqual(['new', 'third']);
    await store.commit(commitOf(item.state, item.lease.token, {
      state: { ...item.state, runtimeStatus: 'Completed', version: item.state.version + 1 }, consumedMessageIds: item.messages.map((m) => m.id),
    }));
    expect(await store.purgeInstance('a')).toBe(1);
    expect(await rawGet(name, ['k', 'a'])).toBeUndefined();
  });

  it('counts the keys layout-9 code still open in another tab keeps in the state, with those of the record, and leaves them in the state', async () => {
    const name = uniqueName('layout-9-tab');
    const store = open(name);
    await create(store, newInstance('a'));
    const client = createClient({ store });
    await client.raiseEvent('a', 'go', 'here', { idempotencyKey: 'here' });
    // That tab's keyed raise: its message, and its key in the state.
    const row = await rawGet(name, ['i', 'a']) as StoredRow;
    await rawWrite(name, (raw) => raw.put({ ...row, state: { ...row.state, raisedEventKeys: ['there'] } }, ['i', 'a']));
    await client.raiseEvent('a', 'go', 'repeat', { idempotencyKey: 'there' });
    await client.raiseEvent('a', 'go', 'repeat', { idempotencyKey: 'here' });
    await client.raiseEvent('a', 'go', 'next', { idempotencyKey: 'next' });
    expect(raised(await claim(store))).toEqual(['here', 'next']);
    expect(await rawGet(name, ['k', 'a'])).toEqual(['here', 'next']);
    // The key that tab raised stays where that tab reads it, so a repeat of its raise there is no delivery either.
    expect((await rawGet(name, ['i', 'a']) as StoredRow).state).toHaveProperty('raisedEventKeys', ['there']);
  });
});

// Layout 11 keeps an entry ['xg', key, value, createdMs, id] per tag pair of each instance for the list's tag filter.
describe('KeyvalStore layout 11: paging entries per tag pair', () => {
  const tagged = async (name: string, tags: readonly (Record<string, string> | undefined)[], status?: 'Completed') => {
    const store = open(name);
    for (const [i, each] of tags.entries()) {
      const request = newInstance(`g-${i}`);
      const createdTime = new Date(T0.getTime() + i * 1000);
      await create(store, {
        ...request, state: { ...request.state, createdTime, lastUpdatedTime: createdTime, ...(status ? { runtimeStatus: status } : {}), ...(each ? { tags: each } : {}) },
      });
    }
    await store.close();
  };

  it('opens a layout-10 database, gives each instance with tags its tag entries, and lists by tags across pages', async () => {
    const name = uniqueName('layout-10');
    await tagged(name, [{ tenant: 'acme', region: 'eu' }, { tenant: 'globex' }, undefined, { tenant: 'acme' }]);
    // What layout 10 left: no tag entries.
    await rawWrite(name, (raw) => {
      raw.put({ version: 10, store: 'durable-rx/keyval' }, ['meta']);
      raw.delete(IDBKeyRange.bound(['xg'], ['xg', []]));
    });
    expect((await rawKeys(name)).filter(([prefix]) => prefix === 'xg')).toEqual([]);

    const store = open(name);
    expect(await allIds(store, { tags: { tenant: 'acme' } })).toEqual(['g-0', 'g-3']);
    expect(await allIds(store, { tags: { tenant: 'acme' }, order: 'desc' })).toEqual(['g-3', 'g-0']);
    expect(await allIds(store, { tags: { region: 'eu', tenant: 'acme' } })).toEqual(['g-0']);
    await rebuilt(name);
    await store.close();
    expect((await rawKeys(name)).filter(([prefix]) => prefix === 'xg')).toEqual([
      ['xg', 'region', 'eu', T0.getTime(), 'g-0'], ['xg', 'tenant', 'acme', T0.getTime(), 'g-0'], ['xg', 'tenant', 'acme', T0.getTime() + 3000, 'g-3'],
      ['xg', 'tenant', 'globex', T0.getTime() + 1000, 'g-1'],
    ]);
  });

  it('passes over the tag entries layout-10 code in another tab left when it started instances again later, with their tags or others', async () => {
    const name = uniqueName('layout-10-tags-tab');
    await tagged(name, [{ tenant: 'acme' }, { tenant: 'acme' }, { tenant: 'acme' }, { tenant: 'acme' }], 'Completed');
    // What layout-10 code does starting 'g-1' (same tags) and 'g-2' (other tags) again, later: their rows and `xc`
    // entries move; their `xg` entries stay where they were, and the new executions get none.
    for (const [id, tags, restartedMs] of [['g-1', { tenant: 'acme' }, T0.getTime() + 9000], ['g-2', { tenant: 'globex' }, T0.getTime() + 9500]] as const) {
      const row = await rawGet(name, ['i', id]) as { createdMs: number; state: Record<string, unknown> };
      await rawWrite(name, (raw) => {
        raw.put({
          ...row, createdMs: restartedMs, status: 'Pending',
          state: { ...row.state, runtimeStatus: 'Pending', createdTime: new Date(restartedMs), lastUpdatedTime: new Date(restartedMs), executionId: 'exec-2', tags },
        }, ['i', id]);
        raw.delete(['xc', row.createdMs, id]);
        raw.put(0, ['xc', restartedMs, id]);
      });
    }
    const store = open(name);
    // Every instance whose entry is its own, once and in order; never one listed out of its place (after 'g-1' at its
    // new createdMs, the next page would skip 'g-2' and 'g-3').
    expect(await allIds(store, { tags: { tenant: 'acme' } })).toEqual(['g-0', 'g-3']);
    expect(await allIds(store, { tags: { tenant: 'acme' }, order: 'desc' })).toEqual(['g-3', 'g-0']);
    // A purge by tags deletes only the terminal instances whose rows match.
    expect(await store.purgeInstances({ createdTimeFrom: T0, tags: { tenant: 'acme' } })).toBe(2);
    expect((await store.queryInstances({})).instances.map((s) => s.instanceId)).toEqual(['g-1', 'g-2']);
  });
});

// Layout 12 keeps an instance's input under ['in', id], written by the commit that creates its execution: the
// instance's value, which every step rewrites, holds none.
describe('KeyvalStore layout 12: inputs in values of their own', () => {
  const input = { rows: Array.from({ length: 100 }, (_, i) => i) };
  type StoredRow = { state: Record<string, unknown>; inputApart?: true };

  /** Claims 'a' and commits a step that leaves it `runtimeStatus` (with its state as given, else as claimed). */
  async function stepA(store: KeyvalStore, runtimeStatus: 'Running' | 'Completed', withoutInput = false): Promise<void> {
    const item = await claim(store);
    expect(item.state.input).toEqual(input);
    const { input: _i, ...bare } = item.state;
    await store.commit(commitOf(item.state, item.lease.token, {
      state: { ...(withoutInput ? bare : item.state), runtimeStatus, version: item.state.version + 1 }, consumedMessageIds: item.messages.map((m) => m.id),
    }));
  }

  it('keeps the input out of the value its steps rewrite, reads it with the state, and purges it with the instance', async () => {
    const name = uniqueName('layout-12');
    const store = open(name);
    await create(store, newInstance('a', input));
    expect(await rawGet(name, ['i', 'a'])).toMatchObject({ inputApart: true });
    expect((await rawGet(name, ['i', 'a']) as StoredRow).state).not.toHaveProperty('input');
    expect(await rawGet(name, ['in', 'a'])).toEqual({ executionId: 'exec-1', createdMs: T0.getTime(), input });
    await stepA(store, 'Running');
    expect((await rawGet(name, ['i', 'a']) as StoredRow).state).not.toHaveProperty('input');
    expect(await store.getInstance('a')).toMatchObject({ runtimeStatus: 'Running', input });
    expect((await store.getInstanceHistory('a')).state?.input).toEqual(input);
    expect((await store.queryInstances({})).instances[0]?.input).toEqual(input);
    expect((await store.queryInstances({ showInput: false })).instances[0]).not.toHaveProperty('input');
    await send(store, message('a', { type: 'EventRaised', eventId: -1, timestamp: T0.toISOString(), name: 'end' }));
    await stepA(store, 'Completed');
    expect(await store.purgeInstance('a')).toBe(1);
    expect((await rawKeys(name)).filter(([prefix]) => prefix !== 'meta')).toEqual([]);
  });

  it('opens a layout-11 database: a value keeps its input in its state, read as it is, until its next write moves it out', async () => {
    const name = uniqueName('layout-11');
    const first = open(name);
    await create(first, newInstance('a', input));
    await first.close();
    // What layout 11 left: the input in the state, no record.
    const { inputApart: _apart, ...row } = await rawGet(name, ['i', 'a']) as StoredRow;
    await rawWrite(name, (raw) => {
      raw.put({ version: 11, store: 'durable-rx/keyval' }, ['meta']);
      raw.put({ ...row, state: { ...row.state, input } }, ['i', 'a']);
      raw.delete(['in', 'a']);
    });
    const store = open(name);
    expect(await store.getInstance('a')).toMatchObject({ runtimeStatus: 'Pending', input });
    await rebuilt(name);
    await stepA(store, 'Running', true); // a state without its input: the stored one moves all the same
    expect(await rawGet(name, ['i', 'a'])).toMatchObject({ inputApart: true });
    expect((await rawGet(name, ['i', 'a']) as StoredRow).state).not.toHaveProperty('input');
    expect(await rawGet(name, ['in', 'a'])).toEqual({ executionId: 'exec-1', createdMs: T0.getTime(), input });
    expect(await store.getInstance('a')).toMatchObject({ runtimeStatus: 'Running', input });
  });

  it('next to layout-11 code still open in another tab: a new execution it writes keeps its input in the state, which wins; its purge leaves the record, which a purge here deletes', async () => {
    const name = uniqueName('layout-11-tab');
    const store = open(name);
    await create(store, newInstance('a', input));
    // Layout-11 code continues the instance as new: its value rewritten by copying the one it read, the new input in the state.
    const row = await rawGet(name, ['i', 'a']) as StoredRow;
    await rawWrite(name, (raw) => raw.put({ ...row, state: { ...row.state, executionId: 'exec-2', input: 'next' } }, ['i', 'a']));
    expect(await store.getInstance('a')).toMatchObject({ executionId: 'exec-2', input: 'next' });
    // And once more without an input: the record, of exec-1, is no input of exec-3.
    await rawWrite(name, (raw) => raw.put({ ...row, state: { ...row.state, executionId: 'exec-3' } }, ['i', 'a']));
    expect(await store.getInstance('a')).not.toHaveProperty('input');
    expect(await rawGet(name, ['in', 'a'])).toEqual({ executionId: 'exec-1', createdMs: T0.getTime(), input });
    // A purge here deletes the record whatever the value says.
    await rawWrite(name, (raw) => raw.put({ ...row, state: { ...row.state, executionId: 'exec-3', runtimeStatus: 'Completed' }, status: 'Completed' }, ['i', 'a']));
    expect(await store.purgeInstance('a')).toBe(1);
    expect(await rawGet(name, ['in', 'a'])).toBeUndefined();
  });

  it('next to layout-11 code still open in another tab: a run it starts again at another time with the same execution id (a caller\'s own newId) is not given the earlier run\'s input', async () => {
    const name = uniqueName('layout-11-same-id');
    const first = open(name);
    await create(first, newInstance('a', input));
    await first.close();
    // Layout-11 code starts 'a' again later without an input, its value copied from the one it read, its newId
    // repeating exec-1: the record, of the earlier run, stays.
    const row = await rawGet(name, ['i', 'a']) as StoredRow;
    const laterMs = T0.getTime() + 5000;
    await rawWrite(name, (raw) => {
      raw.put({ ...row, createdMs: laterMs, state: { ...row.state, createdTime: new Date(laterMs), lastUpdatedTime: new Date(laterMs) } }, ['i', 'a']);
      raw.delete(['xc', T0.getTime(), 'a']);
      raw.put(0, ['xc', laterMs, 'a']);
    });
    const store = open(name);
    expect(await store.getInstance('a')).toMatchObject({ executionId: 'exec-1', createdTime: new Date(laterMs) });
    expect(await store.getInstance('a')).not.toHaveProperty('input');
    expect((await store.queryInstances({})).instances[0]).not.toHaveProperty('input');
  });
});

// Layout 13 rebuilds every ['xn', ...] and ['xg', ...] entry from the rows when it opens an older layout.
describe('KeyvalStore layout 13: name and tag entries rebuilt from the rows', () => {
  it('opens a layout-12 database holding instances that older code started beside it: they are listed and purged by name and tags, and the entries it left behind go', async () => {
    const name = uniqueName('layout-12-gaps');
    const first = open(name);
    for (const [i, id] of ['a', 'late', 'moved', 'b'].entries()) {
      const request = newInstance(id);
      const createdTime = new Date(T0.getTime() + i * 1000);
      await create(first, {
        ...request, state: { ...request.state, name: 'Orders', runtimeStatus: 'Completed', createdTime, lastUpdatedTime: createdTime, tags: { tenant: 'acme' } },
      });
    }
    await first.close();
    // What code of layouts 8 and 10 did in another tab beside layouts 9 to 12: it started 'late' without its name and
    // tag entries, and started 'moved' again later, leaving its entries where they were and giving the new execution none.
    const movedMs = T0.getTime() + 9000;
    const moved = await rawGet(name, ['i', 'moved']) as { createdMs: number; state: Record<string, unknown> };
    await rawWrite(name, (raw) => {
      raw.put({ version: 12, store: 'durable-rx/keyval' }, ['meta']);
      raw.delete(['xn', 'Orders', T0.getTime() + 1000, 'late']);
      raw.delete(['xg', 'tenant', 'acme', T0.getTime() + 1000, 'late']);
      raw.put({ ...moved, createdMs: movedMs, state: { ...moved.state, createdTime: new Date(movedMs), lastUpdatedTime: new Date(movedMs), executionId: 'exec-2' } }, ['i', 'moved']);
      raw.delete(['xc', moved.createdMs, 'moved']);
      raw.put('Completed', ['xc', movedMs, 'moved']);
    });

    const store = open(name);
    for (const order of ['asc', 'desc'] as const) {
      const expected = order === 'asc' ? ['a', 'late', 'b', 'moved'] : ['moved', 'b', 'late', 'a'];
      expect(await allIds(store, { name: ['Orders'], order, pageSize: 2 })).toEqual(expected);
      expect(await allIds(store, { tags: { tenant: 'acme' }, order, pageSize: 2 })).toEqual(expected);
    }
    await rebuilt(name);
    const entries = (await rawKeys(name)).filter(([prefix]) => prefix === 'xn' || prefix === 'xg');
    expect(entries).toEqual([
      ...['a', 'late', 'b', 'moved'].map((id, i) => ['xg', 'tenant', 'acme', id === 'moved' ? movedMs : T0.getTime() + (id === 'b' ? 3 : i) * 1000, id]),
      ...['a', 'late', 'b', 'moved'].map((id, i) => ['xn', 'Orders', id === 'moved' ? movedMs : T0.getTime() + (id === 'b' ? 3 : i) * 1000, id]),
    ]);
    // A purge by name, or by tags, takes the instances older code started too.
    expect(await store.purgeInstances({ createdTimeFrom: T0, name: ['Orders'], createdTimeTo: new Date(T0.getTime() + 1000) })).toBe(2);
    expect(await store.purgeInstances({ createdTimeFrom: T0, tags: { tenant: 'acme' } })).toBe(2);
    expect((await store.queryInstances({})).instances).toEqual([]);
  });
});

// Layout 14 rebuilds the ['xn', ...] and ['xg', ...] entries after the open, in steps of their own, instead of in the
// open's transaction (which every call waited for).
describe('KeyvalStore layout 14: name and tag entries rebuilt after the open, in steps', () => {
  const idOf = (i: number) => `i-${String(i).padStart(4, '0')}`;
  const msOf = (i: number) => T0.getTime() + i;
  const wanted = (count: number) => [
    ...Array.from({ length: count }, (_, i) => ['xg', 'tenant', 'acme', msOf(i), idOf(i)]),
    ...Array.from({ length: count }, (_, i) => ['xn', 'Orders', msOf(i), idOf(i)]),
  ];

  /**
   * Writes `count` completed instances named Orders with the tag pair tenant=acme, created 1 ms apart, into database
   * `name` with the marker `meta`; an instance `entries(i)` rejects has no name or tag entry (older code started it
   * beside an earlier layout), and two entries are of earlier executions (older code started those instances again).
   * `createdAt(i)` and `named(i)` give an instance another creation time or orchestrator name.
   */
  async function instances(
    name: string, count: number, meta: object, entries: (i: number) => boolean, createdAt = msOf, named = (_: number) => 'Orders',
  ): Promise<void> {
    const first = open(name);
    const request = newInstance('template', { n: 1 });
    await create(first, { ...request, state: { ...request.state, name: 'Orders', runtimeStatus: 'Completed', tags: { tenant: 'acme' } } });
    await first.close();
    const row = await rawGet(name, ['i', 'template']) as { state: Record<string, unknown> };
    const input = await rawGet(name, ['in', 'template']);
    await rawWrite(name, (raw) => {
      raw.delete(IDBKeyRange.bound(['i'], ['xz']));
      raw.delete(IDBKeyRange.bound(['in'], ['in', []]));
      raw.put(meta, ['meta']);
      for (let i = 0; i < count; i++) {
        const id = idOf(i);
        const ms = createdAt(i);
        const createdTime = new Date(ms);
        raw.put({ ...row, id, createdMs: ms, state: { ...row.state, instanceId: id, name: named(i), createdTime, lastUpdatedTime: createdTime } }, ['i', id]);
        raw.put(input, ['in', id]);
        raw.put('Completed', ['xc', ms, id]);
        if (!entries(i)) continue;
        raw.put(0, ['xn', named(i), ms, id]);
        raw.put(0, ['xg', 'tenant', 'acme', ms, id]);
      }
      raw.put(0, ['xn', 'Billing', msOf(-3), idOf(1)]);
      raw.put(0, ['xg', 'tenant', 'globex', msOf(-5), idOf(2)]);
    });
  }

  it('answers the first call after opening a layout-13 database before the entries are rebuilt, lists exactly meanwhile, and rebuilds them after', async () => {
    const name = uniqueName('layout-13-steps');
    const count = 1000;
    await instances(name, count, { version: 13, store: 'durable-rx/keyval' }, (i) => i % 3 !== 0);

    const store = open(name);
    // The store's first call: the rebuild has steps left when it is answered (it runs in transactions of its own).
    const connection = await connectionOf(store);
    const marker = connection.transaction(STORE, 'readonly').objectStore(STORE).get(['meta']);
    await new Promise((resolve) => (marker.onsuccess = resolve));
    expect(marker.result).toMatchObject({ version: KEYVAL_SCHEMA_VERSION, rebuild: expect.anything() });
    const all = Array.from({ length: count }, (_, i) => idOf(i));
    expect(await allIds(store, { name: ['Orders'], pageSize: 400 })).toEqual(all);
    expect(await allIds(store, { tags: { tenant: 'acme' }, order: 'desc', pageSize: 400 })).toEqual([...all].reverse());

    await rebuilt(name);
    expect((await rawKeys(name)).filter(([prefix]) => prefix === 'xn' || prefix === 'xg')).toEqual(wanted(count));
    expect(await allIds(store, { name: ['Orders'], tags: { tenant: 'acme' }, pageSize: 400 })).toEqual(all);
  });

  it('goes on with a rebuild cut short (a reload) from where it stopped, listing and purging by name and tags exactly meanwhile', async () => {
    const name = uniqueName('layout-14-cut');
    const count = 2000;
    // Cut short after the rows up to i-0500: those have their entries, half of the later ones have none.
    await instances(name, count, { version: KEYVAL_SCHEMA_VERSION, store: 'durable-rx/keyval', rebuild: { step: 'rows', after: ['xc', msOf(500), idOf(500)] } }, (i) => i <= 500 || i % 2 === 0);

    const store = open(name);
    const all = Array.from({ length: count }, (_, i) => idOf(i));
    // The first call comes before the steps left are done: the entries miss instances, and are not trusted.
    expect(await allIds(store, { tags: { tenant: 'acme' }, pageSize: 1000 })).toEqual(all);
    expect(await store.purgeInstances({ createdTimeFrom: T0, name: ['Orders'], createdTimeTo: new Date(msOf(999)) })).toBe(1000);
    expect(await allIds(store, { name: ['Orders'], order: 'desc', pageSize: 1000 })).toEqual(all.slice(1000).reverse());
    await rebuilt(name);
    expect((await rawKeys(name)).filter(([prefix]) => prefix === 'xn' || prefix === 'xg')).toEqual(
      wanted(count).filter((key) => (key[key.length - 2] as number) >= msOf(1000)),
    );
    expect(await store.purgeInstances({ createdTimeFrom: T0, tags: { tenant: 'acme' } })).toBe(1000);
    expect((await rawKeys(name)).filter(([prefix]) => prefix === 'xn' || prefix === 'xg' || prefix === 'i')).toEqual([]);
  });

  it('rebuilds from the start a layout-13 database whose entries are partly missing, listing by tags exactly meanwhile', async () => {
    const name = uniqueName('layout-13-cut-upgraded');
    const count = 2000;
    await instances(name, count, { version: 13, store: 'durable-rx/keyval', rebuild: { step: 'rows', after: ['xc', msOf(500), idOf(500)] } }, (i) => i <= 500 || i % 2 === 0);
    const store = open(name);
    const all = Array.from({ length: count }, (_, i) => idOf(i));
    expect(await allIds(store, { tags: { tenant: 'acme' }, pageSize: 1000 })).toEqual(all);
    expect(await allIds(store, { name: ['Orders'], order: 'desc', pageSize: 1000 })).toEqual([...all].reverse());
    await rebuilt(name);
    expect((await rawKeys(name)).filter(([prefix]) => prefix === 'xn' || prefix === 'xg')).toEqual(wanted(count));
  });

  it('goes on from its place with a rebuild a layout-14 database has under way, listing by tags exactly meanwhile', async () => {
    const name = uniqueName('layout-14-cut-upgraded');
    const count = 2000;
    await instances(name, count, { version: 14, store: 'durable-rx/keyval', rebuild: { step: 'rows', after: ['xc', msOf(500), idOf(500)] } }, (i) => i <= 500 || i % 2 === 0);
    const store = open(name);
    const all = Array.from({ length: count }, (_, i) => idOf(i));
    expect(await allIds(store, { tags: { tenant: 'acme' }, pageSize: 1000 })).toEqual(all);
    await rebuilt(name);
    expect((await rawKeys(name)).filter(([prefix]) => prefix === 'xn' || prefix === 'xg')).toEqual(wanted(count));
  });

  it('goes on with a rebuild whose step failed at the store\'s next call of any kind, without a listing', async () => {
    const name = uniqueName('layout-14-failed-step');
    const count = 1000;
    await instances(name, count, { version: KEYVAL_SCHEMA_VERSION, store: 'durable-rx/keyval', rebuild: { step: 'rows', after: ['xc', msOf(100), idOf(100)] } },
      (i) => i <= 100 || i % 2 === 0);
    // The rebuild's first step (the second readwrite transaction to read the marker, after the open's layout check) is
    // aborted as it begins, as the browser aborts a transaction (a storage failure, a frozen tab's for inactivity).
    const aborts = abortSecondMarkerWrite();
    const store = open(name);
    try {
      await store.getInstance('none');
    } finally {
      aborts.restore();
    }
    expect(aborts.aborted).toBe(true);
    // No listing, only reads of an instance: each is a call of the store (before: the rebuild stayed where it stopped).
    await vi.waitFor(async () => {
      await store.getInstance('none');
      expect(await rawGet(name, ['meta'])).toEqual({ version: KEYVAL_SCHEMA_VERSION, store: 'durable-rx/keyval' });
    }, { timeout: SETTLED.timeoutMs, interval: 50 });
    expect((await rawKeys(name)).filter(([prefix]) => prefix === 'xn' || prefix === 'xg')).toEqual(wanted(count));
  });

  it('starts the steps of a rebuild that keep failing again at a call only after a wait, not at every call', async () => {
    const name = uniqueName('layout-14-failing-steps');
    const count = 600;
    await instances(name, count, { version: KEYVAL_SCHEMA_VERSION, store: 'durable-rx/keyval', rebuild: { step: 'rows' } }, () => false);
    const clock = new VirtualClock(T0);
    const aborts = abortMarkerWritesAfterFirst();
    const store = open(name, { clock });
    try {
      for (let i = 0; i < 40; i++) await store.getInstance('none');
      // The open's steps failed, and the next call's: the calls after them start none until the wait has passed on
      // the store's clock (before: a call every few of the 40 started a step, a readwrite transaction that failed).
      expect(aborts.count()).toBeGreaterThanOrEqual(1);
      expect(aborts.count()).toBeLessThanOrEqual(2);
    } finally {
      aborts.restore();
    }
    await clock.advance(60_000);
    await vi.waitFor(async () => {
      await store.getInstance('none');
      expect(await rawGet(name, ['meta'])).toEqual({ version: KEYVAL_SCHEMA_VERSION, store: 'durable-rx/keyval' });
    }, { timeout: SETTLED.timeoutMs, interval: 50 });
    expect((await rawKeys(name)).filter(([prefix]) => prefix === 'xn' || prefix === 'xg')).toEqual(wanted(count));
  });

  it('goes on with a rebuild at once after the browser closed its connection: the steps the close failed are no wait', async () => {
    const name = uniqueName('layout-14-reconnect');
    const count = 600;
    await instances(name, count, { version: KEYVAL_SCHEMA_VERSION, store: 'durable-rx/keyval', rebuild: { step: 'rows' } }, () => false);
    // The store's clock never moves: a wait after failed steps would hold the rebuild for good.
    const clock = new VirtualClock(T0);
    const closes = await closeAtSecondMarkerWrite();
    const store = open(name, { clock });
    try {
      await store.getInstance('none');
      await vi.waitFor(() => expect(closes.closed).toBe(true), { timeout: SETTLED.timeoutMs, interval: 10 });
    } finally {
      closes.restore();
    }
    // The next call opens a new connection; the rebuild goes on on it with no call of its own (before: the step the
    // close cut short and the one that found no connection counted as failed steps, and the steps waited 1 s on the
    // store's clock).
    await store.getInstance('none');
    await vi.waitFor(async () => {
      expect(await rawGet(name, ['meta'])).toEqual({ version: KEYVAL_SCHEMA_VERSION, store: 'durable-rx/keyval' });
    }, { timeout: SETTLED.timeoutMs, interval: 50 });
    expect((await rawKeys(name)).filter(([prefix]) => prefix === 'xn' || prefix === 'xg')).toEqual(wanted(count));
  });

  it('aborts the step under way when it closes: the step writes nothing, holds the database no longer, and the next open goes on from the place', async () => {
    const name = uniqueName('layout-14-close');
    const count = 600;
    const marker = { version: KEYVAL_SCHEMA_VERSION, store: 'durable-rx/keyval', rebuild: { step: 'rows' } };
    await instances(name, count, marker, () => false);
    const keys = await rawKeys(name);
    const store = open(name);
    // Before: the step went on after the close had resolved, and committed (the marker moved on by a step).
    expect(await closeAtRebuildStep(store, (key) => Array.isArray(key) && key.length === 1 && key[0] === 'meta')).toBe('abort');
    expect(await rawGet(name, ['meta'])).toEqual(marker);
    expect(await rawKeys(name)).toEqual(keys);
    const again = open(name);
    await again.getInstance('none');
    await vi.waitFor(async () => {
      expect(await rawGet(name, ['meta'])).toEqual({ version: KEYVAL_SCHEMA_VERSION, store: 'durable-rx/keyval' });
    }, { timeout: SETTLED.timeoutMs, interval: 50 });
    expect((await rawKeys(name)).filter(([prefix]) => prefix === 'xn' || prefix === 'xg')).toEqual(wanted(count));
  });

  it('aborts the step under way when another tab upgrades the database: the step writes nothing and holds the upgrade no longer', async () => {
    const name = uniqueName('layout-14-upgraded');
    const count = 600;
    const marker = { version: KEYVAL_SCHEMA_VERSION, store: 'durable-rx/keyval', rebuild: { step: 'rows' } };
    await instances(name, count, marker, () => false);
    const keys = await rawKeys(name);
    const store = open(name);
    // Before: the step went on under the closing connection, and committed (the marker moved on by a step) before the
    // upgrade could begin.
    expect(await upgradeAtRebuildStep(store, name, (key) => Array.isArray(key) && key.length === 1 && key[0] === 'meta')).toBe('abort');
    expect(await rawGet(name, ['meta'])).toEqual(marker);
    expect(await rawKeys(name)).toEqual(keys);
    await expect(store.getInstance('a')).rejects.toMatchObject({ code: 'database-upgrading' });
  });

  it('lists by a rare name during the rebuild reading at most 512 rows past its place per page, the pages exact', async () => {
    const name = uniqueName('layout-14-rare');
    const count = 3000;
    const rare = (i: number) => i % 400 === 7;
    // Cut short after the rows up to i-2000: those have their entries, the later ones none.
    await instances(name, count, { version: KEYVAL_SCHEMA_VERSION, store: 'durable-rx/keyval', rebuild: { step: 'rows', after: ['xc', msOf(2000), idOf(2000)] } },
      (i) => i <= 2000, msOf, (i) => (rare(i) ? 'Rare' : 'Orders'));
    // Every step fails (its transaction aborted as it reads the marker), so the place stays where it is meanwhile.
    const steps = abortMarkerWritesAfterFirst();
    const rowsRead = readsOfRows();
    try {
      const store = open(name);
      const first = await store.queryInstances({ name: ['Rare'], pageSize: 100 });
      // The rows of the rare name in the rebuilt part (5), and 512 of the 1,000 past the place (before: all 1,000). The
      // page ends at the last row read, i-2512.
      expect(rowsRead.count()).toBe(5 + 512);
      expect(first.instances.map((s) => s.instanceId)).toEqual([7, 407, 807, 1207, 1607, 2007, 2407].map(idOf));
      expect(first.continuationToken).toBeDefined();
      const rest = await allIds(store, { name: ['Rare'], pageSize: 100, continuationToken: first.continuationToken });
      expect(rest).toEqual([2807].map(idOf));
    } finally {
      rowsRead.uninstall();
      steps.restore();
    }
    // Right after the upgrade, before any step: no part rebuilt, every page reads at most 512 rows.
    const fresh = uniqueName('layout-14-rare-fresh');
    await instances(fresh, count, { version: KEYVAL_SCHEMA_VERSION, store: 'durable-rx/keyval', rebuild: { step: 'rows' } },
      () => false, msOf, (i) => (rare(i) ? 'Rare' : 'Orders'));
    const freshSteps = abortMarkerWritesAfterFirst();
    const perPage = readsOfRows();
    try {
      const other = open(fresh);
      const pages: number[] = [];
      const listed: string[] = [];
      let token: string | undefined;
      do {
        const before = perPage.count();
        const page = await other.queryInstances({ name: ['Rare'], pageSize: 100, ...(token ? { continuationToken: token } : {}) });
        pages.push(perPage.count() - before);
        listed.push(...page.instances.map((s) => s.instanceId));
        token = page.continuationToken;
      } while (token);
      expect(listed).toEqual(Array.from({ length: count }, (_, i) => i).filter(rare).map(idOf));
      // Before: the first page read all 3,000.
      expect(Math.max(...pages)).toBe(512);
    } finally {
      perPage.uninstall();
      freshSteps.restore();
    }
  });

  it('lists exactly, page by page, while the rebuild moves on under the listing in two tabs, across places shared by two instances', async () => {
    const name = uniqueName('layout-14-pages');
    const count = 3000;
    // Two instances per ms, so the rebuild's places (i-0500, then every 256 rows on) split a ms; the entries of half
    // the later instances missing. Newest first, the pages come down to meet the rebuild coming up.
    const createdAt = (i: number) => msOf(Math.floor(i / 2));
    await instances(name, count, { version: KEYVAL_SCHEMA_VERSION, store: 'durable-rx/keyval', rebuild: { step: 'rows', after: ['xc', createdAt(500), idOf(500)] } },
      (i) => i <= 500 || i % 2 === 0, createdAt);
    const tabs = [open(name), open(name)];
    const all = Array.from({ length: count }, (_, i) => idOf(i));
    const [byName, byTag] = await Promise.all([
      allIds(tabs[0]!, { name: ['Orders'], order: 'desc', pageSize: 150 }),
      allIds(tabs[1]!, { tags: { tenant: 'acme' }, order: 'desc', pageSize: 150 }),
    ]);
    expect(byName).toEqual([...all].reverse());
    expect(byTag).toEqual([...all].reverse());
    await rebuilt(name);
    expect((await rawKeys(name)).filter(([prefix]) => prefix === 'xn' || prefix === 'xg')).toEqual([
      ...all.map((id, i) => ['xg', 'tenant', 'acme', createdAt(i), id]),
      ...all.map((id, i) => ['xn', 'Orders', createdAt(i), id]),
    ]);
  });
});

describe('KeyvalStore layout 15: an execution\'s input written once, in its record', () => {
  const input = { rows: Array.from({ length: 100 }, (_, i) => `row ${i}`) };
  type StoredEvent = Record<string, unknown>;
  type StoredMessage = { message: { event: StoredEvent } };

  /** The start event of `instanceId`'s execution `executionId` as a worker records it, with the input given. */
  function startedWith(instanceId: string, given: unknown, executionId = 'exec-1'): HistoryEvent {
    return { ...started(instanceId) as ExecutionStartedEvent, executionId, ...(given === undefined ? {} : { input: given }) };
  }

  /** The first step of `instanceId`: it takes the start message and records its event (as the message carries it). */
  async function firstStep(store: KeyvalStore, instanceId: string): Promise<OrchestrationMessage> {
    const item = await claim(store);
    expect(item.state.instanceId).toBe(instanceId);
    const start = item.messages.find((m) => m.event.type === 'ExecutionStarted')!;
    await store.commit(commitOf(item.state, item.lease.token, {
      state: { ...item.state, runtimeStatus: 'Running', historyLength: 1, version: item.state.version + 1 },
      history: [start.event], consumedMessageIds: item.messages.map((m) => m.id),
    }));
    return start;
  }

  /** The stored pending messages of `instanceId`. */
  async function storedMessages(name: string, instanceId: string): Promise<StoredMessage[]> {
    return rawRead(name, (raw) => raw.getAll(IDBKeyRange.bound(['m', instanceId], ['m', instanceId, []])));
  }

  /** The stored history events of `instanceId`, batches flattened. */
  async function storedHistory(name: string, instanceId: string): Promise<StoredEvent[]> {
    return (await rawRead<StoredEvent[][]>(name, (raw) => raw.getAll(IDBKeyRange.bound(['h', instanceId], ['h', instanceId, []])))).flat();
  }

  it('writes the start message and the history\'s start without the input, and gives it back to claims and history reads in any tab', async () => {
    const name = uniqueName('layout-15');
    const store = open(name);
    await create(store, newInstance('a', input));
    const [stored] = await storedMessages(name, 'a');
    expect(stored!.message.event).not.toHaveProperty('input');
    expect(stored!.message.event).toMatchObject({ type: 'ExecutionStarted', inputInRecord: T0.getTime() });
    expect(await rawGet(name, ['in', 'a'])).toEqual({ executionId: 'exec-1', createdMs: T0.getTime(), input });
    const start = await firstStep(store, 'a');
    expect(start.event).toEqual(startedWith('a', input));
    const [event] = await storedHistory(name, 'a');
    expect(event).not.toHaveProperty('input');
    expect(event).toMatchObject({ type: 'ExecutionStarted', inputInRecord: T0.getTime() });
    // This handle knows the input; another one (a tab that never met the execution) reads the record.
    const other = open(name);
    for (const reader of [store, other]) {
      expect(await reader.getHistory('a')).toEqual([startedWith('a', input)]);
      expect((await reader.getInstanceHistory('a', { showInput: false })).history).toEqual([startedWith('a', input)]);
    }
    // A copy each time: what a reader changes is not what the next one reads.
    ((await other.getHistory('a'))[0] as { input: { rows: string[] } }).input.rows.push('changed');
    expect(await other.getHistory('a')).toEqual([startedWith('a', input)]);
    await send(store, message('a', { type: 'EventRaised', eventId: -1, timestamp: T0.toISOString(), name: 'end' }));
    const item = await claim(store);
    await store.commit(commitOf(item.state, item.lease.token, {
      state: { ...item.state, runtimeStatus: 'Completed', version: item.state.version + 1 }, consumedMessageIds: item.messages.map((m) => m.id),
    }));
    expect(await store.purgeInstance('a')).toBe(1);
    expect((await rawKeys(name)).filter(([prefix]) => prefix !== 'meta')).toEqual([]);
  });

  it('writes the start of an instance without input as it is, and a continueAsNew\'s start without the next execution\'s input', async () => {
    const name = uniqueName('layout-15-none');
    const store = open(name);
    await create(store, newInstance('a'));
    expect((await storedMessages(name, 'a'))[0]!.message.event).not.toHaveProperty('inputInRecord');
    await firstStep(store, 'a');
    expect(await store.getHistory('a')).toEqual([startedWith('a', undefined)]);
    // The next execution, with an input: its start message goes without it, its record is written.
    await send(store, message('a', { type: 'EventRaised', eventId: -1, timestamp: T0.toISOString(), name: 'again' }));
    const item = await claim(store);
    const next = message('a', startedWith('a', 'next input', 'exec-2') as OrchestrationMessage['event']);
    await store.commit({
      lease: { kind: 'orchestration', instanceId: 'a', token: item.lease.token },
      requests: [
        { type: 'replaceState', state: { ...item.state, executionId: 'exec-2', input: 'next input', historyLength: 0, version: item.state.version + 1 } },
        { type: 'replaceHistory', instanceId: 'a', events: [] },
        { type: 'deleteMessages', instanceId: 'a', messageIds: item.messages.map((m) => m.id) },
        { type: 'insertMessage', message: next, ifMissing: 'drop' },
      ],
    });
    expect((await storedMessages(name, 'a'))[0]!.message.event).toMatchObject({ executionId: 'exec-2', inputInRecord: T0.getTime() });
    expect((await storedMessages(name, 'a'))[0]!.message.event).not.toHaveProperty('input');
    expect(await firstStep(open(name), 'a')).toMatchObject({ event: startedWith('a', 'next input', 'exec-2') });
    expect(await store.getHistory('a')).toEqual([startedWith('a', 'next input', 'exec-2')]);
  });

  it('copies a history holding another execution\'s start as it is, and reads it back', async () => {
    const name = uniqueName('layout-15-fork');
    const store = open(name);
    await create(store, newInstance('a', input));
    await firstStep(store, 'a');
    const history = await store.getHistory('a');
    // A new instance and execution with the source's input, its history the source's as it is (a fork renames the start
    // to its own execution, written without its input: see transaction-counts' fork test).
    const fork = newInstance('f', input);
    await store.commit({
      requests: [
        { type: 'createInstance', state: { ...fork.state, executionId: 'exec-f', runtimeStatus: 'Running', historyLength: history.length }, message: message('f', { type: 'ExecutionRewound', eventId: -1, timestamp: T0.toISOString() }), ifRunning: { kind: 'fail' } },
        { type: 'replaceHistory', instanceId: 'f', events: history },
      ],
    });
    expect(await storedHistory(name, 'f')).toEqual([startedWith('a', input)]);
    expect(await open(name).getHistory('f')).toEqual([startedWith('a', input)]);
  });

  it('opens a layout-14 database mid-run: its starts hold their input and are read as they are, its next starts are written without it', async () => {
    const name = uniqueName('layout-14-starts');
    const large = { text: 'x'.repeat(300_000) };
    const first = open(name);
    // 'a' pending (its start message), 'b' running (its history's start), 'c' without input, 'd' with a large input.
    await create(first, newInstance('b', input));
    await firstStep(first, 'b');
    await create(first, newInstance('a', input));
    await create(first, newInstance('c'));
    await create(first, newInstance('d', large));
    await first.close();
    // What layout 14 wrote: the starts with their input, no mark.
    const olden = (event: StoredEvent, given: unknown): StoredEvent => {
      const { inputInRecord: _mark, ...rest } = event;
      return given === undefined ? rest : { ...rest, input: given };
    };
    const pending = await rawRead<[IDBValidKey, StoredMessage][]>(name, (raw) => raw.getAll(IDBKeyRange.bound(['m'], ['m', []])));
    const keys = await rawRead<IDBValidKey[][]>(name, (raw) => raw.getAllKeys(IDBKeyRange.bound(['m'], ['m', []])));
    const bStart = (await storedHistory(name, 'b'))[0]!;
    await rawWrite(name, (raw) => {
      raw.put({ version: 14, store: 'durable-rx/keyval' }, ['meta']);
      pending.forEach((row, i) => {
        const stored = row as unknown as StoredMessage & { instanceId: string };
        const given = { a: input, b: input, c: undefined, d: large }[stored.instanceId];
        raw.put({ ...stored, message: { ...stored.message, event: olden(stored.message.event, given) } }, keys[i]!);
      });
      raw.put([olden(bStart, input)], ['h', 'b', 0]);
    });
    expect(await storedHistory(name, 'b')).toEqual([startedWith('b', input)]);
    const store = open(name);
    expect(await store.getHistory('b')).toEqual([startedWith('b', input)]);
    await rebuilt(name);
    const claimed = new Map<string, unknown>();
    for (let i = 0; i < 3; i++) {
      const start = await firstStep(store, ['a', 'c', 'd'][i]!);
      claimed.set(start.instanceId, (start.event as { input?: unknown }).input);
    }
    expect(claimed).toEqual(new Map<string, unknown>([['a', input], ['c', undefined], ['d', large]]));
    // Their starts are recorded by this layout: without the input.
    for (const id of ['a', 'd']) expect((await storedHistory(name, id))[0]).not.toHaveProperty('input');
    expect(await store.getHistory('d')).toEqual([startedWith('d', large)]);
    expect(await store.getHistory('c')).toEqual([startedWith('c', undefined)]);
  });

  it('raises the IndexedDB version, so that a tab of layout 14 open during the upgrade closes its connection', async () => {
    const name = uniqueName('layout-14-tab');
    // A tab of layout 14: idb-keyval's connection (no version asked) on a database it marked, closed at a versionchange
    // as its store closes it.
    const old = createStore(name, STORE);
    await setMany([[['meta'], { version: 14, store: 'durable-rx/keyval' }]], old);
    const connection = await old('readonly', (store) => store.transaction.db);
    expect(connection.version).toBe(1);
    let asked: number | null | undefined;
    connection.onversionchange = (event) => {
      asked = event.newVersion;
      connection.close();
    };
    const store = open(name);
    await create(store, newInstance('a', input));
    expect(asked).toBe(KEYVAL_DB_VERSION);
    expect(await rawGet(name, ['meta'])).toMatchObject({ version: KEYVAL_SCHEMA_VERSION });
    expect((await connectionOf(store)).version).toBe(KEYVAL_DB_VERSION);
  });

  it('fails its calls with DatabaseBlockedError while a tab of layout 14 keeps its connection open, and opens once it closed', async () => {
    const name = uniqueName('layout-14-frozen-tab');
    const old = createStore(name, STORE);
    await setMany([[['meta'], { version: 14, store: 'durable-rx/keyval' }]], old);
    const connection = await old('readonly', (store) => store.transaction.db);
    const store = open(name, { openTimeoutMs: 200 });
    await expect(store.getInstance('a')).rejects.toMatchObject({ code: 'database-blocked' });
    connection.close();
    await vi.waitFor(async () => expect(await store.getInstance('a')).toBeUndefined(), { timeout: SETTLED.timeoutMs });
    expect(await rawGet(name, ['meta'])).toMatchObject({ version: KEYVAL_SCHEMA_VERSION });
  });
});

describe('KeyvalStore layout 16: end entries of listEnded', () => {
  /** Ends each instance of `ends` (claimed in the order created) with its status, at T0 plus its ms. */
  async function endAll(store: KeyvalStore, ends: ReadonlyMap<string, readonly [InstanceState['runtimeStatus'], number]>): Promise<void> {
    for (let i = 0; i < ends.size; i++) {
      const item = await claim(store);
      const [runtimeStatus, ms] = ends.get(item.state.instanceId)!;
      await store.commit(commitOf(item.state, item.lease.token, {
        state: { ...item.state, runtimeStatus, lastUpdatedTime: new Date(T0.getTime() + ms), version: item.state.version + 1 },
        consumedMessageIds: item.messages.map((m) => m.id),
      }));
    }
  }

  /** A connection to a new database `name` at the IndexedDB version layout 15 opens, with idb-keyval's object store. */
  function layout15Database(name: string): Promise<IDBDatabase> {
    const request = indexedDB.open(name, 2);
    request.onupgradeneeded = () => request.result.createObjectStore(STORE);
    return new Promise<IDBDatabase>((resolve, reject) => {
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
  }

  /** The `xe` entries of database `name`. */
  async function endEntries(name: string): Promise<IDBValidKey[][]> {
    return (await rawKeys(name)).filter(([prefix]) => prefix === 'xe');
  }

  it('opens a layout-15 database with ended instances in it: the steps after its open write their end entries, and listEnded lists them in end order', async () => {
    // The keys and values as layout 15 wrote them (this layout's without the end entries), at IndexedDB version 2:
    // three completed in another order than created, one failed, one running.
    const source = uniqueName('layout-16-source');
    const first = open(source);
    const ends = new Map<string, readonly [InstanceState['runtimeStatus'], number]>([
      ['a', ['Completed', 3000]], ['b', ['Completed', 1000]], ['c', ['Completed', 2000]], ['f', ['Failed', 500]], ['r', ['Running', 400]],
    ]);
    for (const id of ends.keys()) await create(first, newInstance(id));
    await endAll(first, ends);
    await first.close();
    const [keys, values] = await Promise.all([rawKeys(source), rawRead<unknown[]>(source, (raw) => raw.getAll())]);
    const name = uniqueName('layout-15-ended');
    const db = await layout15Database(name);
    try {
      const tx = db.transaction(STORE, 'readwrite');
      keys.forEach((key, i) => {
        if (key[0] !== 'xe') tx.objectStore(STORE).put(key[0] === 'meta' ? { version: 15, store: 'durable-rx/keyval' } : values[i], key);
      });
      await done(tx);
    } finally {
      db.close();
    }
    expect(await endEntries(name)).toEqual([]);

    const store = open(name);
    const list = (runtimeStatus: 'Completed' | 'Failed', after?: { endedMs: number; instanceId: string }) => store.listEnded({
      runtimeStatus, endedTo: new Date(T0.getTime() + 2500), limit: 10, ...(after ? { after } : {}),
    }).then((states) => states.map((state) => state.instanceId));
    expect(await list('Completed')).toEqual(['b', 'c']);
    expect(await list('Completed', { endedMs: T0.getTime() + 1000, instanceId: 'b' })).toEqual(['c']);
    expect(await list('Failed')).toEqual(['f']);
    await rebuilt(name);
    expect(await endEntries(name)).toEqual([
      ['xe', 'Completed', T0.getTime() + 1000, 'b'], ['xe', 'Completed', T0.getTime() + 2000, 'c'], ['xe', 'Completed', T0.getTime() + 3000, 'a'],
      ['xe', 'Failed', T0.getTime() + 500, 'f'],
    ]);
    expect(await rawGet(name, ['meta'])).toEqual({ version: KEYVAL_SCHEMA_VERSION, store: 'durable-rx/keyval' });
    expect((await connectionOf(store)).version).toBe(KEYVAL_DB_VERSION);
    // Written since by the commits: the running one ends, a purge takes its entry out.
    await send(store, message('r', { type: 'EventRaised', eventId: -1, timestamp: T0.toISOString(), name: 'end' }));
    await endAll(store, new Map([['r', ['Completed', 1500]]]));
    await store.purgeInstance('b');
    expect(await list('Completed')).toEqual(['r', 'c']);
    expect((await endEntries(name)).map(lastOfKey)).toEqual(['r', 'c', 'a', 'f']);
  });

  // CPU-bound on fake-indexeddb: 700 instances listed page by page, each page reading up to 256 rows a transaction
  // (about 4.5 s on an idle core, 112 s in a full test run at load 16), so more than the suite's 120 s per test.
  describe('written after the open, in steps', { timeout: 360_000 }, () => {
    // Enough for the writing's three steps of 256 and both ways a page reads the rows past the place (every row, 256 a
    // transaction, while more than 256 are past it, then those of its status one by one), few enough for short pages.
    const COUNT = 700;
    const idOf = (i: number) => `e-${String(i).padStart(4, '0')}`;
    const createdMsOf = (i: number) => T0.getTime() + i;
    /** Ended in another order than created (7,919 is prime to 700), two instances to an end ms. */
    const endedMsOf = (i: number) => T0.getTime() + 10_000 + Math.floor(((i * 7919) % COUNT) / 2);
    const statusOf = (i: number): InstanceState['runtimeStatus'] => (i % 7 === 3 ? 'Running' : i % 5 === 0 ? 'Failed' : 'Completed');
    /** Four fifths of the ends are listed. */
    const ENDED_TO = new Date(T0.getTime() + 10_000 + COUNT * 0.4);
    const isEnded = (i: number) => statusOf(i) !== 'Running';
    /** The end entries the rows of the instances `of` call for, in key order. */
    const wantedEntries = (of: (i: number) => boolean = () => true) => Array.from({ length: COUNT }, (_, i) => i)
      .filter((i) => isEnded(i) && of(i))
      .map((i) => ['xe', statusOf(i), endedMsOf(i), idOf(i)] as IDBValidKey[])
      .sort((a, b) => (a[1]! < b[1]! ? -1 : a[1]! > b[1]! ? 1 : (a[2] as number) - (b[2] as number) || (a[3]! < b[3]! ? -1 : 1)));
    /** What listEnded lists of `status` up to ENDED_TO, in end order. */
    const expected = (status: InstanceState['runtimeStatus']) => wantedEntries()
      .filter((key) => key[1] === status && (key[2] as number) <= ENDED_TO.getTime()).map(lastOfKey);

    /**
     * Writes database `name` at IndexedDB version 2 with the marker `meta` and COUNT instances, created 1 ms apart, most
     * ended (statusOf, endedMsOf); the instances `entries` takes have their end entry, the others none (layout 15 wrote
     * none; a writing of them cut short wrote those up to its place).
     */
    async function ended(name: string, meta: object, entries: (i: number) => boolean = () => false): Promise<void> {
      const source = uniqueName('layout-16-template');
      const first = open(source);
      await create(first, newInstance('template', { n: 1 }));
      await first.close();
      const template = await rawGet(source, ['i', 'template']) as { state: Record<string, unknown> };
      const input = await rawGet(source, ['in', 'template']);
      const { readyMs: _r, headSeq: _h, pendingCount: _p, minVisibleMs: _m, ...row } = template as Record<string, unknown> & { state: Record<string, unknown> };
      const db = await layout15Database(name);
      try {
        const tx = db.transaction(STORE, 'readwrite');
        const raw = tx.objectStore(STORE);
        raw.put(meta, ['meta']);
        for (let i = 0; i < COUNT; i++) {
          const id = idOf(i);
          const status = statusOf(i);
          const createdTime = new Date(createdMsOf(i));
          const lastUpdatedTime = isEnded(i) ? new Date(endedMsOf(i)) : createdTime;
          raw.put({ ...row, id, createdMs: createdMsOf(i), status, state: { ...row.state, instanceId: id, runtimeStatus: status, createdTime, lastUpdatedTime } }, ['i', id]);
          raw.put(input, ['in', id]);
          raw.put(isEnded(i) ? status : 0, ['xc', createdMsOf(i), id]);
          raw.put(0, ['xn', 'Orch', createdMsOf(i), id]);
          if (isEnded(i) && entries(i)) raw.put(0, ['xe', status, endedMsOf(i), id]);
        }
        await done(tx);
      } finally {
        db.close();
      }
    }

    /** Every instance listEnded lists of `status` up to ENDED_TO, page by page (`limit` each), each page after the last. */
    async function allEnded(store: KeyvalStore, status: InstanceState['runtimeStatus'], limit: number): Promise<string[]> {
      const ids: string[] = [];
      let after: { endedMs: number; instanceId: string } | undefined;
      for (;;) {
        const page = await store.listEnded({ runtimeStatus: status, endedTo: ENDED_TO, limit, ...(after ? { after } : {}) });
        ids.push(...page.map((state) => state.instanceId));
        if (page.length < limit) return ids;
        const last = page[page.length - 1]!;
        after = { endedMs: last.lastUpdatedTime.getTime(), instanceId: last.instanceId };
      }
    }

    /** What listEnded must list of `status` in database `name`, read from its rows: store-kit's rule, in end order. */
    async function fromRows(name: string, status: InstanceState['runtimeStatus']): Promise<string[]> {
      const [keys, values] = await Promise.all([rawKeys(name), rawRead<unknown[]>(name, (raw) => raw.getAll())]);
      const query = { runtimeStatus: status, endedTo: ENDED_TO, limit: 1 };
      return keys.flatMap((key, i) => (key[0] === 'i' ? [(values[i] as { state: InstanceState }).state] : []))
        .filter((state) => matchesEndedQuery(state, query))
        .sort((a, b) => compareEndedKeys(endedKeyOf(a), endedKeyOf(b))).map((state) => state.instanceId);
    }

    /**
     * Another tab's starts, as this layout's commits write them: each `insert()` puts 256 instances in one transaction,
     * ids between the page's 256th and 257th rows (those its second read begins with), half ended: among the first of
     * the rows' ends, from their fifth ms on, 64 instances to an end ms, the later a batch the later they end.
     */
    function startsAhead(db: IDBDatabase, template: { state: InstanceState }, createdFrom = T0.getTime() + 5_000): { insert(): void; readonly batches: number } {
      let batches = 0;
      return {
        get batches() {
          return batches;
        },
        insert() {
          const tx = db.transaction(STORE, 'readwrite');
          const raw = tx.objectStore(STORE);
          for (let n = 0; n < 256; n++) {
            const id = `${idOf(255)}-${String(batches * 256 + n).padStart(5, '0')}`;
            const createdMs = createdFrom + batches * 256 + n; // by default, created after every instance
            const status = n % 2 === 0 ? 'Completed' : 'Running';
            const lastUpdatedTime = new Date(status === 'Completed' ? T0.getTime() + 10_005 + Math.floor((batches * 256 + n) / 64) : createdMs);
            raw.put({ ...template, id, createdMs, status, state: { ...template.state, instanceId: id, runtimeStatus: status, createdTime: new Date(createdMs), lastUpdatedTime } }, ['i', id]);
            raw.put(status === 'Completed' ? status : 0, ['xc', createdMs, id]);
            raw.put(0, ['xn', 'Orch', createdMs, id]);
            if (status === 'Completed') raw.put(0, ['xe', status, lastUpdatedTime.getTime(), id]);
          }
          batches++;
        },
      };
    }

    /**
     * A store over a layout-15 database of COUNT instances whose end entries stay unwritten (every row past the place),
     * and another connection starting 256 instances ahead of a page ({@link startsAhead}) as each read of the rows by id
     * is made, `batches` at most, until `stop()`. The reads (`reads`) and the rows each transaction reads
     * (`perTransaction`) are watched; `release()` ends the watches and closes that connection.
     */
    async function insertingAhead(label: string, batches: number, createdFrom?: number) {
      const name = uniqueName(label);
      await ended(name, { version: 15, store: 'durable-rx/keyval' });
      const steps = abortMarkerWritesAfterFirst(); // the writing stays at its start: every row past the place
      const store = open(name);
      await store.getInstance('none'); // opened: the database at this layout's IndexedDB version
      const db = await rawOpen(name);
      const ahead = startsAhead(db, await rawGet(name, ['i', idOf(1)]) as { state: InstanceState }, createdFrom);
      let inserting = true;
      const reads = rowReads(() => {
        if (inserting && ahead.batches < batches) ahead.insert();
      });
      const perTransaction = rowsByTransaction();
      const release = () => {
        perTransaction.uninstall();
        reads.uninstall();
        steps.restore();
        db.close();
      };
      return { name, store, ahead, reads, perTransaction, stop: () => void (inserting = false), release };
    }

    /** Waits until the marker of database `name` names no rebuild, making a call of `store` each time (it starts steps that stopped). */
    async function written(name: string, store: KeyvalStore): Promise<void> {
      await vi.waitFor(async () => {
        await store.getInstance('none');
        expect(await rawGet(name, ['meta'])).toEqual({ version: KEYVAL_SCHEMA_VERSION, store: 'durable-rx/keyval' });
      }, { timeout: SETTLED.timeoutMs, interval: 50 });
    }

    it('opens a layout-15 database of 700 instances without writing an end entry in the open: calls are answered while none is written, listEnded lists exactly meanwhile, and the steps write them after', async () => {
      const name = uniqueName('layout-15-many-ended');
      await ended(name, { version: 15, store: 'durable-rx/keyval' });
      const clock = new VirtualClock(T0);
      // Every step fails (its transaction aborted as it reads the marker): the writing stays at its start meanwhile.
      const steps = abortMarkerWritesAfterFirst();
      const store = open(name, { clock });
      try {
        expect(await store.getInstance(idOf(1))).toMatchObject({ runtimeStatus: 'Completed' });
        // Before: the open wrote all 600 entries in its own transaction, which every call waited for.
        expect(await endEntries(name)).toEqual([]);
        expect(await rawGet(name, ['meta'])).toEqual({ version: KEYVAL_SCHEMA_VERSION, store: 'durable-rx/keyval', ended: {} });
        expect(steps.count()).toBeGreaterThanOrEqual(1);
        expect(await allEnded(store, 'Completed', 40)).toEqual(expected('Completed'));
        expect(await allEnded(store, 'Failed', 7)).toEqual(expected('Failed'));
        expect(await allEnded(store, 'Terminated', 10)).toEqual([]);
      } finally {
        steps.restore();
      }
      await clock.advance(60_000); // past the wait after failed steps
      await written(name, store);
      expect(await endEntries(name)).toEqual(wantedEntries());
      const rows = readsOfRows();
      try {
        expect(await allEnded(store, 'Completed', 40)).toEqual(expected('Completed'));
        // Written, a page reads its own rows only: one per instance listed (and none for the last, short page's end).
        expect(rows.count()).toBe(expected('Completed').length);
      } finally {
        rows.uninstall();
      }
    });

    // Cut short half way (349 rows past the place: every row read, 256 a transaction) and near the end (104: one by one).
    it.each([350, 595])('goes on from its place with a writing cut short (a reload) after %i, listing exactly meanwhile, with the purges made meanwhile', async (place) => {
      const name = uniqueName('layout-16-cut');
      await ended(name, { version: KEYVAL_SCHEMA_VERSION, store: 'durable-rx/keyval', ended: { after: ['xc', createdMsOf(place), idOf(place)] } }, (i) => i <= place);
      const clock = new VirtualClock(T0);
      // Every step fails: the writing stays at its place meanwhile.
      const steps = abortMarkerWritesAfterFirst();
      const store = open(name, { clock });
      // One failed instance on each side of the place, purged meanwhile: its entry (written or not) and its row go.
      const purged = [idOf(5), idOf(place + 5)];
      try {
        expect(await allEnded(store, 'Completed', 40)).toEqual(expected('Completed'));
        expect(await allEnded(store, 'Failed', 20)).toEqual(expected('Failed'));
        for (const id of purged) expect(await store.purgeInstance(id)).toBe(1);
        expect(await allEnded(store, 'Failed', 20)).toEqual(expected('Failed').filter((id) => !purged.includes(id)));
        expect(await rawGet(name, ['meta'])).toMatchObject({ ended: { after: ['xc', createdMsOf(place), idOf(place)] } });
      } finally {
        steps.restore();
      }
      await clock.advance(60_000); // past the wait after failed steps
      await written(name, store);
      expect(await endEntries(name)).toEqual(wantedEntries((i) => !purged.includes(idOf(i))));
      expect(await allEnded(store, 'Failed', 20)).toEqual(expected('Failed').filter((id) => !purged.includes(id)));
      expect(await allEnded(store, 'Completed', 40)).toEqual(expected('Completed'));
    });

    it('lists exactly while instances on both sides of the place end, restart across it, are purged, or are purged and started again, and the steps then write only what is missing', async () => {
      const place = 350;
      const name = uniqueName('layout-16-writes');
      await ended(name, { version: KEYVAL_SCHEMA_VERSION, store: 'durable-rx/keyval', ended: { after: ['xc', createdMsOf(place), idOf(place)] } }, (i) => i <= place);
      const clock = new VirtualClock(T0);
      const steps = abortMarkerWritesAfterFirst(); // the writing stays at its place meanwhile
      const store = open(name, { clock });
      /** Ends instance `id` (started if `createdMs` is given) with `status` at ENDED_TO minus `beforeMs`. */
      const end = async (id: string, status: InstanceState['runtimeStatus'], beforeMs: number, createdMs?: number) => {
        if (createdMs !== undefined) {
          const request = newInstance(id);
          const createdTime = new Date(createdMs);
          await create(store, { ...request, state: { ...request.state, createdTime, lastUpdatedTime: createdTime } });
        } else {
          await send(store, message(id, { type: 'EventRaised', eventId: -1, timestamp: T0.toISOString(), name: 'end' }));
        }
        const item = await claim(store);
        expect(item.state.instanceId).toBe(id);
        await store.commit(commitOf(item.state, item.lease.token, {
          state: { ...item.state, runtimeStatus: status, lastUpdatedTime: new Date(ENDED_TO.getTime() - beforeMs), version: item.state.version + 1 },
          consumedMessageIds: item.messages.map((m) => m.id),
        }));
      };
      const check = async () => {
        for (const status of ['Completed', 'Failed'] as const) expect({ status, listed: await allEnded(store, status, 20) }).toEqual({ status, listed: await fromRows(name, status) });
      };
      const late = T0.getTime() + 5000; // created after every instance: past the place
      try {
        await check();
        await end(idOf(10), 'Completed', 7); // running, before the place: ends
        await end(idOf(place + 3), 'Failed', 7); // running, past it: ends
        await end(idOf(1), 'Completed', 3, late); // ended with its entry, before the place: started again past it, ends
        await end(idOf(place + 1), 'Failed', 5, T0.getTime() - 1); // ended without one, past it: started again before it, ends
        for (const i of [4, place + 4, 6, place + 6]) expect(await store.purgeInstance(idOf(i))).toBe(1);
        await end(idOf(6), 'Completed', 1, late + 1); // purged and started again
        await end(idOf(place + 6), 'Completed', 2, T0.getTime() - 2);
        await create(store, newInstance(idOf(2))); // ended with its entry, before it: started again, runs
        await create(store, newInstance(idOf(place + 2))); // ended without one, past it: started again, runs
        await check();
        expect(await rawGet(name, ['meta'])).toMatchObject({ ended: { after: ['xc', createdMsOf(place), idOf(place)] } });
      } finally {
        steps.restore();
      }
      await clock.advance(60_000); // past the wait after failed steps
      await written(name, store);
      await check();
      // Each ended row has its one entry, and no entry is left of a row that changed.
      const [keys, values] = await Promise.all([rawKeys(name), rawRead<unknown[]>(name, (raw) => raw.getAll())]);
      const wanted = keys.flatMap((key, i) => {
        const state = key[0] === 'i' ? (values[i] as { state: InstanceState }).state : undefined;
        return state && state.runtimeStatus !== 'Running' && state.runtimeStatus !== 'Pending' ? [JSON.stringify(['xe', state.runtimeStatus, state.lastUpdatedTime.getTime(), state.instanceId])] : [];
      });
      expect((await endEntries(name)).map((key) => JSON.stringify(key)).sort()).toEqual(wanted.sort());
    });

    // A page with more than 256 instances past the place reads the rows 256 at a time, a readonly transaction each, so
    // that the store's writes wait for one of them at most; rows change between those transactions. `kept`: the changes
    // touch the rows the page keeps from its first transaction (the earliest-ended of its status); `kept-moved`: one of
    // those only moves later, still of the query, and a row the page left out for it takes its place; `kept-twice`: as
    // `kept`, and another kept row is purged as the page reads the rows again; else others.
    it.each(['kept', 'kept-moved', 'kept-twice', 'others'] as const)('lists exactly while %s of the rows a page read in an earlier transaction change before its next', async (touched) => {
      const place = 5; // nearly every row past it: a page takes them all from the rows it reads
      const name = uniqueName(`layout-16-chunks-${touched}`);
      await ended(name, { version: KEYVAL_SCHEMA_VERSION, store: 'durable-rx/keyval', ended: { after: ['xc', createdMsOf(place), idOf(place)] } }, (i) => i <= place);
      const steps = abortMarkerWritesAfterFirst(); // the writing stays at its place meanwhile
      const store = open(name);
      const db = await (async () => {
        await store.getInstance('none'); // opened: the database at this layout's IndexedDB version
        return rawOpen(name);
      })();
      // The rows read by the page's first transaction (ids in order: 256 of them), those past the place by end.
      const first = Array.from({ length: 256 }, (_, i) => i).filter((i) => i > place);
      const byEnd = (status: InstanceState['runtimeStatus']) => (a: number, b: number) => (statusOf(a) === status ? 0 : 1) - (statusOf(b) === status ? 0 : 1) || endedMsOf(a) - endedMsOf(b) || a - b;
      const [a, b, c] = [...first].sort(byEnd('Completed')) as [number, number, number]; // the earliest-ended Completed it keeps
      const running = first.find((i) => statusOf(i) === 'Running')!;
      const [d, e] = Array.from({ length: COUNT - 512 }, (_, i) => i + 512).sort(byEnd('Completed')) as [number, number]; // read by its third
      const rows = new Map(await Promise.all([a, b, c, running, d, e].map(async (i) => [i, await rawGet(name, ['i', idOf(i)])] as const)));
      /** Writes what a commit or a purge of this layout writes for instance `i`: its row with `state`, or none. */
      const write = (raw: IDBObjectStore, i: number, state?: Partial<InstanceState>) => {
        const id = idOf(i);
        const row = rows.get(i) as { state: InstanceState; status: string };
        if (isEnded(i)) raw.delete(['xe', statusOf(i), endedMsOf(i), id]); // none past the place: as a commit deletes it
        if (state === undefined) {
          for (const key of [['i', id], ['in', id], ['xc', createdMsOf(i), id], ['xn', 'Orch', createdMsOf(i), id]]) raw.delete(key);
          return;
        }
        const next = { ...row.state, ...state };
        const terminal = next.runtimeStatus !== 'Running';
        raw.put({ ...row, status: next.runtimeStatus, state: next }, ['i', id]);
        raw.put(terminal ? next.runtimeStatus : 0, ['xc', createdMsOf(i), id]);
        if (terminal) raw.put(0, ['xe', next.runtimeStatus, next.lastUpdatedTime.getTime(), id]);
      };
      const early = new Date(T0.getTime() + 9_000); // before every end: first of its status
      const changes = (raw: IDBObjectStore) => {
        // Read running: ends (but beside the kept row moved alone, where it would take the place of that row).
        if (touched !== 'kept-moved') write(raw, running, { runtimeStatus: 'Completed', lastUpdatedTime: early });
        if (touched === 'kept' || touched === 'kept-twice') {
          write(raw, a); // kept: purged
          write(raw, b, { lastUpdatedTime: new Date(ENDED_TO.getTime() - 1) }); // kept: a change recorded on it, later
        } else if (touched === 'kept-moved') {
          write(raw, b, { lastUpdatedTime: new Date(ENDED_TO.getTime() - 1) }); // kept: a change recorded on it, later
        } else {
          write(raw, d); // not read yet: purged
          write(raw, e, { lastUpdatedTime: new Date(ENDED_TO.getTime() - 2) }); // not read yet: a change recorded, later
        }
      };
      // Made as the page's first transaction reads its rows: its next transactions, begun after, see them.
      let committed = false;
      let later: boolean | undefined; // a write made as the page reads the rows from the first again
      const { counts: chunks, uninstall } = rowReads((read) => {
        if (read === 1) {
          const tx = db.transaction(STORE, 'readwrite');
          changes(tx.objectStore(STORE));
          tx.oncomplete = () => (committed = true);
        } else if (read === 4) { // 700 rows: past the three reads of the first pass
          const tx = db.transaction(STORE, 'readwrite');
          tx.objectStore(STORE).put(0, ['zz-probe']); // a key nothing reads
          if (touched === 'kept-twice') write(tx.objectStore(STORE), c); // kept again: purged (then one transaction reads them)
          later = false;
          tx.oncomplete = () => (later = true);
        }
      });
      try {
        const page = await store.listEnded({ runtimeStatus: 'Completed', endedTo: ENDED_TO, limit: 20 });
        // The rows read 256 at a time (three reads, the last the 188 left), so that the writes waited for one of the
        // page's transactions: they committed before the page was answered. Read at once (every row), the writes waited
        // for the page. A pass from the first again reads them the same way. (Before, the last read of a pass asked for
        // every row it had left, up to the last id.)
        const pass = [256, 256, 256];
        expect(chunks.slice(0, 6)).toEqual(touched === 'others' ? pass : [...pass, ...pass]);
        expect(committed).toBe(true);
        // A kept row changed while others were left out: the rows are read again from the first, 256 a transaction as
        // well, so a write made meanwhile waited for one of those (read again in one transaction, it waited for all).
        expect(later).toBe(touched === 'others' ? undefined : true);
        const wanted = await fromRows(name, 'Completed');
        if (touched !== 'kept-moved') expect(wanted[0]).toBe(idOf(running));
        expect(page.map((state) => state.instanceId)).toEqual(wanted.slice(0, 20));
        expect(await allEnded(store, 'Completed', 20)).toEqual(wanted);
      } finally {
        uninstall();
        steps.restore();
        db.close();
      }
    });

    // A page with more than 256 instances past the place reads the instance rows 256 a transaction in id order, up to the
    // last instance there was when it began, and counts none (a count goes through every row it counts). Another tab
    // that inserts instances with ids among those the page has still to read puts them in its way: once the page read
    // more than 256 of them (their paging entries come after the last there was when its pass began), it reads the rows
    // it has left by their paging entries, 256 a transaction as well, which such instances do not join. So that tab
    // cannot keep it reading, and no transaction of the page reads more than 256 rows. Those instances have their end
    // entries once ended (this layout's commits write them), so the page lists them as well.
    it('reads a page 256 rows a transaction at most, counting none, while another tab inserts instances ahead of it', async () => {
      // A batch as each read of the rows by id is made (20 at most): the page's next transaction, begun after, sees it.
      const { name, store, ahead, reads, perTransaction, stop, release } = await insertingAhead('layout-16-inserts', 20);
      const counter = countIndexedDb();
      try {
        const page = (await store.listEnded({ runtimeStatus: 'Completed', endedTo: ENDED_TO, limit: 20 })).map((state) => state.instanceId);
        stop();
        // Three reads by id: the first 256 rows, then 512 put in the way; then the 444 rows left (past the 256th) by the
        // 700 paging entries, walked down 1,024 a transaction, the rows of Completed ones read one by one, 256 a
        // transaction at most (two), then the page's rows in a transaction of their own; none counted. Before:
        // the store's first page counted all 700 rows at its first read, and the last of its three reads took every row
        // left up to the last id at once: 700, the 444 and 256 put in the way since the count.
        expect(perTransaction.counts()).toBe(0);
        expect(reads.counts).toEqual([256, 256, 256]);
        expect(Math.max(...perTransaction.rows())).toBeLessThanOrEqual(256);
        expect(counter.counts().readonly).toBe(1 + 3 + 3);
        expect(ahead.batches).toBe(3);
        const wanted = await fromRows(name, 'Completed');
        // The page as the rule lists it: inserted instances, by their entries, and of the rows, some read by id and some
        // by their paging entries.
        expect(page).toEqual(wanted.slice(0, 20));
        expect(page.filter((id) => id.length > idOf(0).length).length).toBeGreaterThan(0);
        expect(page.filter((id) => id.length === idOf(0).length && id <= idOf(255)).length).toBeGreaterThan(0);
        expect(page.filter((id) => id.length === idOf(0).length && id > idOf(255)).length).toBeGreaterThan(0);
        // The next page, none put in its way, reads the 1,468 rows by id, 256 a transaction (six), none counted. Before,
        // it counted those past the rows the first page read.
        const last = page[page.length - 1]!;
        const after = { endedMs: (await store.getInstance(last))!.lastUpdatedTime.getTime(), instanceId: last };
        counter.reset();
        const next = await store.listEnded({ runtimeStatus: 'Completed', endedTo: ENDED_TO, limit: 20, after });
        expect(next.map((state) => state.instanceId)).toEqual(wanted.slice(20, 40));
        expect(perTransaction.counts()).toBe(0);
        expect(reads.counts.slice(3)).toEqual(Array.from({ length: 6 }, () => 256));
        expect(Math.max(...perTransaction.rows())).toBeLessThanOrEqual(256);
        expect(counter.counts().readonly).toBe(1 + 6);
        expect(await allEnded(store, 'Completed', 20)).toEqual(wanted);
      } finally {
        counter.uninstall();
        release();
      }
    });

    // The last paging entry is an instance a tab whose clock is ahead started (here a day ahead of the page's store): every
    // other tab's starts come before it, so the page could not tell them by it, never read by paging entries, and a tab
    // inserting ahead of its reads by id kept it reading as long as it went on (here until the 20th batch: 20 reads by
    // id, 5,120 rows put in its way). The page now walks down the paging entries from its first transaction, and a tab
    // whose clock goes up only lands its starts below the walk until the walk passes that clock.
    it('reads a page to its end while another tab inserts ahead of it, the last instance started by a tab whose clock is ahead', async () => {
      const { name, store, ahead, reads, perTransaction, stop, release } = await insertingAhead('layout-16-inserts-clock-ahead', 0);
      // The tab whose clock is ahead: its start, as this layout's commits write one (a Running instance, no end entry).
      const clock = new VirtualClock(new Date(Date.now() + 86_400_000));
      const template = await rawGet(name, ['i', idOf(1)]) as { state: InstanceState };
      const createdTime = clock.now();
      await rawWrite(name, (raw) => {
        const state = { ...template.state, instanceId: 'zz-ahead', runtimeStatus: 'Running', createdTime, lastUpdatedTime: createdTime };
        raw.put({ ...template, id: 'zz-ahead', createdMs: createdTime.getTime(), status: 'Running', state }, ['i', 'zz-ahead']);
        raw.put(0, ['xc', createdTime.getTime(), 'zz-ahead']);
        raw.put(0, ['xn', 'Orch', createdTime.getTime(), 'zz-ahead']);
      });
      // A batch as each readonly transaction of the page begins (20 at most): the transaction, begun after it, sees it.
      const { transaction } = IDBDatabase.prototype;
      let inserting = true;
      IDBDatabase.prototype.transaction = function (this: IDBDatabase, ...args: Parameters<IDBDatabase['transaction']>) {
        if (inserting && args[1] !== 'readwrite' && ahead.batches < 20) ahead.insert();
        return transaction.apply(this, args);
      } as IDBDatabase['transaction'];
      try {
        const page = (await store.listEnded({ runtimeStatus: 'Completed', endedTo: ENDED_TO, limit: 20 })).map((state) => state.instanceId);
        inserting = false;
        stop();
        // No read by id: the page walks down the paging entries from the last, 1,024 a transaction, reading the Completed
        // rows among them one by one, 256 a transaction at most, and the page's rows in a transaction of its own. The
        // batches put in its way before it came down past their entries (the later a batch, the later its entries) are
        // among those; five transactions, a batch each. Before: 23 reads by id of 256 rows, the page ending only as the
        // inserting tab stopped at its 20th batch.
        expect(reads.counts).toEqual([]);
        expect(Math.max(...perTransaction.rows())).toBeLessThanOrEqual(256);
        expect(ahead.batches).toBe(5);
        expect(page).toEqual((await fromRows(name, 'Completed')).slice(0, 20));
        expect(page.filter((id) => id.length > idOf(0).length).length).toBeGreaterThan(0);
      } finally {
        inserting = false;
        IDBDatabase.prototype.transaction = transaction;
        release();
      }
    });

    // A tab whose clock is behind the creation time of the last instance (here its first batch, created up to that very
    // ms) puts its starts in the page's way uncounted: their paging entries come before that last one. Only until its
    // clock passes that time: its next batches come after it, are counted, and once more than 256 were read the page
    // walks down the paging entries as above, one read by id later (the uncounted batch).
    it('counts the starts of a tab whose clock is behind the last instance once its clock passes that instance', async () => {
      const behind = createdMsOf(COUNT - 1) - 255;
      const { name, store, ahead, reads, perTransaction, stop, release } = await insertingAhead('layout-16-inserts-clock-behind', 20, behind);
      const counter = countIndexedDb();
      try {
        const page = (await store.listEnded({ runtimeStatus: 'Completed', endedTo: ENDED_TO, limit: 20 })).map((state) => state.instanceId);
        stop();
        // Four reads by id: the first 256 rows, the uncounted batch, then 512 counted; then the walk (two transactions,
        // the 444 rows left) and the page's rows.
        expect(reads.counts).toEqual([256, 256, 256, 256]);
        expect(ahead.batches).toBe(4);
        expect(counter.counts().readonly).toBe(1 + 4 + 3);
        expect(Math.max(...perTransaction.rows())).toBeLessThanOrEqual(256);
        expect(page).toEqual((await fromRows(name, 'Completed')).slice(0, 20));
      } finally {
        counter.uninstall();
        release();
      }
    });

    // The page above takes 20: the rows its passes read by their paging entries after the switch lie past them. One page
    // as large as the listing (1,024 put in its way, 4 batches) lists each of those rows too, or it is not the rule's.
    it('lists every ended instance in one page as large as the listing while another tab inserts ahead of it, the rows read by their paging entries with them', async () => {
      const { name, store, ahead, perTransaction, stop, release } = await insertingAhead('layout-16-inserts-whole', 4);
      try {
        const page = (await store.listEnded({ runtimeStatus: 'Completed', endedTo: ENDED_TO, limit: 1_000 })).map((state) => state.instanceId);
        stop();
        expect(perTransaction.counts()).toBe(0);
        // More than 256 rows were put in its way, so the pass read the rest by their paging entries.
        expect(ahead.batches).toBeGreaterThan(1);
        const wanted = await fromRows(name, 'Completed');
        expect(wanted.length).toBeLessThan(1_000); // the page is the whole listing
        expect(page).toEqual(wanted);
      } finally {
        release();
      }
    });

    // A page read over several transactions is one call: close() waits for all of it, as for a page read in one, and
    // does not refuse its next transactions as calls made after close() (`beforeCall: true`).
    it('answers a page read over several transactions that is under way when the store is closed', async () => {
      const name = uniqueName('layout-16-close-mid-page');
      await ended(name, { version: 15, store: 'durable-rx/keyval' });
      const steps = abortMarkerWritesAfterFirst(); // the writing stays at its start: every row past the place
      const store = open(name);
      const reads = rowReads(); // the reads of the instance rows, one a transaction
      try {
        await store.getInstance('none'); // opened, the writing's marker at its start
        const page = store.listEnded({ runtimeStatus: 'Completed', endedTo: ENDED_TO, limit: 20 });
        const closing = store.close();
        expect((await page).map((state) => state.instanceId)).toEqual(expected('Completed').slice(0, 20));
        await closing;
        expect(reads.counts.length).toBeGreaterThanOrEqual(3); // 700 rows, 256 a transaction
        await expect(store.listEnded({ runtimeStatus: 'Completed', endedTo: ENDED_TO, limit: 20 })).rejects.toMatchObject({ name: 'StoreClosedError', beforeCall: true });
      } finally {
        reads.uninstall();
        steps.restore();
      }
    });

    it('lists exactly, page by page, while the writing moves on under the listing in two tabs, which write each entry once', async () => {
      const name = uniqueName('layout-15-two-tabs');
      await ended(name, { version: 15, store: 'durable-rx/keyval' });
      const puts = endEntryPuts();
      try {
        const tabs = [open(name), open(name)];
        const [completed, failed] = await Promise.all([allEnded(tabs[0]!, 'Completed', 10), allEnded(tabs[1]!, 'Failed', 3)]);
        expect(completed).toEqual(expected('Completed'));
        expect(failed).toEqual(expected('Failed'));
        await written(name, tabs[1]!);
        expect(await endEntries(name)).toEqual(wantedEntries());
        // Each step reads the place the other tab's step left: no entry is written twice (both from the start: 1,200).
        expect(puts.count()).toBe(wantedEntries().length);
      } finally {
        puts.uninstall();
      }
    });
  });

  it('raises the IndexedDB version, so that a tab of layout 15 (which writes no end entry) closes its connection', async () => {
    const name = uniqueName('layout-15-tab');
    const connection = await layout15Database(name);
    const tx = connection.transaction(STORE, 'readwrite');
    tx.objectStore(STORE).put({ version: 15, store: 'durable-rx/keyval' }, ['meta']);
    await done(tx);
    let asked: number | null | undefined;
    connection.onversionchange = (event) => {
      asked = event.newVersion;
      connection.close();
    };
    const store = open(name);
    await create(store, newInstance('a'));
    expect(asked).toBe(3);
    expect((await connectionOf(store)).version).toBe(3);
    await rebuilt(name);
  });

  it('reads each row of a page and no other: the entries of the page\'s key range, however many ended before its key or after its time', async () => {
    const name = uniqueName('end-entries-reads');
    const store = open(name);
    const ids = Array.from({ length: 60 }, (_, i) => `e${String(i).padStart(2, '0')}`);
    for (const id of ids) await create(store, newInstance(id));
    // Ended in the reverse order of their ids: e59 first.
    await endAll(store, new Map(ids.map((id, i) => [id, ['Completed', 1000 * (ids.length - i)]])));
    const byEnd = [...ids].reverse();
    const rows = readsOfRows();
    const counter = countIndexedDb();
    try {
      const page = await store.listEnded({
        runtimeStatus: 'Completed', endedTo: new Date(T0.getTime() + 40_000), after: { endedMs: T0.getTime() + 30_000, instanceId: byEnd[29]! }, limit: 5,
      });
      expect(page.map((state) => state.instanceId)).toEqual(byEnd.slice(30, 35));
      expect(rows.count()).toBe(5);
      // One readonly transaction: a getAllKeys of the page's entries, and its five rows.
      expect(counter.counts()).toMatchObject({ readonly: 1, requests: 6, byMethod: { getAllKeys: 1, get: 5 } });
    } finally {
      counter.uninstall();
      rows.uninstall();
    }
  });

  it('lets a retention sweep of a status kept 0 ms list none of the children running parents keep once they settled, over 45 sweeps', async () => {
    // Listed by createdTime (before this layout), each sweep listed the kept status from the start: 30 rows a sweep.
    const SWEEP_MS = 61_000; // a delay no other timer of the runtime has: the sweep's own
    const orchestrators: Record<string, Orchestrator> = {
      Quick: function* () {
        return 'done';
      },
      Parent: function* (ctx) {
        yield ctx.callSubOrchestrator('Quick', undefined, `${ctx.instanceId}-child`);
        return yield ctx.waitForExternalEvent('go');
      },
    };
    const clock = new VirtualClock();
    const store = open(uniqueName('kept-children'));
    const runtimes: Runtime[] = [];
    try {
      const maker = createRuntime({ store, clock, orchestrators, logger: silentLogger });
      runtimes.push(maker);
      await maker.start();
      const parents = Array.from({ length: 30 }, (_, i) => `p${String(i).padStart(2, '0')}`);
      for (const id of parents) await maker.client.startNew('Parent', { instanceId: id });
      for (const id of parents) expect((await maker.client.waitForCompletion(`${id}-child`, SETTLED)).runtimeStatus).toBe('Completed');
      await maker.stop();
      // What the sweeps list, in end order or (without it) by createdTime, and the sweeps armed (timers of their delay).
      const listed: string[] = [];
      const listEnded = (store as Store).listEnded?.bind(store);
      if (listEnded) {
        store.listEnded = async (query) => {
          const page = await listEnded(query);
          listed.push(...page.map((state) => state.instanceId));
          return page;
        };
      }
      const queryInstances = store.queryInstances.bind(store);
      store.queryInstances = async (query) => {
        const page = await queryInstances(query);
        if (query.createdTimeTo !== undefined) listed.push(...page.instances.map((state) => state.instanceId));
        return page;
      };
      let armed = 0;
      const counting: typeof clock = Object.assign(Object.create(clock) as typeof clock, {
        now: () => clock.now(),
        setTimeout: (callback: () => void, delayMs: number) => {
          if (delayMs === SWEEP_MS) armed++;
          return clock.setTimeout(callback, delayMs);
        },
        clearTimeout: (timer: Parameters<typeof clock.clearTimeout>[0]) => clock.clearTimeout(timer),
      });
      const sweeper = createRuntime({ store, clock: counting, orchestrators, logger: silentLogger, retention: { completed: 0, intervalMs: SWEEP_MS } });
      runtimes.push(sweeper);
      await sweeper.start();
      let fired = 0;
      /** Waits for the sweep before to arm the next one, and moves the clock to it. */
      const nextSweep = async () => {
        await vi.waitFor(() => expect(armed).toBeGreaterThan(fired), { timeout: SETTLED.timeoutMs });
        fired = armed;
        await clock.advance(SWEEP_MS);
      };
      await clock.advance(0); // the first sweep
      await vi.waitFor(() => expect(listed).toHaveLength(parents.length), { timeout: SETTLED.timeoutMs });
      // The passes within the settle time of the ends (5 min) list the children again; ten sweeps go past it.
      for (let i = 0; i < 10; i++) await nextSweep();
      const settled = listed.length;
      for (let i = 0; i < 45; i++) await nextSweep();
      await nextSweep(); // the 45th has ended: it armed the next
      expect(listed.length - settled).toBe(0);
      expect(await store.getInstance('p00-child')).toMatchObject({ runtimeStatus: 'Completed' });
    } finally {
      await Promise.all(runtimes.map((runtime) => runtime.stop({ graceMs: 0 })));
    }
  });
});
