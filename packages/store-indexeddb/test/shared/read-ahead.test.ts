import { LeaseLostError } from '@durable-rx/runtime';
import type { ActivityTask, OrchestrationMessage, Store, WriteSet } from '@durable-rx/runtime/store-kit';
import { afterEach, describe, expect, it } from 'vitest';
import { MAX_ROWS, ReadsAhead, sameValue, type CommittedRows } from '../../src/internal/read-ahead.js';
import { adapters, claim, commitOf, create, message, newInstance, send, T0, uniqueName, type AdapterName } from './fixtures.js';

const event = (instanceId: string, name: string): OrchestrationMessage =>
  message(instanceId, { type: 'EventRaised', eventId: -1, timestamp: T0.toISOString(), name });

// A commit takes the rows this handle last committed instead of waiting for its reads, and checks them against the
// database before it commits (src/internal/read-ahead.ts). Here another handle on the database changes such a row in
// between: the commit must be decided on the row as the database has it, as if it had waited for its reads.
describe.each(Object.keys(adapters) as AdapterName[])('%s: a commit on a row another handle changed since this one wrote it', (adapter) => {
  const opened: Store[] = [];
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((s) => s.close()));
  });
  /** Two handles on one new database. */
  const openTwo = () => {
    const name = uniqueName('read-ahead');
    const stores = [adapters[adapter](name), adapters[adapter](name)] as const;
    opened.push(...stores);
    return stores;
  };

  it('keeps a message the other handle sent after the claim: the instance is claimable with it', async () => {
    const [mine, other] = openTwo();
    await create(mine, newInstance('x'));
    const item = await claim(mine); // this handle wrote the row last: one pending message, leased here
    await send(other, event('x', 'late'));
    await mine.commit(commitOf(item.state, item.lease.token, {
      consumedMessageIds: item.messages.map((m) => m.id),
      state: { ...item.state, runtimeStatus: 'Running', version: item.state.version + 1 },
    }));
    const next = await claim(other, new Date(T0.getTime() + 60_000));
    expect(next.messages.map((m) => ('name' in m.event ? m.event.name : m.event.type))).toEqual(['late']);
    expect(next.state.version).toBe(item.state.version + 1);
  });

  it('refuses a step whose lease the other handle took over after it expired, and writes nothing', async () => {
    const [mine, other] = openTwo();
    await create(mine, newInstance('y'));
    const item = await claim(mine);
    const later = new Date(T0.getTime() + 60_000); // past the 30 s lease
    await send(other, event('y', 'nudge'));
    const taken = await claim(other, later);
    expect(taken.lease.token).not.toBe(item.lease.token);
    await expect(mine.commit(commitOf(item.state, item.lease.token, {
      consumedMessageIds: item.messages.map((m) => m.id),
      state: { ...item.state, runtimeStatus: 'Running', version: item.state.version + 1 },
    }))).rejects.toBeInstanceOf(LeaseLostError);
    expect(await other.getInstance('y')).toMatchObject({ runtimeStatus: 'Pending', version: 1 });
    expect(await mine.getHistory('y')).toEqual([]);
  });

  it('creates an instance again that the other handle completed and purged since this one created it', async () => {
    const [mine, other] = openTwo();
    await create(mine, newInstance('x'));
    const item = await claim(other);
    await other.commit(commitOf(item.state, item.lease.token, {
      consumedMessageIds: item.messages.map((m) => m.id),
      state: { ...item.state, runtimeStatus: 'Completed', version: item.state.version + 1 },
    }));
    expect(await other.purgeInstance('x')).toBe(1);
    // This handle remembers x as Pending, which `ifRunning: fail` refuses: the database no longer has it.
    await create(mine, newInstance('x'));
    expect(await other.getInstance('x')).toMatchObject({ runtimeStatus: 'Pending', version: 1 });
  });

  it('refuses to complete an activity whose lease the other handle took over after it expired', async () => {
    const [mine, other] = openTwo();
    await create(mine, newInstance('a'));
    const item = await claim(mine);
    const task: ActivityTask = { id: 't1', instanceId: 'a', executionId: 'exec-1', name: 'Act', taskScheduledId: 0, attempt: 1 };
    await mine.commit(commitOf(item.state, item.lease.token, {
      consumedMessageIds: item.messages.map((m) => m.id),
      state: { ...item.state, runtimeStatus: 'Running', version: item.state.version + 1 },
      activityTasks: [task],
    }));
    const mineLease = await mine.claimActivity({ owner: 'w', leaseMs: 1000, now: T0 });
    expect(mineLease?.task.id).toBe('t1');
    const otherLease = await other.claimActivity({ owner: 'x', leaseMs: 1000, now: new Date(T0.getTime() + 5000) });
    expect(otherLease?.task.id).toBe('t1');
    const done: WriteSet = {
      lease: { kind: 'activity', taskId: 't1', token: mineLease!.lease.token },
      requests: [
        { type: 'deleteTask', taskId: 't1' },
        {
          type: 'insertMessage', ifMissing: 'drop',
          message: message('a', { type: 'TaskCompleted', eventId: -1, timestamp: T0.toISOString(), taskScheduledId: 0, result: 'done' }),
        },
      ],
    };
    await expect(mine.commit(done)).rejects.toBeInstanceOf(LeaseLostError);
  });
});

// The check of a row read ahead must end in a commit or an abort, whatever happens on the way: here comparing the row
// throws (a payload with a getter that works once more, for the write's structured clone, then throws), and the commit
// must still be decided on the database: nothing of the failed attempt written, the message sent once.
describe.each(Object.keys(adapters) as AdapterName[])('%s: a commit whose check of a row read ahead throws', (adapter) => {
  it('runs again reading the database, and writes its messages once', async () => {
    const store = adapters[adapter](uniqueName('read-ahead-throws'));
    try {
      let readsLeft = Infinity;
      const input = { get value() {
        if (readsLeft-- <= 0) throw new Error('read once too often');
        return 1;
      } };
      await create(store, newInstance('z', input)); // remembered with `input` itself
      readsLeft = 1; // the row the send writes back is cloned; then the check of the row read ahead throws
      await send(store, event('z', 'one'));
      const item = await claim(store);
      expect(item.messages.map((m) => ('name' in m.event ? m.event.name : m.event.type))).toEqual(['Orch', 'one']);
    } finally {
      await store.close();
    }
  });
});

describe('sameValue: a row read back from IndexedDB against the one remembered', () => {
  const row = { id: 'x', createdMs: 1, state: { createdTime: new Date(T0), output: ['a', { b: null }], version: 2 } };

  it('is the same for a structured clone, whatever the property order', () => {
    expect(sameValue(structuredClone(row), row)).toBe(true);
    expect(sameValue({ state: row.state, createdMs: 1, id: 'x' }, row)).toBe(true);
  });

  it('differs in any field, in a Date, in a missing or extra property, in an array length', () => {
    expect(sameValue({ ...row, createdMs: 2 }, row)).toBe(false);
    expect(sameValue({ ...row, state: { ...row.state, createdTime: new Date(T0.getTime() + 1) } }, row)).toBe(false);
    expect(sameValue({ ...row, lease: undefined }, row)).toBe(false);
    expect(sameValue({ ...row, state: { ...row.state, output: ['a'] } }, row)).toBe(false);
    expect(sameValue(undefined, row)).toBe(false);
  });

  it('counts what is not plain data (a Map) as different, which only costs a read', () => {
    expect(sameValue(new Map(), new Map())).toBe(false);
    expect(sameValue(['a'], { 0: 'a' })).toBe(false);
  });
});

describe('ReadsAhead.committed: what a store handle remembers', () => {
  const committing = (entries: Iterable<readonly [string, unknown]>) => {
    const reads = new ReadsAhead(undefined);
    for (const [key, value] of entries) reads.writes.set(key, value);
    return reads;
  };

  it('forgets deleted rows and those `keep` refuses, so a later read goes to the database', () => {
    const rows: CommittedRows = new Map([['i:a', { status: 'Running' }], ['i:b', { status: 'Running' }]]);
    committing([['i:a', undefined], ['i:b', { status: 'Completed' }], ['i:c', { status: 'Running' }]])
      .committed(rows, (row) => (row as { status: string }).status !== 'Completed');
    expect([...rows.keys()]).toEqual(['i:c']);
  });

  it('keeps at most MAX_ROWS rows, the most recently written', () => {
    const rows: CommittedRows = new Map();
    committing(Array.from({ length: MAX_ROWS + 10 }, (_, i) => [`i:${i}`, { n: i }] as const)).committed(rows);
    expect(rows.size).toBe(MAX_ROWS);
    expect(rows.has('i:9')).toBe(false);
    expect(rows.has(`i:${MAX_ROWS + 9}`)).toBe(true);
  });
});
