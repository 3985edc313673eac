import { createClient, createRuntime, silentLogger } from '@durable-rx/runtime';
import { helloSequence, sayHello } from '@durable-rx/runtime/samples';
import { afterEach, describe, expect, it } from 'vitest';
import { countIndexedDb, type IdbCounter, type IdbCounts } from '../count-idb.js';
import { LeaseLostError } from '@durable-rx/runtime';
import type { InstanceState, Store } from '@durable-rx/runtime/store-kit';
import { adapters, claim, commitOf, create, message, newInstance, T0, uniqueName, type AdapterName } from './fixtures.js';

// IndexedDB work per orchestration step of the hello sequence (4 steps, 3 activities per instance), counted by
// wrapping the IndexedDB prototypes. Counts depend only on the sequence of store calls, not on speed: `requestsPerStep`
// is what one instance costs (its start and four steps), pinned, so that a change that saves a request, or costs one,
// shows here and not only in the bench. Both stores write the start's instance without reading it (a request more
// with the read): DexieStore 15 requests, KeyvalStore 23, two of them the instance's name entry (for the list's name
// filter), written once, at its start, and its end entry (for listEnded), written once, by the step that ends it; the
// steps before add none. Concurrent instances may cost a little more (a claim that finds nothing): at most
// `concurrentRequestsPerStep`.
const budgets: Record<AdapterName, { readonly requestsPerStep: number; readonly concurrentRequestsPerStep: number }> = {
  DexieStore: { requestsPerStep: 3.75, concurrentRequestsPerStep: 3.95 },
  KeyvalStore: { requestsPerStep: 5.75, concurrentRequestsPerStep: 5.9 },
};

let counter: IdbCounter | undefined;
afterEach(() => {
  counter?.uninstall();
  counter = undefined;
});

describe.each(Object.keys(adapters) as AdapterName[])('%s: IndexedDB work per hello-sequence step', (adapter) => {
  it.each([1, 10])('with %i concurrent instance(s): at most 3 readwrite transactions, none empty', async (instances) => {
    const store = adapters[adapter](uniqueName('counts'));
    const runtime = createRuntime({
      store, orchestrators: { HelloSequence: helloSequence }, activities: { E1_SayHello: sayHello }, logger: silentLogger,
    });
    try {
      await runtime.start();
      // A first instance opens the database and lets the worker settle (its start-up claims are not per-step work).
      await runtime.client.startNew('HelloSequence', { instanceId: 'warm-up' });
      await runtime.client.waitForCompletion('warm-up', { timeoutMs: 60_000 });
      counter = countIndexedDb();
      const ids = Array.from({ length: instances }, (_, i) => `hello-${i}`);
      await Promise.all(ids.map((instanceId) => runtime.client.startNew('HelloSequence', { instanceId })));
      const done = await Promise.all(ids.map((id) => runtime.client.waitForCompletion(id, { timeoutMs: 60_000 })));
      expect(done.map((s) => s.runtimeStatus)).toEqual(ids.map(() => 'Completed'));
      const counts = counter.counts();
      // A step is counted once its commit has settled, which may be just after its status is seen: the count is read
      // once the worker has drained (the warm-up's four steps included).
      await runtime.stop({ graceMs: Infinity });
      expect(runtime.metrics.steps).toBe(4 * (instances + 1));
      const steps = 4 * instances;
      // The start is committed leased to the worker (no claim), the step that completes an activity is fused with it,
      // and the activities a step schedules are leased in its own commit: per instance, its start and four commits.
      expect(counts.readwrite / steps).toBeLessThanOrEqual(3);
      expect(counts.readwrite).toBeLessThanOrEqual(5 * instances + 1);
      expect(counts.emptyReadwrite).toBe(0);
      // waitForCompletion's first read shows the start Pending (read-your-writes) and costs no transaction: the worker
      // runs the first step a macrotask after the start, and until then the client answers from the state it committed.
      if (instances === 1) expect(counts.readonly).toBe(0);
      if (instances === 1) expect(counts.requests / steps).toBe(budgets[adapter].requestsPerStep);
      else expect(counts.requests / steps).toBeLessThanOrEqual(budgets[adapter].concurrentRequestsPerStep);
    } finally {
      await runtime.stop();
      await store.close();
    }
  });
});

describe.each(Object.keys(adapters) as AdapterName[])('%s: an instance\'s input', (adapter) => {
  it('is written once by its start, not again by its steps nor by its start message or its history\'s start: a hello sequence with a large input writes it once (its record)', async () => {
    const input = { text: 'x'.repeat(50_000) };
    const written: number[] = [];
    for (const given of [undefined, input]) {
      const store = adapters[adapter](uniqueName('input-bytes'));
      const runtime = createRuntime({
        store, orchestrators: { HelloSequence: helloSequence }, activities: { E1_SayHello: sayHello }, logger: silentLogger,
      });
      try {
        await runtime.start();
        counter = countIndexedDb();
        await runtime.client.startNew('HelloSequence', { instanceId: 'big', ...(given ? { input: given } : {}) });
        expect((await runtime.client.waitForCompletion('big', { timeoutMs: 60_000 })).input).toEqual(given);
        await runtime.stop({ graceMs: Infinity });
        written.push(counter.counts().bytesWritten);
        counter.uninstall();
        counter = undefined;
      } finally {
        await runtime.stop();
        await store.close();
      }
    }
    // Not in the row its commits rewrite (with it there, seven copies: the row at the start and at each of the four
    // steps, besides the start message and the history's start), nor in the start message and the history's start
    // (three copies), which get it back from the record where they are read.
    expect((written[1]! - written[0]!) / JSON.stringify(input).length).toBeCloseTo(1, 1);
  });
});

describe.each(Object.keys(adapters) as AdapterName[])('%s: a fork\'s input', (adapter) => {
  it.each([
    ['keeps every result', 3],
    ['keeps one result', 1],
    ['keeps none', 0],
  ])('is written once, in its record, by a fork that %s and its run', async (_what, keepResults) => {
    const input = { text: 'x'.repeat(50_000) };
    const written: number[] = [];
    for (const given of [undefined, input]) {
      const store = adapters[adapter](uniqueName('fork-input-bytes'));
      const runtime = createRuntime({
        store, orchestrators: { HelloSequence: helloSequence }, activities: { E1_SayHello: sayHello }, logger: silentLogger,
      });
      try {
        await runtime.start();
        await runtime.client.startNew('HelloSequence', { instanceId: 'source', ...(given ? { input: given } : {}) });
        await runtime.client.waitForCompletion('source', { timeoutMs: 60_000 });
        counter = countIndexedDb();
        await runtime.client.fork('source', { newInstanceId: 'fork', keepResults });
        const done = await runtime.client.waitForCompletion('fork', { timeoutMs: 60_000 });
        expect(done.runtimeStatus).toBe('Completed');
        expect(done.input).toEqual(given);
        await runtime.stop({ graceMs: Infinity });
        written.push(counter.counts().bytesWritten);
        counter.uninstall();
        counter = undefined;
        const started = (await store.getHistory('fork')).find((event) => event.type === 'ExecutionStarted');
        expect(started).toMatchObject({ type: 'ExecutionStarted', instanceId: 'fork' });
        expect(started?.type === 'ExecutionStarted' ? started.input : undefined).toEqual(given);
      } finally {
        await runtime.stop();
        await store.close();
      }
    }
    // The fork's record only: not again in its start message or the start its copied or first step records.
    expect((written[1]! - written[0]!) / JSON.stringify(input).length).toBeCloseTo(1, 1);
  });
});

describe.each(Object.keys(adapters) as AdapterName[])('%s: a call on an open store', (adapter) => {
  it('has its transaction and first request under way before the callbacks queued after the call run', async () => {
    // A step's commit then goes out before the client's and the change feed's callbacks that the previous commit
    // queued, and its requests travel while those run.
    const store = adapters[adapter](uniqueName('at-once'));
    try {
      await create(store, newInstance('a'));
      counter = countIndexedDb();
      const read = store.getInstance('a');
      const queuedAfter = await new Promise<IdbCounts>((resolve) => queueMicrotask(() => resolve(counter!.counts())));
      expect({ readonly: queuedAfter.readonly, requests: queuedAfter.requests }).toEqual({ readonly: 1, requests: 1 });
      expect((await read)?.instanceId).toBe('a');
    } finally {
      await store.close();
    }
  });
});

describe.each(Object.keys(adapters) as AdapterName[])('%s: reading an instance this handle is committing', (adapter) => {
  it('answers with the committed state, a copy, without a transaction of its own', async () => {
    const store = adapters[adapter](uniqueName('read-committing'));
    try {
      await create(store, newInstance('x'));
      const item = await claim(store);
      counter = countIndexedDb();
      const next = { ...item.state, runtimeStatus: 'Running' as const, customStatus: { city: 'Tokyo' }, version: item.state.version + 1 };
      const committed = store.commit(commitOf(item.state, item.lease.token, { consumedMessageIds: item.messages.map((m) => m.id), state: next }));
      const read = store.getInstance('x');
      await committed;
      const state = await read;
      expect(state?.version).toBe(item.state.version + 1);
      expect(state?.customStatus).toEqual({ city: 'Tokyo' });
      expect(counter.counts().readonly).toBe(0);
      // A copy: changing it changes neither what the committer holds (a worker keeps its state for the next step) nor
      // what is stored.
      (state?.customStatus as { city: string }).city = 'changed';
      expect(next.customStatus).toEqual({ city: 'Tokyo' });
      expect((await store.getInstance('x'))?.customStatus).toEqual({ city: 'Tokyo' });
    } finally {
      await store.close();
    }
  });

  it('reads on its own when that commit is refused', async () => {
    const store = adapters[adapter](uniqueName('read-refused'));
    try {
      await create(store, newInstance('y'));
      const item = await claim(store);
      counter = countIndexedDb();
      const refused = store.commit(commitOf(item.state, 'not-the-lease', {
        state: { ...item.state, runtimeStatus: 'Running', customStatus: 'never', version: item.state.version + 1 },
      }));
      const read = store.getInstance('y');
      await expect(refused).rejects.toBeInstanceOf(LeaseLostError);
      expect(await read).toEqual(item.state);
      expect(counter.counts().readonly).toBe(1);
    } finally {
      await store.close();
    }
  });
});

describe.each(Object.keys(adapters) as AdapterName[])('%s: reading instances together', (adapter) => {
  it('reads asked for together share one readonly transaction', async () => {
    const store = adapters[adapter](uniqueName('read-together'));
    try {
      const ids = ['a', 'b', 'c', 'd'];
      for (const id of ids) await create(store, newInstance(id, { id }));
      counter = countIndexedDb();
      const states = await Promise.all([...ids, 'missing', 'a'].map((id) => store.getInstance(id)));
      expect(states.map((s) => s?.instanceId)).toEqual([...ids, undefined, 'a']);
      expect(states.map((s) => s?.input)).toEqual([...ids.map((id) => ({ id })), undefined, { id: 'a' }]);
      expect(counter.counts().readonly).toBe(1);
      // Each caller owns what it got: the two reads of 'a' are separate copies.
      expect(states[5]).not.toBe(states[0]);
      // A read asked for later gets a transaction of its own.
      expect((await store.getInstance('b'))?.instanceId).toBe('b');
      expect(counter.counts().readonly).toBe(2);
    } finally {
      await store.close();
    }
  });
});

/** Creates instance `id` created (and last updated) `ms` after T0, with `state` over newInstance's. */
function createdAt(store: Store, id: string, ms: number, state: Partial<InstanceState>): Promise<unknown> {
  const request = newInstance(id);
  const createdTime = new Date(T0.getTime() + ms);
  return create(store, { ...request, state: { ...request.state, ...state, createdTime, lastUpdatedTime: createdTime } });
}

describe.each(Object.keys(adapters) as AdapterName[])('%s: IndexedDB work of an activity lease', (adapter) => {
  it('lists and purges by tags with the same requests whether 5 or 60 other instances exist: the tag index, never every instance', async () => {
    const requests: number[] = [];
    for (const others of [5, 60]) {
      const store = adapters[adapter](uniqueName('tag-counts'));
      try {
        const tagged = (id: string, tags: Record<string, string>, ms: number) => createdAt(store, id, ms, { tags });
        // The others share the filter's broad pair, not its narrow one: the listing reads the narrow pair's entries.
        for (let i = 0; i < others; i++) await tagged(`other-${i}`, { env: 'prod', tenant: `t${i}` }, i);
        await tagged('acme-1', { env: 'prod', tenant: 'acme' }, 1000);
        await tagged('acme-2', { env: 'prod', tenant: 'acme' }, 2000);
        counter = countIndexedDb();
        expect((await store.queryInstances({ tags: { env: 'prod', tenant: 'acme' }, pageSize: 1 })).instances.map((s) => s.instanceId)).toEqual(['acme-1']);
        expect((await store.queryInstances({ tags: { tenant: 'acme' }, order: 'desc' })).instances.map((s) => s.instanceId)).toEqual(['acme-2', 'acme-1']);
        expect(await store.purgeInstances({ createdTimeFrom: T0, tags: { tenant: 'acme' } })).toBe(0);
        requests.push(counter.counts().requests);
        counter.uninstall();
        counter = undefined;
      } finally {
        await store.close();
      }
    }
    expect(requests[1]).toBe(requests[0]);
  });

  it('lists and purges one ended status with the same requests whether 5 or 60 running instances exist: their rows are not read', async () => {
    const requests: number[] = [];
    for (const running of [5, 60]) {
      const store = adapters[adapter](uniqueName('status-counts'));
      try {
        const at = (id: string, runtimeStatus: 'Pending' | 'Completed', ms: number) => createdAt(store, id, ms, { runtimeStatus });
        for (let i = 0; i < running; i++) await at(`running-${i}`, 'Pending', i);
        await at('done-1', 'Completed', 1000);
        await at('done-2', 'Completed', 2000);
        counter = countIndexedDb();
        expect((await store.queryInstances({ runtimeStatus: ['Completed'], pageSize: 1 })).instances.map((s) => s.instanceId)).toEqual(['done-1']);
        expect((await store.queryInstances({ runtimeStatus: ['Completed'] })).instances.map((s) => s.instanceId)).toEqual(['done-1', 'done-2']);
        expect(await store.purgeInstances({ createdTimeFrom: T0, createdTimeTo: new Date(T0.getTime() + 1500), runtimeStatus: ['Completed'] })).toBe(1);
        requests.push(counter.counts().requests);
        counter.uninstall();
        counter = undefined;
        // Uncounted (a cursor downwards counts each entry it steps over): newest first, and the running ones all there.
        expect((await store.queryInstances({ runtimeStatus: ['Completed'], order: 'desc' })).instances.map((s) => s.instanceId)).toEqual(['done-2']);
        expect((await store.queryInstances({ runtimeStatus: ['Pending'] })).instances).toHaveLength(running);
      } finally {
        await store.close();
      }
    }
    expect(requests[1]).toBe(requests[0]);
  });

  it('renewing and abandoning a lease reads the same whether 1 or 40 instances hold activity tasks', async () => {
    const requests: number[] = [];
    for (const instances of [1, 40]) {
      const store = adapters[adapter](uniqueName('lease-counts'));
      try {
        // Each instance's step schedules one activity, leased to this worker in the step's own commit.
        const tokens: string[] = [];
        for (let i = 0; i < instances; i++) await create(store, newInstance(`i-${i}`));
        for (let i = 0; i < instances; i++) {
          const item = await claim(store);
          const id = item.state.instanceId;
          tokens.push(`token-${id}`);
          await store.commit({
            lease: { kind: 'orchestration', instanceId: id, token: item.lease.token },
            requests: [
              { type: 'replaceState', state: { ...item.state, runtimeStatus: 'Running', version: item.state.version + 1 } },
              { type: 'deleteMessages', instanceId: id, messageIds: item.messages.map((m) => m.id) },
              {
                type: 'insertTask',
                task: { id: `task-${id}`, instanceId: id, executionId: 'exec-1', name: 'Act', taskScheduledId: 0, attempt: 1 },
                lease: { owner: 'test', token: `token-${id}`, expiresAt: new Date(T0.getTime() + 30_000) },
              },
            ],
          });
        }
        counter = countIndexedDb();
        await store.renewActivityLease('task-i-0', 'token-i-0', new Date(T0.getTime() + 60_000));
        await store.abandonActivity('task-i-0', 'token-i-0');
        requests.push(counter.counts().requests);
        counter.uninstall();
        counter = undefined;
        // The lease was renewed, then released: the task is claimable again.
        const claimed = await store.claimActivity({ owner: 'other', leaseMs: 30_000, now: T0 });
        expect(claimed?.task.id).toBe('task-i-0');
      } finally {
        await store.close();
      }
    }
    expect(requests[1]).toBe(requests[0]);
  });
});

/**
 * Requests each readwrite transaction issued before the first of its requests answered (its first round trip), in
 * the order the transactions began, until `uninstall`.
 */
function firstRoundTrips(): { readonly sent: () => number[]; readonly uninstall: () => void } {
  const sent = new Map<IDBTransaction, { count: number; answered: boolean }>();
  const restore: (() => void)[] = [];
  const wrap = (proto: object, method: string, transactionOf: (self: never) => IDBTransaction) => {
    const original = (proto as Record<string, unknown>)[method] as (...args: unknown[]) => IDBRequest;
    (proto as Record<string, unknown>)[method] = function (this: never, ...args: unknown[]) {
      const request = original.apply(this, args);
      const transaction = transactionOf(this);
      if (transaction.mode === 'readwrite') {
        let trip = sent.get(transaction);
        if (!trip) sent.set(transaction, (trip = { count: 0, answered: false }));
        if (!trip.answered) trip.count++;
        const answered = trip;
        request.addEventListener('success', () => {
          answered.answered = true;
        });
      }
      return request;
    };
    restore.push(() => {
      (proto as Record<string, unknown>)[method] = original;
    });
  };
  for (const method of ['get', 'getAll', 'getAllKeys', 'getKey', 'openCursor', 'put', 'add', 'delete']) {
    wrap(IDBObjectStore.prototype, method, (self: IDBObjectStore) => self.transaction);
  }
  for (const method of ['get', 'getAll', 'getAllKeys', 'getKey', 'openCursor', 'openKeyCursor']) {
    wrap(IDBIndex.prototype, method, (self: IDBIndex) => self.objectStore.transaction);
  }
  return { sent: () => [...sent.values()].map((trip) => trip.count), uninstall: () => restore.forEach((undo) => undo()) };
}

// A claim's reads in a row hold every transaction queued behind its tables (KeyvalStore's: all of them): round trips
// in a row (KeyvalStore: the claim entry, then the row, then the messages; DexieStore: the row from the claim index,
// then the messages) made it the longest transaction of a busy worker. Per adapter: the requests of the claim's first
// round trip, of the whole claim, and those a wrong guess costs.
const claimReads: Record<AdapterName, { readonly firstTrip: number; readonly requests: number; readonly wrongGuess: number }> = {
  KeyvalStore: { firstTrip: 3, requests: 6, wrongGuess: 2 },
  DexieStore: { firstTrip: 2, requests: 3, wrongGuess: 1 },
};

describe.each(Object.keys(adapters) as AdapterName[])('%s: claiming an instance this handle left claimable', (adapter) => {
  it('reads the instance and its messages in one round trip', async () => {
    const store = adapters[adapter](uniqueName('claim-trip'));
    const trips = firstRoundTrips();
    try {
      await create(store, newInstance('a'));
      await create(store, newInstance('b'));
      counter = countIndexedDb();
      const before = trips.sent().length;
      const item = await claim(store);
      expect(item.state.instanceId).toBe('a');
      expect(item.messages.map((m) => m.event.type)).toEqual(['ExecutionStarted']);
      expect(trips.sent().slice(before)).toEqual([claimReads[adapter].firstTrip]);
      expect(counter.counts().requests).toBe(claimReads[adapter].requests);
    } finally {
      trips.uninstall();
      await store.close();
    }
  });

  it('never hands out an instance another handle claimed meanwhile, and pays for that wrong guess once', async () => {
    const name = uniqueName('claim-guess');
    const starter = adapters[adapter](name);
    const other = adapters[adapter](name);
    try {
      for (const id of ['x', 'y', 'z']) await create(starter, newInstance(id));
      // The other handle takes the instance the starter would guess first.
      const taken = await claim(other);
      expect(taken.state.instanceId).toBe('x');
      counter = countIndexedDb();
      expect((await claim(starter)).state.instanceId).toBe('y');
      const guessedWrong = counter.counts().requests;
      counter.reset();
      expect((await claim(starter)).state.instanceId).toBe('z');
      // The reads of the wrong guess (x's messages, and KeyvalStore's read of its row) are not made again.
      expect(counter.counts().requests).toBe(guessedWrong - claimReads[adapter].wrongGuess);
      expect(await starter.claimOrchestration({ owner: 'test', leaseMs: 30_000, now: T0 })).toBeUndefined();
      // x is still the other handle's: its step commits.
      const next = { ...taken.state, runtimeStatus: 'Running' as const, version: taken.state.version + 1 };
      await other.commit(commitOf(taken.state, taken.lease.token, { state: next, consumedMessageIds: taken.messages.map((m) => m.id) }));
      expect((await starter.getInstance('x'))?.runtimeStatus).toBe('Running');
    } finally {
      await starter.close();
      await other.close();
    }
  });
});

describe.each(Object.keys(adapters) as AdapterName[])('%s: a client command that changes nothing', (adapter) => {
  it('writes nothing: a resume of an instance nobody has started yet, a repeated suspend of it (HTTP retries)', async () => {
    const store = adapters[adapter](uniqueName('no-op-command'));
    try {
      const client = createClient({ store });
      await client.startNew('AnyName', { instanceId: 'p' });
      counter = countIndexedDb();
      const pending = await store.getInstance('p');
      await client.resume('p', 'nothing to resume');
      expect(counter.counts().writes).toBe(0);
      expect(await store.getInstance('p')).toEqual(pending);
      await client.suspend('p', 'hold');
      const suspended = await store.getInstance('p');
      expect(suspended?.runtimeStatus).toBe('Suspended');
      counter.reset();
      await client.suspend('p', 'hold, retried');
      expect(counter.counts().writes).toBe(0);
      expect(await store.getInstance('p')).toEqual(suspended);
    } finally {
      await store.close();
    }
  });
});

describe.each(Object.keys(adapters) as AdapterName[])('%s: starting an instance', (adapter) => {
  it('writes a new id without reading it first: no read, and no write waits for one', async () => {
    const store = adapters[adapter](uniqueName('start-unread'));
    const trips = firstRoundTrips();
    try {
      await create(store, newInstance('warm'));
      counter = countIndexedDb();
      const before = trips.sent().length;
      await create(store, newInstance('a'));
      const counts = counter.counts();
      expect({ readwrite: counts.readwrite, readonly: counts.readonly }).toEqual({ readwrite: 1, readonly: 0 });
      expect(counts.requests).toBe(counts.writes);
      // Every request of the start goes out before the first is answered; DexieStore's row waits for the number the
      // database gives its start message (the row's claim order holds it): its message, then its row.
      expect(counts.requests).toBe(adapter === 'DexieStore' ? 2 : 5);
      expect(trips.sent().slice(before)).toEqual([adapter === 'DexieStore' ? 1 : counts.requests]);
      expect(await store.getInstance('a')).toMatchObject({ instanceId: 'a', runtimeStatus: 'Pending' });
      expect((await claim(store)).messages.map((m) => m.event.type)).toEqual(['ExecutionStarted']);
    } finally {
      trips.uninstall();
      await store.close();
    }
  });

  it('refuses a start over an id another handle holds and writes nothing of it; the next start of that id reads it first', async () => {
    const name = uniqueName('start-taken');
    const owner = adapters[adapter](name);
    const starter = adapters[adapter](name);
    try {
      await create(owner, newInstance('x', 'first'));
      const stored = await owner.getInstance('x');
      expect(await starter.getInstance('other')).toBeUndefined(); // opened (its layout check is a transaction of its own)
      counter = countIndexedDb();
      // The starter does not know 'x': it writes it as new, the database refuses that, and the start runs again reading it.
      await expect(create(starter, newInstance('x', 'second'))).rejects.toMatchObject({ code: 'instance-already-exists' });
      expect(counter.counts().readwrite).toBe(2);
      expect(await starter.getInstance('x')).toEqual(stored);
      counter.reset();
      await expect(create(starter, newInstance('x', 'third'))).rejects.toMatchObject({ code: 'instance-already-exists' });
      const counts = counter.counts();
      // It reads the instance; it writes nothing, but DexieStore's start message, issued before the read answers (the
      // database numbers it) and aborted with the transaction.
      expect({ readwrite: counts.readwrite, get: counts.byMethod.get, writes: counts.writes })
        .toEqual({ readwrite: 1, get: 1, writes: adapter === 'DexieStore' ? 1 : 0 });
      expect((await claim(starter)).messages.map((m) => (m.event as { input?: unknown }).input)).toEqual(['first']);
    } finally {
      await owner.close();
      await starter.close();
    }
  });
});

describe.each(Object.keys(adapters) as AdapterName[])('%s: the steps of an instance with a large input', (adapter) => {
  const big = { items: Array.from({ length: 500 }, (_, i) => ({ id: i, text: 'x'.repeat(90) })) }; // about 50 KB

  it('cost the transactions and requests of steps without input: a hello sequence with a 50 KB input', async () => {
    const store = adapters[adapter](uniqueName('input-counts'));
    const runtime = createRuntime({
      store, orchestrators: { HelloSequence: helloSequence }, activities: { E1_SayHello: sayHello }, logger: silentLogger,
    });
    try {
      await runtime.start();
      await runtime.client.startNew('HelloSequence', { instanceId: 'warm-up', input: big });
      await runtime.client.waitForCompletion('warm-up', { timeoutMs: 60_000 });
      counter = countIndexedDb();
      await runtime.client.startNew('HelloSequence', { instanceId: 'big', input: big });
      expect((await runtime.client.waitForCompletion('big', { timeoutMs: 60_000 })).input).toEqual(big);
      await runtime.stop({ graceMs: Infinity });
      const counts = counter.counts();
      expect(counts.readwrite).toBe(5);
      expect(counts.readonly).toBe(0);
      // Per step as without input, and one request more for the instance: its start writes the input record.
      expect(counts.requests).toBe(4 * budgets[adapter].requestsPerStep + 1);
    } finally {
      await runtime.stop();
      await store.close();
    }
  });

  it('are not read by a status read that shows no input, with or without its history: the instance row alone', async () => {
    const name = uniqueName('input-hidden');
    const starter = adapters[adapter](name);
    await create(starter, newInstance('x', big));
    await starter.close();
    const reader = adapters[adapter](name); // a handle that never met the execution: it knows no input of it
    try {
      expect(await reader.getInstance('opened')).toBeUndefined(); // the open's own requests are not counted
      const client = createClient({ store: reader });
      const requests = async (read: () => Promise<unknown>) => {
        counter = countIndexedDb();
        await read();
        const { requests: count } = counter.counts();
        counter.uninstall();
        counter = undefined;
        return count;
      };
      const hidden = await requests(async () => expect((await client.getStatus('x', { showInput: false }))?.input).toBeUndefined());
      const hiddenWithHistory = await requests(async () => expect((await client.getStatus('x', { showInput: false, showHistory: true }))?.input).toBeUndefined());
      const shown = await requests(async () => expect((await client.getStatus('x'))?.input).toEqual(big));
      const shownWithHistory = await requests(async () => expect((await client.getStatus('x', { showHistory: true }))?.input).toEqual(big));
      // The input record is one request; the rest (the row, the history) the same either way.
      expect([hidden, hiddenWithHistory]).toEqual([shown - 1, shownWithHistory - 1]);
    } finally {
      await reader.close();
    }
  });

  it('are claimed without reading the input record again, and a read during a commit that only adds a message costs no transaction', async () => {
    const counts: { readonly readonly: number; readonly read: number; readonly claim: number }[] = [];
    for (const input of [undefined, big]) {
      const store = adapters[adapter](uniqueName('input-claims'));
      try {
        await create(store, newInstance('x', input));
        // The first claim reads the input (this handle has not met the execution), and keeps it.
        const first = await claim(store);
        expect(first.state.input).toEqual(input);
        await store.commit(commitOf(first.state, first.lease.token, {
          consumedMessageIds: first.messages.map((m) => m.id), state: { ...first.state, runtimeStatus: 'Running', version: first.state.version + 1 },
        }));
        counter = countIndexedDb();
        const raised = store.commit({ requests: [{ type: 'insertMessage', message: message('x', { type: 'EventRaised', eventId: -1, timestamp: T0.toISOString(), name: 'go' }), ifMissing: 'drop' }] });
        const reading = store.getInstance('x');
        await raised;
        expect((await reading)?.input).toEqual(input);
        const { readonly, requests: read } = counter.counts();
        const next = await claim(store);
        expect(next.state.input).toEqual(input);
        counts.push({ readonly, read, claim: counter.counts().requests - read });
        counter.uninstall();
        counter = undefined;
      } finally {
        await store.close();
      }
    }
    // The raise with the read (answered from the raise's commit), and the claim: the same requests with the input as without.
    expect(counts.map((c) => c.readonly)).toEqual([0, 0]);
    expect(counts[1]).toEqual(counts[0]);
  });
});
