import { describe, expect, it } from 'vitest';
import { createClient, createRuntime, isDurableError, MemoryStore, systemClock, type Clock } from '../src/index.js';
import { WEBHOOK_PATH } from '../src/client/http-management-payload.js';
import { createHttpHandler } from '../src/http/create-http-handler.js';
import { helloSequence, sayHello } from '../src/testing/samples.js';
import { SETTLED } from '../src/testing/settled.js';
import { VirtualClock } from '../src/testing/virtual-clock.js';
import { untilEnded } from './until-ended.js';
import { within } from './within.js';

/**
 * What a reading of `whose` clock that is no valid Date fails with: a RangeError naming the clock. A fault of the
 * process that reads it, not of a caller's argument: no DurableError (an invalid-argument 400 told HTTP callers their
 * request was wrong, and a worker took it for a store refusing its write for good).
 */
function clockFault(whose: 'client' | 'worker'): (error: unknown) => boolean {
  return (error) => error instanceof RangeError && !isDurableError(error) && error.message === `the ${whose}'s clock returned no valid Date`;
}

describe('a client whose clock returns an Invalid Date', () => {
  it('refuses every command with its RangeError and writes nothing (no Invalid Date as the time of an unclaimed write)', async () => {
    const { clock, breakIt } = breakableClock();
    const store = new MemoryStore();
    const client = createClient({ store, clock });
    await client.startNew('HelloSequence', { instanceId: 'queued' });
    await client.raiseEvent('queued', 'go', 1);
    await client.startNew('HelloSequence', { instanceId: 'alone' });
    const before = await Promise.all(['queued', 'alone'].map((id) => store.getInstance(id)));
    breakIt();
    for (const id of ['queued', 'alone']) {
      // An Invalid Date as the unclaimed write's time would see no lease as live and no message as visible: refused.
      await expect(client.terminate(id, 'stop')).rejects.toSatisfy(clockFault('client'));
      await expect(client.suspend(id, 'pause')).rejects.toSatisfy(clockFault('client'));
      await expect(client.resume(id, 'go on')).rejects.toSatisfy(clockFault('client'));
      await expect(client.raiseEvent(id, 'go', 2)).rejects.toSatisfy(clockFault('client'));
    }
    await expect(client.startNew('HelloSequence', { instanceId: 'new' })).rejects.toSatisfy(clockFault('client'));
    expect(await Promise.all(['queued', 'alone'].map((id) => store.getInstance(id)))).toEqual(before);
    expect(await store.getInstance('new')).toBeUndefined();
    expect(await store.getHistory('queued')).toEqual([]);
    const work = await store.claimOrchestration({ owner: 'w1', leaseMs: 1000, now: systemClock.now() });
    const queued = work?.state.instanceId === 'queued' ? work : await store.claimOrchestration({ owner: 'w1', leaseMs: 1000, now: systemClock.now() });
    expect(queued?.messages.map((m) => m.event.type)).toEqual(['ExecutionStarted', 'EventRaised']);
  });
});

describe('a client whose clock returns an Invalid Date, waiting', () => {
  it('ends waitForCompletion with its RangeError instead of a timeout that never passes', async () => {
    const { clock, breakIt } = breakableClock();
    const store = new MemoryStore();
    const client = createClient({ store, clock });
    await client.startNew('HelloSequence', { instanceId: 'waited' });
    breakIt();
    // Before, the wait's deadline was NaN: no worker runs, so it waited for ever.
    await expect(within(client.waitForCompletion('waited', { timeoutMs: 10 }), 'the wait')).rejects.toSatisfy(clockFault('client'));
    await store.close();
  });
});

describe('the HTTP API over a client whose clock returns an Invalid Date', () => {
  it('answers a 500 it logs, not a 400 that blames the request, and writes nothing', async () => {
    const { clock, breakIt } = breakableClock();
    const store = new MemoryStore();
    const client = createClient({ store, clock });
    await client.startNew('HelloSequence', { instanceId: 'a' });
    const before = await store.getInstance('a');
    const reported: unknown[] = [];
    const handler = createHttpHandler(client, { anonymous: true, logger: { warn: () => {}, error: (_message, error) => reported.push(error) } });
    breakIt();
    const requests = [
      ['GET', '/instances/a'], ['POST', '/instances/a/raiseEvent/go'], ['POST', '/instances/a/terminate'], ['POST', '/orchestrators/HelloSequence/b'],
    ] as const;
    for (const [method, path] of requests) {
      const body = method === 'POST' ? { body: '1', headers: { 'content-type': 'application/json' } } : {};
      const response = await handler(new Request(`http://localhost${WEBHOOK_PATH}${path}`, { method, ...body }));
      // Before, 400 invalid-argument "the client's clock returned no valid Date": the caller's fault, and not logged.
      expect([path, response.status, await response.json()]).toEqual([path, 500, { code: 'internal', message: 'Internal server error', ExceptionMessage: 'Internal server error' }]);
    }
    expect(reported.map(clockFault('client'))).toEqual(requests.map(() => true));
    expect(await store.getInstance('a')).toEqual(before);
    expect(await store.getInstance('b')).toBeUndefined();
    const work = await store.claimOrchestration({ owner: 'w1', leaseMs: 1000, now: systemClock.now() });
    expect(work?.messages.map((m) => m.event.type)).toEqual(['ExecutionStarted']);
    handler.close();
    await store.close();
  });
});

describe('a worker whose clock returns an Invalid Date', () => {
  it('logs each failed claim round with its RangeError and claims nothing, instead of finding no work in silence', async () => {
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
      expect(errors[0]).toSatisfy(clockFault('worker'));
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

  it('renews no activity lease with an Invalid Date: the renewal is logged with its RangeError', async () => {
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
      expect(renewal.error).toSatisfy(clockFault('worker'));
      // Before, the renewal went out with the Invalid Date (`startMs + activityLeaseMs` of NaN).
      expect(renewedUntil.filter((until) => !(until instanceof Date) || Number.isNaN(until.getTime()))).toEqual([]);
    } finally {
      open();
      broken.now = false;
      await runtime.stop();
    }
  });

  it('stamps no activity result with an Invalid Date: the run fails with its RangeError, and nothing is written', async () => {
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
      expect(failed.error).toSatisfy(clockFault('worker'));
      expect((await store.getHistory('r')).some((e) => e.type === 'TaskCompleted' || e.type === 'TaskFailed')).toBe(false);
    } finally {
      broken.now = false;
      await runtime.stop({ graceMs: 0 });
    }
  });

  it('ends its stop though the clock cannot time the grace: logged with its RangeError, running work abandoned', async () => {
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
      expect((await logged((e) => e.message.includes('could not time its grace'))).error).toSatisfy(clockFault('worker'));
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
/** The system clock, until `breakIt()`: an Invalid Date from then on (`mend()` gives the system clock back). */
function breakableClock(): { clock: Clock; breakIt(): void; mend(): void } {
  let broken = false;
  const clock: Clock = { ...systemClock, now: () => (broken ? new Date(NaN) : systemClock.now()) };
  return { clock, breakIt: () => void (broken = true), mend: () => void (broken = false) };
}

function clockBreakingStore(): { store: MemoryStore; clock: Clock } {
  const { clock, breakIt, mend } = breakableClock();
  const target = new MemoryStore();
  const store = new Proxy(target, {
    get(object, key) {
      const value = Reflect.get(object, key, object) as unknown;
      if (typeof value !== 'function') return value;
      if (typeof key !== 'string' || !/^(commit|renew|abandon|release|purge)/.test(key)) return value.bind(object) as unknown;
      return (...args: unknown[]) => {
        const result = (value as (...a: unknown[]) => unknown).apply(object, args);
        breakIt();
        queueMicrotask(mend);
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
    // Before, each command rejected (a clock fault) while its write, already sent, landed.
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
      // Before, the step's commit (and an activity result's) was reported failed (a clock fault) once applied.
      // A client on the system clock: only the worker's readings go bad.
      const client = createClient({ store });
      const id = await client.startNew('E1_HelloSequence');
      expect(await within(client.waitForCompletion(id, SETTLED), 'the completion')).toMatchObject({ runtimeStatus: 'Completed' });
      // A claim round that read the clock in that window sent nothing: logged, and claimed again. Nothing else.
      expect(errors.filter((e) => !e.message.startsWith('worker could not claim work'))).toEqual([]);
    } finally {
      await runtime.stop();
    }
  });
});

describe('a worker clock reading that fails once, the one that bounds a step\'s commit', () => {
  it('leaves the step to be retried when its lease expires, instead of failing the instance as a write refused for good', async () => {
    let breakNext = false;
    let broken = 0;
    // A virtual clock under the breakable reading: the lease lapses when the test moves the time, not while a loaded
    // machine runs the step (a real 200 ms lease lapsed under a slow claim, and the instance stayed Pending).
    const virtual = new VirtualClock();
    const clock: Clock = {
      setTimeout: (callback, ms) => virtual.setTimeout(callback, ms),
      clearTimeout: (timer) => virtual.clearTimeout(timer),
      now: () => {
        if (!breakNext) return virtual.now();
        breakNext = false;
        broken++;
        return new Date(NaN);
      },
    };
    const store = new MemoryStore();
    const errors: { message: string; error: unknown }[] = [];
    const runtime = createRuntime({
      store, clock, logger: { warn: () => {}, error: (message, error) => errors.push({ message, error }) },
      orchestrators: {
        // The step's run decides, then its commit's bound reads the clock at once: its first run breaks that reading.
        BreaksTheClock: function* (ctx) {
          if (broken === 0) breakNext = true;
          return yield ctx.callActivity('E1_SayHello', 'Tokyo');
        },
      },
      activities: { E1_SayHello: sayHello },
    });
    await runtime.start();
    try {
      const id = await runtime.client.startNew('BreaksTheClock');
      // Before, the reading's invalid-argument (a 400) read as the store refusing the step for good: the instance Failed.
      // Time moves a second at a time, past the orchestration lease (30 s): the step is retried once it lapsed.
      expect(await untilEnded(runtime, virtual, id)).toMatchObject({ runtimeStatus: 'Completed', output: 'Hello Tokyo!' });
      expect(broken).toBe(1);
      expect(errors.map((e) => [e.message, clockFault('worker')(e.error)])).toEqual([[`step of ${id} failed; retried when its lease expires`, true]]);
    } finally {
      await runtime.stop();
      await store.close();
    }
  });
});
