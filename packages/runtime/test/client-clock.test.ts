import { describe, expect, it } from 'vitest';
import { createClient, createRuntime, MemoryStore, systemClock, type Clock } from '../src/index.js';
import { helloSequence, sayHello } from '../src/testing/samples.js';
import { within } from './within.js';

describe('a client whose clock returns an Invalid Date', () => {
  it('refuses every command with invalid-argument and writes nothing (no terminate ahead of a queued event)', async () => {
    let broken = false;
    const clock: Clock = { ...systemClock, now: () => (broken ? new Date(NaN) : systemClock.now()) };
    const store = new MemoryStore();
    const client = createClient({ store, clock });
    await client.startNew('HelloSequence', { instanceId: 'queued' });
    await client.raiseEvent('queued', 'go', 1);
    await client.startNew('HelloSequence', { instanceId: 'alone' });
    const before = await Promise.all(['queued', 'alone'].map((id) => store.getInstance(id)));
    broken = true;
    for (const id of ['queued', 'alone']) {
      // An Invalid Date as the unclaimed write's time saw no message as visible: the terminate went ahead of the event.
      await expect(client.terminate(id, 'stop')).rejects.toMatchObject({ code: 'invalid-argument' });
      await expect(client.suspend(id, 'pause')).rejects.toMatchObject({ code: 'invalid-argument' });
      await expect(client.resume(id, 'go on')).rejects.toMatchObject({ code: 'invalid-argument' });
      await expect(client.raiseEvent(id, 'go', 2)).rejects.toMatchObject({ code: 'invalid-argument' });
    }
    await expect(client.startNew('HelloSequence', { instanceId: 'new' })).rejects.toMatchObject({ code: 'invalid-argument' });
    expect(await Promise.all(['queued', 'alone'].map((id) => store.getInstance(id)))).toEqual(before);
    expect(await store.getInstance('new')).toBeUndefined();
    expect(await store.getHistory('queued')).toEqual([]);
    const work = await store.claimOrchestration({ owner: 'w1', leaseMs: 1000, now: systemClock.now() });
    const queued = work?.state.instanceId === 'queued' ? work : await store.claimOrchestration({ owner: 'w1', leaseMs: 1000, now: systemClock.now() });
    expect(queued?.messages.map((m) => m.event.type)).toEqual(['ExecutionStarted', 'EventRaised']);
  });
});

describe('a client whose clock returns an Invalid Date, waiting', () => {
  it('ends waitForCompletion with invalid-argument instead of a timeout that never passes', async () => {
    let broken = false;
    const clock: Clock = { ...systemClock, now: () => (broken ? new Date(NaN) : systemClock.now()) };
    const store = new MemoryStore();
    const client = createClient({ store, clock });
    await client.startNew('HelloSequence', { instanceId: 'waited' });
    broken = true;
    // Before, the wait's deadline was NaN: no worker runs, so it waited for ever.
    await expect(within(client.waitForCompletion('waited', { timeoutMs: 10 }), 'the wait')).rejects.toMatchObject({
      code: 'invalid-argument', message: expect.stringContaining("client's clock"),
    });
    await store.close();
  });
});

describe('a worker whose clock returns an Invalid Date', () => {
  it('logs each failed claim round as invalid-argument and claims nothing, instead of finding no work in silence', async () => {
    const store = new MemoryStore();
    const id = await createClient({ store }).startNew('E1_HelloSequence');
    const errors: unknown[] = [];
    let logged!: () => void;
    const firstError = new Promise<void>((resolve) => (logged = resolve));
    const runtime = createRuntime({
      store, clock: { ...systemClock, now: () => new Date(NaN) },
      logger: { warn: () => {}, error: (_message, error) => { errors.push(error); logged(); } },
      orchestrators: { E1_HelloSequence: helloSequence }, activities: { E1_SayHello: sayHello },
    });
    await runtime.start();
    try {
      // Before, the claims went out with the Invalid Date: no message was visible to them, and nothing was logged.
      await firstError;
      expect(errors[0]).toMatchObject({ code: 'invalid-argument', message: expect.stringContaining("worker's clock") });
      expect(await store.getInstance(id)).toMatchObject({ runtimeStatus: 'Pending' });
    } finally {
      await runtime.stop();
      await store.close();
    }
  });
});

describe('a worker whose clock stops returning valid Dates while it works', () => {
  /** A runtime on `store` whose clock breaks when `broken.now` is set; an activity `Gated` waits for `gate`. */
  const brokenWorker = (store: MemoryStore, gate: Promise<void>, more: { activityLeaseMs?: number } = {}) => {
    const broken = { now: false };
    type Entry = { readonly message: string; readonly error: unknown };
    const errors: Entry[] = [];
    const listeners = new Set<(entry: Entry) => void>();
    /** The first error logged that `where` accepts (one logged already, or the next). */
    const logged = (where: (entry: Entry) => boolean) => new Promise<Entry>((resolve) => {
      const found = errors.find(where);
      if (found) return resolve(found);
      const listener = (entry: Entry): void => {
        if (!where(entry)) return;
        listeners.delete(listener);
        resolve(entry);
      };
      listeners.add(listener);
    });
    let started!: () => void;
    const running = new Promise<void>((resolve) => (started = resolve));
    const runtime = createRuntime({
      store, clock: { ...systemClock, now: () => (broken.now ? new Date(NaN) : systemClock.now()) }, ...more,
      logger: {
        warn: () => {},
        error: (message, error) => {
          errors.push({ message, error });
          for (const listener of [...listeners]) listener({ message, error });
        },
      },
      orchestrators: {
        CallGated: function* (ctx) {
          return yield ctx.callActivity('Gated');
        },
      },
      activities: {
        Gated: async () => {
          started();
          await gate;
          return 'done';
        },
      },
    });
    return { runtime, broken, logged, running };
  };
  const invalidClock = { code: 'invalid-argument', message: expect.stringContaining("worker's clock") };

  it('renews no activity lease with an Invalid Date: the renewal is logged as invalid-argument', async () => {
    const store = new MemoryStore();
    const renewedUntil: unknown[] = [];
    const renew = store.renewActivityLease.bind(store);
    store.renewActivityLease = (taskId, token, until) => {
      renewedUntil.push(until);
      return renew(taskId, token, until);
    };
    let open!: () => void;
    const { runtime, broken, logged, running } = brokenWorker(store, new Promise<void>((resolve) => (open = resolve)), { activityLeaseMs: 30 });
    await runtime.start();
    try {
      await runtime.client.startNew('CallGated', { instanceId: 'g' });
      await within(running, 'the activity running');
      broken.now = true;
      const renewal = await within(logged((e) => e.message.includes('renewing the lease')), 'a failed renewal logged');
      expect(renewal.error).toMatchObject(invalidClock);
      // Before, the renewal went out with the Invalid Date (`startMs + activityLeaseMs` of NaN).
      expect(renewedUntil.filter((until) => !(until instanceof Date) || Number.isNaN(until.getTime()))).toEqual([]);
    } finally {
      open();
      broken.now = false;
      await runtime.stop();
    }
  });

  it('stamps no activity result with an Invalid Date: the run fails with invalid-argument, and nothing is written', async () => {
    const store = new MemoryStore();
    let open!: () => void;
    const { runtime, broken, logged, running } = brokenWorker(store, new Promise<void>((resolve) => (open = resolve)));
    await runtime.start();
    try {
      await runtime.client.startNew('CallGated', { instanceId: 'r' });
      await within(running, 'the activity running');
      broken.now = true;
      open();
      const failed = await within(logged((e) => e.message === 'worker task failed'), 'the activity run failed');
      // Before, toISOString threw a RangeError, and a second stamp (as the activity's failure) the same.
      expect(failed.error).toMatchObject(invalidClock);
      expect((await store.getHistory('r')).some((e) => e.type === 'TaskCompleted' || e.type === 'TaskFailed')).toBe(false);
    } finally {
      broken.now = false;
      await runtime.stop({ graceMs: 0 });
    }
  });

  it('ends its stop though the clock cannot time the grace: logged as invalid-argument, running work abandoned', async () => {
    const store = new MemoryStore();
    let open!: () => void;
    const { runtime, broken, logged, running } = brokenWorker(store, new Promise<void>((resolve) => (open = resolve)));
    await runtime.start();
    try {
      await runtime.client.startNew('CallGated', { instanceId: 's' });
      await within(running, 'the activity running');
      broken.now = true;
      // Before, the grace's deadline was NaN: it never passed, and the stop waited for the activity for ever.
      await within(runtime.stop({ graceMs: 10 }), 'the stop');
      expect((await logged((e) => e.message.includes('could not time its grace'))).error).toMatchObject(invalidClock);
    } finally {
      open();
    }
  });
});

/**
 * A store whose every write (a commit, a lease's renewal or release, a purge) breaks `clock` for the rest of the
 * caller's synchronous run (until the next microtask; work queued before it, a worker's claim round, reads it too): a
 * reading taken after the write was sent, as a bound started after it reads the clock, is an Invalid Date. A reading
 * taken before the call, as every bounded call's must be, is not.
 */
function clockBreakingStore(): { store: MemoryStore; clock: Clock } {
  let broken = false;
  const clock: Clock = { ...systemClock, now: () => (broken ? new Date(NaN) : systemClock.now()) };
  const target = new MemoryStore();
  const store = new Proxy(target, {
    get(object, key) {
      const value = Reflect.get(object, key, object) as unknown;
      if (typeof value !== 'function') return value;
      if (typeof key !== 'string' || !/^(commit|renew|abandon|release|purge)/.test(key)) return value.bind(object) as unknown;
      return (...args: unknown[]) => {
        const result = (value as (...a: unknown[]) => unknown).apply(object, args);
        broken = true;
        queueMicrotask(() => (broken = false));
        return result;
      };
    },
  });
  return { store, clock };
}

describe('a clock that goes bad once a store call is on its way', () => {
  it("leaves a client's commands resolved with their writes: the bound's reading is taken before the call", async () => {
    const { store, clock } = clockBreakingStore();
    const client = createClient({ store, clock });
    // Before, each command rejected with invalid-argument while its write, already sent, landed.
    await client.startNew('HelloSequence', { instanceId: 'c' });
    expect(await store.getInstance('c')).toMatchObject({ runtimeStatus: 'Pending' });
    await client.suspend('c', 'hold');
    expect(await store.getInstance('c')).toMatchObject({ runtimeStatus: 'Suspended' });
    await client.resume('c', 'go on');
    await client.terminate('c', 'stop');
    expect(await client.getStatus('c')).toMatchObject({ runtimeStatus: 'Terminated', output: 'stop' });
    expect(await client.purgeInstanceHistory('c')).toEqual({ instancesDeleted: 1 });
    await client.startNew('HelloSequence', { instanceId: 'r' });
    await client.raiseEvent('r', 'go', 1);
    const claimed = await store.claimOrchestration({ owner: 'w1', leaseMs: 1000, now: systemClock.now() });
    expect(claimed?.messages.map((m) => m.event.type)).toEqual(['ExecutionStarted', 'EventRaised']);
  });

  it("leaves a worker's commits landed and not reported failed: the orchestration completes, no step or result lost", async () => {
    const { store, clock } = clockBreakingStore();
    const errors: { message: string; error: unknown }[] = [];
    const runtime = createRuntime({
      store, clock, logger: { warn: () => {}, error: (message, error) => errors.push({ message, error }) },
      orchestrators: { E1_HelloSequence: helloSequence }, activities: { E1_SayHello: sayHello },
    });
    await runtime.start();
    try {
      // Before, the step's commit (and an activity result's) was reported failed with invalid-argument once applied.
      // A client on the system clock: only the worker's readings go bad.
      const client = createClient({ store });
      const id = await client.startNew('E1_HelloSequence');
      expect(await within(client.waitForCompletion(id), 'the completion')).toMatchObject({ runtimeStatus: 'Completed' });
      // A claim round that read the clock in that window sent nothing: logged, and claimed again. Nothing else.
      expect(errors.filter((e) => !e.message.startsWith('worker could not claim work'))).toEqual([]);
    } finally {
      await runtime.stop();
    }
  });
});
