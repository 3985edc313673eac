import { firstValueFrom } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import type { ActivityTask, Store, WriteSet } from '@durable-rx/runtime/store-kit';
import { countIndexedDb } from '../count-idb.js';
import { adapters, claim, commitOf, create, message, newInstance, send, T0, uniqueName, type AdapterName } from './fixtures.js';

const opened: Store[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((s) => s.close().catch(() => undefined)));
});

const at = (ms: number) => new Date(T0.getTime() + ms);
const task = (id: string): ActivityTask => ({ id, instanceId: 'a', executionId: 'exec-1', name: 'Act', taskScheduledId: Number(id.slice(1)), attempt: 1 });

/** Two handles of one new database (a worker's and another tab's). */
function openTwo(adapter: AdapterName): [Store, Store] {
  const name = uniqueName('wake-reads');
  const pair: [Store, Store] = [adapters[adapter](name), adapters[adapter](name)];
  opened.push(...pair);
  return pair;
}

/** Instance `a` started and stepped on `store`, its step scheduling `tasks` (unleased). */
async function scheduled(store: Store, tasks: readonly ActivityTask[]): Promise<void> {
  await create(store, newInstance('a'));
  const item = await claim(store);
  await store.commit(commitOf(item.state, item.lease.token, {
    consumedMessageIds: item.messages.map((m) => m.id),
    state: { ...item.state, runtimeStatus: 'Running', version: item.state.version + 1 },
    activityTasks: tasks,
  }));
}

/** The completion of the activity `taskId` held with `token`: the task deleted, its result sent to its instance. */
function completion(taskId: string, token: string): WriteSet {
  return {
    lease: { kind: 'activity', taskId, token },
    requests: [
      { type: 'deleteTask', taskId },
      {
        type: 'insertMessage', ifMissing: 'drop',
        message: message('a', { type: 'TaskCompleted', eventId: -1, timestamp: T0.toISOString(), taskScheduledId: Number(taskId.slice(1)), result: 'done' }),
      },
    ],
  };
}

// The reads that tell a worker whether work is due and when to wake (the claim's look, nextWakeTime) read the claim
// indexes from their start: DexieStore's look reads no further than now, and its wake time in a readwrite
// transaction (Chromium keeps an index entry of a changed or deleted row until a readwrite read passes it). Whatever
// they read, no work may be missed or found late (work another handle wrote: once its signal arrived, as a worker
// learns of it).
describe.each(Object.keys(adapters) as AdapterName[])('%s: the wake-time reads', (adapter) => {
  it('find ready work at once after a lease that ended early: a task completed long before its lease would expire', async () => {
    const [worker, tab] = openTwo(adapter);
    // Two tasks: in DexieStore the first is kept in the instance's row, the second is a row of the tasks table.
    await scheduled(tab, [task('t1'), task('t2')]);
    const first = await worker.claimActivity({ owner: 'w', leaseMs: 300_000, now: T0 });
    expect(first?.task.id).toBe('t1');
    await worker.commit(completion('t1', first!.lease.token));
    expect((await worker.nextWakeTime(T0))?.getTime()).toBeLessThanOrEqual(T0.getTime());
    const second = await worker.claimActivity({ owner: 'w', leaseMs: 300_000, now: T0 });
    expect(second?.task.id).toBe('t2');
    await worker.commit(completion('t2', second!.lease.token));
    // Nothing leased nor ready is left: the wake time is the instance's, its results are due now.
    expect((await tab.nextWakeTime(T0))?.getTime()).toBeLessThanOrEqual(T0.getTime());
    expect(await worker.claimActivity({ owner: 'w', leaseMs: 300_000, now: at(600_000) })).toBeUndefined();
  });

  it('wake a worker on another handle at the expiry of a lease whose holder is gone, and it claims the task then, not earlier', async () => {
    const [holder, worker] = openTwo(adapter);
    await scheduled(holder, [task('t1')]);
    expect((await holder.claimActivity({ owner: 'gone', leaseMs: 30_000, now: T0 }))?.task.id).toBe('t1');
    // The holder stays open: the lease is all the worker sees of it, open or gone. Closing it raced its `bye` against
    // its lock's release: a release seen first reads as a tab gone without its goodbye, and the worker released the
    // lease at once (ready now), a different case from the expiry these lines check.
    expect(await worker.nextWakeTime(T0)).toEqual(at(30_000));
    expect(await worker.claimActivity({ owner: 'w', leaseMs: 30_000, now: at(29_999) })).toBeUndefined();
    expect(await worker.nextWakeTime(at(29_999))).toEqual(at(30_000));
    const taken = await worker.claimActivity({ owner: 'w', leaseMs: 30_000, now: at(30_000) });
    expect(taken?.task.id).toBe('t1');
    expect(taken?.lease.expiresAt).toEqual(at(60_000));
    expect(await worker.nextWakeTime(at(30_000))).toEqual(at(60_000));
  });

  it('find a timer whose time has already passed, sent by another handle', async () => {
    const [worker, tab] = openTwo(adapter);
    await create(worker, newInstance('a'));
    const item = await claim(worker);
    await worker.commit(commitOf(item.state, item.lease.token, {
      consumedMessageIds: item.messages.map((m) => m.id),
      state: { ...item.state, runtimeStatus: 'Running', version: item.state.version + 1 },
    }));
    expect(await worker.claimOrchestration({ owner: 'w', leaseMs: 30_000, now: T0 })).toBeUndefined();
    const signalled = firstValueFrom(worker.workAvailable$);
    await send(tab, { ...message('a', { type: 'TimerFired', eventId: -1, timestamp: T0.toISOString(), timerId: 0, fireAt: at(-60_000).toISOString() }), visibleAt: at(-60_000) });
    await signalled;
    expect((await worker.nextWakeTime(T0))?.getTime()).toBeLessThanOrEqual(T0.getTime());
    const fired = await worker.claimOrchestration({ owner: 'w', leaseMs: 30_000, now: T0 });
    expect(fired?.messages.map((m) => m.event.type)).toEqual(['TimerFired']);
  });

  it('find a start written by another handle whose clock is an hour behind', async () => {
    const [worker, tab] = openTwo(adapter);
    expect(await worker.claimOrchestration({ owner: 'w', leaseMs: 30_000, now: T0 })).toBeUndefined();
    const signalled = firstValueFrom(worker.workAvailable$);
    const behind = newInstance('late');
    const created = at(-3_600_000);
    await create(tab, {
      state: { ...behind.state, createdTime: created, lastUpdatedTime: created },
      message: { ...behind.message, event: { ...behind.message.event, timestamp: created.toISOString() } },
    });
    await signalled;
    expect((await worker.nextWakeTime(T0))?.getTime()).toBeLessThanOrEqual(T0.getTime());
    expect((await worker.claimOrchestration({ owner: 'w', leaseMs: 30_000, now: T0 }))?.state.instanceId).toBe('late');
  });

  it('look for due tasks without reading a claim entry past now; DexieStore reads the wake time, which reads past it, in a readwrite transaction', async () => {
    const [holder, worker] = openTwo(adapter);
    await scheduled(holder, [task('t1')]);
    expect((await holder.claimActivity({ owner: 'h', leaseMs: 30_000, now: T0 }))?.task.id).toBe('t1');
    // Where the leased task's claim entry is, in either layout: DexieStore's [readyMs, order], KeyvalStore's keys.
    const expiry = at(30_000).getTime();
    const entries = [[expiry, 0], ['xp', expiry, 0, ''], ['xt', expiry, 0, '']];
    const pastNow = await lookThenWake(adapter, worker, () => worker.claimActivity({ owner: 'w', leaseMs: 30_000, now: T0 }), entries, at(30_000));
    expect(pastNow).toEqual([]);
  });

  it('look for due instances without reading a claim entry past now in DexieStore, and still wake at the expiry of a lease whose holder is gone', async () => {
    const [holder, worker] = openTwo(adapter);
    await create(holder, newInstance('a'));
    expect((await holder.claimOrchestration({ owner: 'gone', leaseMs: 30_000, now: T0 }))?.state.instanceId).toBe('a');
    // The holder stays open: the lease is all the worker sees of it, open or gone. Closing it raced its `bye` against
    // its lock's release: a release seen first reads as a tab gone without its goodbye, and the worker released the
    // lease at once (ready now), a different case from the expiry these lines check.
    // The claimed instance's entry in the claim index `[readyMs, headSeq]` sits at its lease's expiry.
    const expiry = at(30_000).getTime();
    const entries = [[expiry, 0], [expiry, Number.MAX_SAFE_INTEGER]];
    const pastNow = await lookThenWake(adapter, worker, () => worker.claimOrchestration({ owner: 'w', leaseMs: 30_000, now: T0 }), entries, at(30_000));
    // KeyvalStore's look reads on (its entries go with their rows) and hands the instances' next time to the wake time.
    if (adapter === 'DexieStore') expect(pastNow).toEqual([]);
    expect(await worker.claimOrchestration({ owner: 'w', leaseMs: 30_000, now: at(29_999) })).toBeUndefined();
    expect((await worker.claimOrchestration({ owner: 'w', leaseMs: 30_000, now: at(30_000) }))?.state.instanceId).toBe('a');
  });
});

/**
 * The reads of `look` (a claim on `worker` that finds nothing at T0) whose range holds one of `entries`; the
 * `nextWakeTime(T0)` that follows it answers `wake`, read in a readwrite transaction in DexieStore, a readonly one in
 * KeyvalStore.
 */
async function lookThenWake(
  adapter: AdapterName, worker: Store, look: () => Promise<unknown>, entries: readonly IDBValidKey[], wake: Date,
): Promise<IDBKeyRange[]> {
  const { ranges, restore } = recordRanges();
  const counter = countIndexedDb();
  try {
    expect(await look()).toBeUndefined();
    expect(ranges.length).toBeGreaterThan(0);
    const pastNow = ranges.filter((range) => entries.some((key) => range.includes(key)));
    counter.reset();
    expect(await worker.nextWakeTime(T0)).toEqual(wake);
    expect(counter.counts()).toMatchObject(adapter === 'DexieStore' ? { readwrite: 1, readonly: 0 } : { readwrite: 0, readonly: 1 });
    return pastNow;
  } finally {
    counter.uninstall();
    restore();
  }
}

/** Records the key range of every IndexedDB read made until `restore()`. */
function recordRanges(): { ranges: IDBKeyRange[]; restore: () => void } {
  const ranges: IDBKeyRange[] = [];
  const undo = (['getAll', 'getAllKeys', 'openCursor', 'openKeyCursor'] as const).flatMap((method) => [IDBIndex.prototype, IDBObjectStore.prototype].map((proto) => {
    const original = proto[method] as (...args: unknown[]) => IDBRequest;
    (proto as unknown as Record<string, unknown>)[method] = function (this: unknown, ...args: unknown[]) {
      // A range, or an options object holding one (Dexie's `getAll({ query, count })`).
      const query = args[0] !== null && typeof args[0] === 'object' && 'query' in args[0] ? args[0].query : args[0];
      if (query instanceof IDBKeyRange) ranges.push(query);
      return original.apply(this, args);
    };
    return () => { (proto as unknown as Record<string, unknown>)[method] = original; };
  }));
  return { ranges, restore: () => { for (const restore of undo) restore(); } };
}
