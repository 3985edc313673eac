import { filter, firstValueFrom, lastValueFrom, map, Observable, toArray } from 'rxjs';
import { describe, expect, it, vi } from 'vitest';
import {
  createClient, createRuntime, InvalidArgumentError, MemoryStore, silentLogger, TaskFailedError, UnavailableError, type Store,
} from '../src/index.js';
import { SETTLED } from '../src/testing/settled.js';
import { settle } from '../src/testing/virtual-clock.js';
import { followPages } from '../src/client/follow-pages.js';
import { LocalClient } from '../src/client/local-client.js';
import { FIRST_ANSWER_GRACE_MS } from '../src/client/timeout-after.js';
import { DEADLINE_FAILED } from '../src/env/deadline-list.js';
import { WAKE_CHECK_MS } from '../src/worker/worker.js';
import type { StatusChange } from '../src/store/store.js';
import { HandClock, runtimesStoppedAfterEach, T0 } from './hand-clock.js';
import { heldActivity } from './held-activity.js';
import { within } from './within.js';

const DAY_MS = 24 * 60 * 60 * 1000;

/** What `promise` settled with: its value, or the error it rejected with. */
function outcome<T>(promise: Promise<T>): Promise<T | unknown> {
  return promise.then((value) => value, (error: unknown) => error);
}

/**
 * A MemoryStore seen through a wrapper whose change feeds can be told to throw when unsubscribed, and whose reads can
 * be told never to answer. With `perInstance`, it has its own `instanceChanges$` (as MongoStore does).
 */
function wrappedStore(perInstance: boolean) {
  const inner = new MemoryStore();
  const control = { teardownThrows: false, readsHang: false, repeatToken: undefined as string | undefined, openFeeds: 0 };
  const feed = (source: Observable<StatusChange>): Observable<StatusChange> => new Observable<StatusChange>((subscriber) => {
    control.openFeeds++;
    const subscription = source.subscribe(subscriber);
    return () => {
      control.openFeeds--;
      subscription.unsubscribe();
      if (control.teardownThrows) throw new Error('injected: change feed teardown failed');
    };
  });
  const overrides: Partial<Store> = {
    changes$: feed(inner.changes$),
    getInstance: (...args) => (control.readsHang ? new Promise<never>(() => undefined) : inner.getInstance(...args)),
    queryInstances: async (...args) => {
      const page = await inner.queryInstances(...args);
      return control.repeatToken === undefined ? page : { ...page, continuationToken: control.repeatToken };
    },
    ...(perInstance ? {
      instanceChanges$: (instanceId: string) => feed(inner.changes$.pipe(filter((change) => change.instanceId === instanceId))),
    } : {}),
  };
  // Everything else goes to the MemoryStore itself (its methods use private fields, so they are called on it).
  const store = new Proxy(inner, {
    get: (target, key) => {
      if (key in overrides) return overrides[key as keyof Store];
      const value: unknown = Reflect.get(target, key, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  }) as Store;
  return { inner, store, control };
}

const runtimes = runtimesStoppedAfterEach();

describe('followPages', () => {
  it('rejects with InvalidArgumentError when a continuation token comes back, instead of paging for ever', async () => {
    let calls = 0;
    const repeated = await outcome(within(followPages(async () => ({ instances: [++calls], continuationToken: 'same' })), 'paging ending'));
    expect(repeated).toBeInstanceOf(InvalidArgumentError);
    expect(repeated).toMatchObject({ code: 'invalid-argument', status: 400 });
    expect((repeated as Error).message).toContain('"same"');
    expect(calls).toBe(2);
    const tokens: Record<string, string> = { a: 'b', b: 'c', c: 'a' }; // a cycle: a, b, c, a, ...
    const cycle = await outcome(within(followPages(async (token) => ({ instances: [], continuationToken: tokens[token ?? 'c'] })), 'paging ending'));
    expect(cycle).toMatchObject({ code: 'invalid-argument' });
    // Distinct tokens are followed to the end.
    expect(await followPages(async (token) => (token === undefined ? { instances: [1], continuationToken: 'x' } : { instances: [2] }))).toEqual([1, 2]);
  });

  it('ends getStatusAll and instances$ with that error on a store that repeats its token', async () => {
    const { store, control } = wrappedStore(false);
    const client = createClient({ store });
    await client.startNew('Any', { instanceId: 'one' });
    control.repeatToken = 'again';
    expect(await outcome(within(client.getStatusAll(), 'getStatusAll ending'))).toMatchObject({ code: 'invalid-argument' });
    expect(await outcome(within(firstValueFrom(client.instances$()), 'instances$ ending'))).toMatchObject({ code: 'invalid-argument' });
  });
});

describe('waitForCompletion', () => {
  it('ends on a store that never answers the first read: rejects with UnavailableError (no status could be read) after the first-read grace', async () => {
    const clock = new HandClock();
    const { store, control } = wrappedStore(false);
    const client = createClient({ store, clock });
    await client.startNew('Any', { instanceId: 'slow' });
    control.readsHang = true;
    const waiting = outcome(client.waitForCompletion('slow', { timeoutMs: 5000 }));
    const deadline = await within(clock.timerDueBy(T0 + 5000), 'the deadline being armed');
    clock.ms = T0 + 5000;
    clock.fire(deadline);
    // The store may still answer its first read for 10 s more; then the wait ends.
    const grace = await within(clock.timerDueBy(T0 + 15_000), 'the first-read grace being armed');
    clock.ms = T0 + 15_000;
    clock.fire(grace);
    const error = await within(waiting, 'the wait ending');
    // A typed error, as every error of the client (docs/design.md: a stable code and HTTP status), not a DOMException.
    expect(error).toBeInstanceOf(UnavailableError);
    expect(error).toMatchObject({ code: 'unavailable', status: 503 });
    expect((error as Error).message).toBe(`No status of instance "slow" could be read within the wait's timeout and ${FIRST_ANSWER_GRACE_MS / 1000} s more`);
    // What is left is the bound of the read the store never answered (storeCallTimeoutMs, 30 s); it ends too.
    expect([...clock.timers.values()].map((timer) => timer.at)).toEqual([T0 + 30_000]);
    clock.ms = T0 + 30_000;
    clock.fire(await within(clock.timerDueBy(T0 + 30_000), 'the read\'s bound'));
    expect(clock.timers.size).toBe(0);
  });
});

describe('change-feed teardowns that throw', () => {
  it('close() ends every per-instance feed of a store with instanceChanges$, then throws the first error', async () => {
    const { store, control } = wrappedStore(true);
    const client = new LocalClient({ store, clock: new HandClock(), storeCallTimeoutMs: Infinity });
    await client.startNew('Any', { instanceId: 'a' });
    await client.startNew('Any', { instanceId: 'b' });
    const ends = ['a', 'b'].map((id) => lastValueFrom(client.status$(id).pipe(map((s) => s?.runtimeStatus), toArray())));
    await within(Promise.all(['a', 'b'].map((id) => firstValueFrom(client.status$(id)))), 'the first snapshots');
    expect(control.openFeeds).toBe(2);
    control.teardownThrows = true;
    expect(() => client.close()).toThrow();
    expect(await within(Promise.all(ends), 'both status$ completing')).toEqual([['Pending'], ['Pending']]);
    expect(control.openFeeds).toBe(0);
  });

  it('a deadline whose wait lets go of the last listener of a feed that throws still ends that wait, and reports the error', async () => {
    const clock = new HandClock();
    const { store, control } = wrappedStore(false);
    const client = createClient({ store, clock });
    await client.startNew('Any', { instanceId: 'a' });
    const waiting = client.waitForCompletion('a', { timeoutMs: 1000 });
    const deadline = await within(clock.timerDueBy(T0 + 1000), 'the deadline being armed');
    await within(firstValueFrom(client.status$('a')), 'the first snapshot'); // the wait has read its status too
    control.teardownThrows = true;
    clock.ms = T0 + 1000;
    // Reported (a bare client's to the console), never thrown into the clock's timer callback (uncaught on Node).
    const reported = vi.spyOn(console, 'error').mockImplementation(() => {});
    try {
      clock.fire(deadline);
      expect((await within(waiting, 'the wait ending')).runtimeStatus).toBe('Pending');
      expect(reported).toHaveBeenCalledWith(expect.stringContaining(DEADLINE_FAILED), expect.objectContaining({ message: expect.stringContaining('injected') }));
    } finally {
      reported.mockRestore();
    }
    expect(control.openFeeds).toBe(0);
  });

  it('deadlines over per-instance feeds that throw: every due wait ends and a later deadline stays armed', async () => {
    const clock = new HandClock();
    const { store, control } = wrappedStore(true);
    const client = createClient({ store, clock });
    for (const id of ['a', 'b', 'c']) await client.startNew('Any', { instanceId: id });
    const first = client.waitForCompletion('a', { timeoutMs: 1000 });
    const second = client.waitForCompletion('b', { timeoutMs: 1000 });
    const later = client.waitForCompletion('c', { timeoutMs: 2000 });
    const deadline = await within(clock.timerDueBy(T0 + 1000), 'the deadline being armed');
    await within(Promise.all(['a', 'b', 'c'].map((id) => firstValueFrom(client.status$(id)))), 'the first snapshots');
    control.teardownThrows = true;
    clock.ms = T0 + 1000;
    const reported = vi.spyOn(console, 'error').mockImplementation(() => {});
    try {
      clock.fire(deadline);
      expect((await within(Promise.all([first, second]), 'both due waits ending')).map((s) => s.runtimeStatus)).toEqual(['Pending', 'Pending']);
      const next = await within(clock.timerDueBy(T0 + 2000), 'the later deadline armed');
      clock.ms = T0 + 2000;
      clock.fire(next);
      expect((await within(later, 'the later wait ending')).runtimeStatus).toBe('Pending');
      // Each feed's failed teardown reported, none thrown.
      expect(reported.mock.calls.filter(([message]) => String(message).includes(DEADLINE_FAILED)).length).toBeGreaterThanOrEqual(2);
    } finally {
      reported.mockRestore();
    }
    expect(control.openFeeds).toBe(0);
  });
});

describe('delays longer than one timer can wait (2^31-1 ms, 24.8 days)', () => {
  it('a durable timer 60 days out fires at its time, in a few wake-ups, on a clock with the platform\'s timer limit', async () => {
    const clock = new HandClock({ platformLimit: true });
    const runtime = createRuntime({
      clock, logger: silentLogger,
      orchestrators: {
        Later: function* (ctx) {
          yield ctx.createTimer(new Date(ctx.currentUtcDateTime.getTime() + 60 * DAY_MS));
          return 'woke';
        },
      },
    });
    runtimes.push({ runtime, clock });
    await runtime.start();
    let longest = 0;
    const setTimer = clock.setTimeout.bind(clock);
    clock.setTimeout = (callback, delayMs) => ((longest = Math.max(longest, delayMs)), setTimer(callback, delayMs));
    const id = await runtime.client.startNew('Later');
    const done = runtime.client.waitForCompletion(id, { timeoutMs: Infinity });
    await vi.waitFor(async () => expect((await runtime.store.getHistory(id)).some((e) => e.type === 'TimerCreated')).toBe(true), { timeout: SETTLED.timeoutMs });
    // Before, the worker handed the whole delay to the clock's timer, which fired after 1 ms, found nothing due and
    // armed again: a wake-up every millisecond for 60 days. It waits in steps of WAKE_CHECK_MS, each set from the
    // clock's time: moved 60 days on, the next step finds the timer due.
    clock.ms += 60 * DAY_MS;
    const endedAt = await clock.fireUntil(done, 'a timer or the end', 20);
    expect(endedAt).toBeGreaterThanOrEqual(T0 + 60 * DAY_MS);
    expect((await done).output).toBe('woke');
    expect(longest).toBeLessThanOrEqual(WAKE_CHECK_MS);
  });

  it('stop({ graceMs: 30 days }) waits out the whole grace period for a running activity', async () => {
    const clock = new HandClock({ platformLimit: true });
    let started!: () => void;
    const running = new Promise<void>((resolve) => (started = resolve));
    const runtime = createRuntime({
      clock, logger: silentLogger, activityLeaseMs: 60 * DAY_MS, // renewed every 20 days
      orchestrators: { Calls: function* (ctx) { return yield ctx.callActivity('Forever'); } },
      activities: { Forever: () => { started(); return new Promise(() => undefined); } },
    });
    runtimes.push({ runtime, clock });
    await runtime.start();
    await runtime.client.startNew('Calls');
    await within(running, 'the activity starting');
    const stopAt = clock.ms;
    const stopping = runtime.stop({ graceMs: 30 * DAY_MS });
    const stoppedAt = await clock.fireUntil(stopping, 'a timer or the end', 20);
    expect(stoppedAt).toBeGreaterThanOrEqual(stopAt + 30 * DAY_MS);
  });

  it('an activity lease longer than three timer limits is renewed at the limit, not in a loop', async () => {
    const clock = new HandClock({ platformLimit: true });
    const { activity: Long, running, finish } = heldActivity();
    const runtime = createRuntime({
      clock, logger: silentLogger, activityLeaseMs: 300 * DAY_MS, // a renewal every 100 days asked for
      orchestrators: { Calls: function* (ctx) { return yield ctx.callActivity('Long'); } },
      activities: { Long },
    });
    runtimes.push({ runtime, clock });
    await runtime.start();
    const id = await runtime.client.startNew('Calls');
    await within(running, 'the activity starting');
    const renewedAt = new Promise<void>((resolve) => {
      const renew = runtime.store.renewActivityLease.bind(runtime.store);
      runtime.store.renewActivityLease = (...args) => {
        resolve();
        return renew(...args);
      };
    });
    // The renewal waits on the worker's deadline timer, armed now for its store calls' bound (30 s), the earliest
    // timer; fired, it is armed for the renewal, at the limit. The worker's own wake-ups wait in steps of WAKE_CHECK_MS,
    // not fired here.
    const [bound, { at: boundAt }] = [...clock.timers].sort(([, a], [, b]) => a.at - b.at)[0]!;
    clock.ms = boundAt;
    clock.fire(bound);
    await settle();
    const [renewal, { at }] = [...clock.timers].find(([, timer]) => timer.at - clock.ms > WAKE_CHECK_MS)!;
    expect(at).toBe(T0 + 2 ** 31 - 1);
    clock.ms = at;
    clock.fire(renewal);
    await within(renewedAt, 'the lease being renewed');
    // Before, the renewal timer fired after 1 ms, again and again.
    expect(clock.ms).toBeGreaterThanOrEqual(T0 + 2 ** 31 - 1);
    finish('done');
    expect((await within(runtime.client.waitForCompletion(id, { timeoutMs: Infinity }), 'the instance completing')).output).toBe('done');
  });
});

describe('a retry handle that throws', () => {
  it('stops the retries and fails the call saying the handle threw, with its message', async () => {
    let attempts = 0;
    const retry = {
      firstRetryIntervalInMilliseconds: 1, maxNumberOfAttempts: 3,
      handle: (): boolean => { throw new Error('handle broke'); },
    };
    const runtime = createRuntime({
      logger: silentLogger,
      orchestrators: {
        Uncaught: function* (ctx) { return yield ctx.callActivityWithRetry('Fails', retry); },
        Caught: function* (ctx) {
          try {
            return yield ctx.callActivityWithRetry('Fails', retry);
          } catch (error) {
            return { isTaskFailed: error instanceof TaskFailedError, details: (error as TaskFailedError).failureDetails };
          }
        },
      },
      activities: { Fails: () => { attempts++; throw new Error('boom'); } },
    });
    runtimes.push({ runtime, clock: new HandClock() });
    await runtime.start();
    const uncaught = await runtime.client.startNew('Uncaught');
    const status = await within(runtime.client.waitForCompletion(uncaught, { timeoutMs: Infinity }), 'the instance ending');
    expect(status.runtimeStatus).toBe('Failed');
    expect(status.failureDetails?.errorType).toBe('TaskFailedError');
    expect(status.failureDetails?.errorMessage).toContain('boom');
    expect(status.failureDetails?.errorMessage).toContain('retry handle threw: handle broke');
    expect(attempts).toBe(1); // no retry
    const caught = await runtime.client.startNew('Caught');
    const output = (await within(runtime.client.waitForCompletion(caught, { timeoutMs: Infinity }), 'the instance ending')).output;
    expect(output).toMatchObject({ isTaskFailed: true, details: { errorType: 'Error' } });
    expect((output as { details: { errorMessage: string } }).details.errorMessage).toMatch(/^retry handle threw: handle broke \(on: .*boom\)$/);
    expect(attempts).toBe(2);
  });
});

describe('a retry delay beyond what a Date can hold', () => {
  it('fails the call with its own error instead of an invalid timer', async () => {
    const clock = new HandClock();
    let attempts = 0;
    const runtime = createRuntime({
      clock, logger: silentLogger,
      orchestrators: {
        Retries: function* (ctx) {
          // The first retry waits 1 ms, the second 1e300 ms: past the end of a Date's range (a cap that does not
          // hold it back, since the default one of 6 days would).
          return yield ctx.callActivityWithRetry('Fails', {
            firstRetryIntervalInMilliseconds: 1, backoffCoefficient: 1e300, maxNumberOfAttempts: 5, maxRetryIntervalInMilliseconds: Number.MAX_VALUE,
          });
        },
      },
      activities: { Fails: () => { attempts++; throw new Error('boom'); } },
    });
    runtimes.push({ runtime, clock });
    await runtime.start();
    const id = await runtime.client.startNew('Retries');
    const status = runtime.client.waitForCompletion(id, { timeoutMs: Infinity });
    expect(await clock.fireUntil(status, 'a timer or the end', 20)).toBeDefined();
    expect((await status).failureDetails?.errorMessage).toContain('boom');
    expect(attempts).toBe(2);
  });
});
