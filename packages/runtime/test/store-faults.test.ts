import { config, filter, firstValueFrom, lastValueFrom, Observable, takeWhile, tap, toArray } from 'rxjs';
import { describe, expect, it, vi } from 'vitest';
import { createClient, createRuntime, MemoryStore, PayloadTooLargeError, silentLogger, type Runtime } from '../src/index.js';
import { createHttpHandler } from '../src/http/create-http-handler.js';
import { WEBHOOK_PATH } from '../src/client/http-management-payload.js';
import { SETTLED } from '../src/testing/settled.js';
import { InjectedFaultError } from '../src/testing/fault-injection.js';
import { SLOW_BURST_MS } from '../src/worker/turns.js';
import { FailingStore, RecordingLogger } from './failing-store.js';
import { ending } from './ending.js';
import { heldActivity } from './held-activity.js';
import { HandClock, runtimesStoppedAfterEach, T0 } from './hand-clock.js';
import { within } from './within.js';

const runtimes = runtimesStoppedAfterEach();

/** Keeps the thread busy for `ms` of real time (synchronous work, as a slow call on a loaded machine). */
function busyFor(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // Synchronous work.
  }
}

/**
 * Fires the timers of `clock` due at its time, without moving it, until `end` settles: at most `max` rounds, each
 * awaited within SETTLED of real time.
 */
async function fireDueUntil(clock: HandClock, end: Promise<unknown>, what: string, max: number): Promise<void> {
  const ended = end.then(() => -1, () => -1);
  for (let round = 0; round < max; round++) {
    if ((await within(Promise.race([clock.timerDueBy(clock.ms), ended]), what)) === -1) return;
    clock.fireDue();
  }
}

/** A FailingStore, a hand-moved clock and a logger that records, for one test's runtime. */
function onFailingStore() {
  return { clock: new HandClock(), store: new FailingStore(), logger: new RecordingLogger() };
}

/** Stops `runtime` (waiting for everything it runs) and checks that no timer of it is left on `clock`. */
async function stopsLeavingNoTimer(runtime: Runtime, clock: HandClock): Promise<void> {
  await within(runtime.stop({ graceMs: Infinity }), 'the stop resolving');
  expect(clock.timers.size).toBe(0);
}

/**
 * A runtime on a FailingStore (hand-moved clock) whose activity 'Work' returns 'worked' and whose commits then fail
 * for good; resolves once the worker has reported the first failed commit of the result.
 */
async function failingResultCommits(options: { readonly activityLeaseMs?: number } = {}) {
  const { clock, store, logger } = onFailingStore();
  const runtime = createRuntime({
    store, clock, logger, ...options,
    orchestrators: { Calls: function* (ctx) { return yield ctx.callActivity('Work'); } },
    activities: { Work: () => { store.failNext('commit', 1000); return 'worked'; } },
  });
  runtimes.push({ runtime, clock });
  const failed = logger.nextError('result of activity Work');
  await runtime.start();
  await runtime.client.startNew('Calls');
  await within(failed, 'the failed result commit being reported');
  return { clock, store, logger, runtime };
}

describe('a store whose methods fail', () => {
  for (const how of ['reject', 'throw'] as const) {
    it(`commits a finished activity's result once the store recovers, without running it again (commit ${how}s)`, async () => {
      const { clock, store, logger } = onFailingStore();
      let runs = 0;
      const runtime = createRuntime({
        store, clock, logger,
        orchestrators: { Calls: function* (ctx) { return yield ctx.callActivity('Work', 2); } },
        activities: {
          Work: (n: number) => {
            runs++;
            // Both ways of committing the result fail: with the step it wakes, then alone.
            store.failNext('commit', 2, how);
            return n * 21;
          },
        },
      });
      runtimes.push({ runtime, clock });
      const failed = logger.nextError('');
      await runtime.start();
      const id = await runtime.client.startNew('Calls');
      const ended = ending(runtime.client, id);
      ended.catch(() => undefined); // awaited at the end; a rejection after a failed expectation is no unhandled error
      await within(failed, 'the failed result commit being reported');
      expect(store.inner.capabilities.fusedSteps).toBe(true);
      // The result is committed again soon (backing off as claims do), not dropped until the task's 5-minute lease
      // expires and the activity runs a second time.
      expect(clock.earliestDelay()).toBeLessThanOrEqual(1000);
      const retry = [...clock.timers].find(([, t]) => t.at <= clock.ms + 1000)![0];
      clock.ms = clock.timers.get(retry)!.at;
      clock.fire(retry);
      expect(await ended).toMatchObject({ runtimeStatus: 'Completed', output: 42 });
      expect(runs).toBe(1);
    });

    it(`keeps renewing a running activity's lease after one renewal failed (renewal ${how}s)`, async () => {
      const { clock, store, logger } = onFailingStore();
      const { activity: Long, running, finish } = heldActivity();
      const runtime = createRuntime({
        store, clock, logger, activityLeaseMs: 3000,
        orchestrators: { Calls: function* (ctx) { return yield ctx.callActivity('Long'); } },
        activities: { Long },
      });
      runtimes.push({ runtime, clock });
      await runtime.start();
      const id = await runtime.client.startNew('Calls');
      const ended = ending(runtime.client, id);
      ended.catch(() => undefined); // awaited at the end; a rejection after a failed expectation is no unhandled error
      await within(running, 'the activity starting');
      // The heartbeat renews every third of the lease: its first renewal fails.
      const firstBeat = [...clock.timers].find(([, t]) => t.at === T0 + 1000)![0];
      store.failNext('renewActivityLease', 1, how);
      const failed = logger.nextError('renewing the lease');
      clock.ms = T0 + 1000;
      clock.fire(firstBeat);
      await within(failed, 'the failed renewal being reported');
      // The next renewal is armed all the same, and it succeeds.
      const secondBeat = [...clock.timers].find(([, t]) => t.at === T0 + 2000)?.[0];
      expect(secondBeat, 'a renewal armed after the failed one').toBeDefined();
      clock.ms = T0 + 2000;
      clock.fireDue(); // the renewal, and the deadline timer of the store calls, armed for the failed renewal's bound
      // Past the lease's first expiry (T0 + 3 s) the task is still held: no other worker can take it and run it again.
      clock.ms = T0 + 3500;
      expect(await store.inner.claimActivity({ owner: 'other', leaseMs: 3000, now: clock.now() })).toBeUndefined();
      finish('done');
      expect(await ended).toMatchObject({ runtimeStatus: 'Completed', output: 'done' });
    });
  }
});

describe('a store whose methods fail, at the edges of a run', () => {
  for (const how of ['reject', 'throw'] as const) {
    it(`retries claims that fail, backing off, and then runs the work (claims ${how})`, async () => {
      const { clock, store, logger } = onFailingStore();
      const id = await createClient({ store, clock }).startNew('Echo', { input: 'x' });
      const runtime = createRuntime({ store, clock, logger, orchestrators: { Echo: function* (ctx) { return ctx.getInput(); } } });
      runtimes.push({ runtime, clock });
      store.failNext('claimOrchestration', 2, how);
      const ended = ending(runtime.client, id);
      ended.catch(() => undefined);
      const first = logger.nextError('could not claim work');
      await runtime.start();
      expect(await within(first, 'the first failed claim being reported')).toContain('retrying in 100 ms');
      const second = logger.nextError('could not claim work');
      clock.ms = T0 + 100;
      clock.fire(await within(clock.timerDueBy(T0 + 100), 'the retry timer'));
      expect(await within(second, 'the second failed claim being reported')).toContain('retrying in 200 ms');
      clock.ms = T0 + 300;
      clock.fire(await within(clock.timerDueBy(T0 + 300), 'the second retry timer'));
      expect(await ended).toMatchObject({ runtimeStatus: 'Completed', output: 'x' });
    });

    it(`resolves a start that committed while the runtime stopped, and ends the stop, when releasing its lease ${how}s`, async () => {
      const { clock, store, logger } = onFailingStore();
      const runtime = createRuntime({ store, clock, logger, orchestrators: { Echo: function* (ctx) { return ctx.getInput(); } } });
      runtimes.push({ runtime, clock });
      await runtime.start();
      // The start is committed leased to the worker, which is stopping by the time the commit resolves: it releases
      // the lease rather than run the step, and that release fails.
      store.failNext('abandonOrchestration', 1, how);
      const starting = runtime.client.startNew('Echo', { input: 'x' });
      const stopping = runtime.stop({ graceMs: 0 }); // its timer is not fired: the stop must end by draining
      const id = await within(starting, 'startNew settling');
      expect(id).toBeTypeOf('string');
      await within(stopping, 'stop resolving');
      expect((await store.inner.getInstance(id))?.runtimeStatus).toBe('Pending'); // committed; its lease lapses in time
    });

    it(`ends status$ and waitForCompletion with the store's error, holding no feed, when reading the instance ${how}s`, async () => {
      const store = new FailingStore();
      const client = createClient({ store, clock: new HandClock() });
      const id = await client.startNew('Echo');
      store.failNext('getInstance', 1, how);
      const failed = firstValueFrom(client.status$(id)).then(() => 'a value', (error: unknown) => error);
      expect(await within(failed, 'status$ failing')).toMatchObject({ message: 'injected: getInstance failed' });
      expect(store.changeSubscribers).toBe(0);
      store.failNext('getInstance', 1, how);
      await expect(client.waitForCompletion(id, { timeoutMs: 1000 })).rejects.toThrow('injected: getInstance failed');
      expect(store.changeSubscribers).toBe(0);
    });

    it(`ends getStatus with a history, and history$, with the store's error, holding no feed, when reading the instance with its history ${how}s`, async () => {
      // The MemoryStore reads both at once (getInstanceHistory): the client asks for that read alone.
      const store = new FailingStore();
      const client = createClient({ store, clock: new HandClock() });
      const id = await client.startNew('Echo');
      store.failNext('getInstanceHistory', 1, how);
      await expect(client.getStatus(id, { showHistory: true })).rejects.toThrow('injected: getInstanceHistory failed');
      store.failNext('getInstanceHistory', 1, how);
      const failed = firstValueFrom(client.history$(id)).then(() => 'a value', (error: unknown) => error);
      expect(await within(failed, 'history$ failing')).toMatchObject({ message: 'injected: getInstanceHistory failed' });
      expect(store.changeSubscribers).toBe(0);
    });
  }
});

describe('watchers that fail, and a store that closes', () => {
  it('keeps other subscribers and the worker going when one subscriber\'s next throws', async () => {
    const reported: unknown[] = [];
    const before = config.onUnhandledError;
    config.onUnhandledError = (error) => reported.push(error); // where rxjs reports an error a subscriber threw
    try {
      const store = new MemoryStore();
      const runtime = createRuntime({
        store, logger: silentLogger,
        orchestrators: { Steps: function* (ctx) {
          ctx.setCustomStatus(1);
          yield ctx.callActivity('Step');
          ctx.setCustomStatus(2);
          yield ctx.callActivity('Step');
          return 'done';
        } },
        activities: { Step: () => 'ok' },
      });
      runtimes.push({ runtime, clock: new HandClock() });
      const bad = new Error('a subscriber that throws');
      const throwing = () => { throw bad; };
      const id = 'steps-1';
      // A throwing subscriber on each feed, each subscribed before the others: the store's change and work feeds,
      // status$ and customStatus$ of the instance.
      const subscriptions = [
        store.changes$.subscribe(throwing), store.workAvailable$.subscribe(throwing),
        runtime.client.status$(id).subscribe(throwing), runtime.client.customStatus$(id).subscribe(throwing),
      ];
      const values = lastValueFrom(runtime.client.customStatus$(id).pipe(takeWhile((s) => s !== 2, true), toArray()));
      await runtime.start();
      await runtime.client.startNew('Steps', { instanceId: id });
      expect((await runtime.client.waitForCompletion(id, SETTLED))).toMatchObject({ runtimeStatus: 'Completed', output: 'done' });
      expect(await values).toEqual([undefined, 1, 2]);
      const second = await runtime.client.startNew('Steps');
      expect((await runtime.client.waitForCompletion(second, SETTLED)).runtimeStatus).toBe('Completed');
      for (const subscription of subscriptions) subscription.unsubscribe();
      // rxjs reports what a subscriber threw on a timer of its own (setTimeout 0), queued before this one.
      await new Promise((resolve) => setTimeout(resolve, 0));
      expect(reported.length).toBeGreaterThan(3);
      expect(reported.every((error) => error === bad)).toBe(true);
    } finally {
      config.onUnhandledError = before;
    }
  });

  it('settles every waiter when the store closes under them: waits, observables, a command waiting to be applied', async () => {
    const store = new FailingStore();
    // An instance that waits for an event, with a history and a custom status; its runtime then stops.
    const runtimeClock = new HandClock();
    const runtime = createRuntime({
      store, clock: runtimeClock, logger: silentLogger,
      orchestrators: { Waits: function* (ctx) { ctx.setCustomStatus('waiting'); return yield ctx.waitForExternalEvent('go'); } },
    });
    runtimes.push({ runtime, clock: runtimeClock });
    await runtime.start();
    const id = await runtime.client.startNew('Waits');
    await within(firstValueFrom(runtime.client.status$(id).pipe(filter((s) => s?.runtimeStatus === 'Running'))), 'the instance running');
    await runtime.stop({ graceMs: Infinity });

    // A client of its own watches it every way there is.
    const clock = new HandClock();
    const client = createClient({ store, clock });
    const waiting = client.waitForCompletion(id, { timeoutMs: 60_000 }).then((status) => status, (error: unknown) => error);
    const firsts: Promise<unknown>[] = [];
    const watch = <T>(source: Observable<T>): Promise<T[]> => {
      let first!: () => void;
      firsts.push(new Promise<void>((resolve) => (first = resolve)));
      return lastValueFrom(source.pipe(tap(() => first()), toArray()));
    };
    const statuses = watch(client.status$(id));
    const customStatuses = watch(client.customStatus$(id));
    const history = watch(client.history$(id));
    const lists = watch(client.instances$());
    // A resume queued first (one whose call gave up waiting): the suspend after it waits for a worker to apply both,
    // and none runs. (With no command queued before it and no worker holding the instance, the client would commit the
    // suspend itself, as it does a terminate or a resume.)
    const resumed = { type: 'ExecutionResumed', eventId: -1, timestamp: new Date(0).toISOString(), reason: 'queued' } as const;
    await store.commit({ requests: [{ type: 'insertMessage', message: { id: 'queued-resume', instanceId: id, event: resumed }, ifMissing: 'fail' }] });
    const committed = store.calledNext('commit', (writeSet) => writeSet.lease === undefined);
    const suspending = client.suspend(id, 'closing');
    // Every initial read has answered (waitForCompletion's was asked first), and the suspend's message is committed.
    await within(Promise.all([...firsts, committed]), 'the watchers starting');
    await store.close();
    expect(await within(waiting, 'waitForCompletion settling')).toMatchObject({ code: 'store-closed' }); // not its Running status
    expect((await within(statuses, 'status$ completing')).at(-1)?.runtimeStatus).toBe('Running');
    expect(await within(customStatuses, 'customStatus$ completing')).toEqual(['waiting']);
    expect((await within(history, 'history$ completing')).map((e) => e.type)).toContain('ExecutionStarted');
    expect((await within(lists, 'instances$ completing')).at(-1)?.map((s) => s.instanceId)).toEqual([id]);
    await within(suspending, 'suspend settling');
    expect(store.changeSubscribers).toBe(0);
    expect(clock.timers.size).toBe(0); // the deadlines of both waits were cleared
  });
});

describe('a claim round where one kind of claim fails', () => {
  for (const failing of ['claimOrchestration', 'claimActivity'] as const) for (const how of ['reject', 'throw'] as const) {
    it(`runs the work the other claim took when ${failing} fails (${how}s), instead of leaving it leased`, async () => {
      const clock = new HandClock();
      const store = new FailingStore();
      // An activity task left claimable by a first life that stopped while it ran (its lease released).
      const first = createRuntime({
        store, clock, logger: silentLogger,
        orchestrators: { Calls: function* (ctx) { return yield ctx.callActivity('Work'); } },
        activities: { Work: () => { running(); return new Promise<never>(() => undefined); } },
      });
      let running!: () => void;
      const ran = new Promise<void>((resolve) => (running = resolve));
      await first.start();
      await first.client.startNew('Calls');
      await within(ran, 'the activity running');
      const stopping = first.stop({ graceMs: 0 });
      clock.fireDue();
      await within(stopping, 'the first life stopping');
      // And an instance waiting for its first step.
      await createClient({ store, clock }).startNew('Marks');

      let stepRan = false;
      let activityRan = false;
      const logger = new RecordingLogger();
      const second = createRuntime({
        store, clock, logger,
        orchestrators: {
          // eslint-disable-next-line require-yield
          Marks: function* () { stepRan = true; return 'marked'; },
          Calls: function* (ctx) { return yield ctx.callActivity('Work'); },
        },
        activities: { Work: () => { activityRan = true; return 'worked'; } },
      });
      runtimes.push({ runtime: second, clock });
      store.failNext(failing, 1, how);
      const failed = logger.nextError('could not claim work');
      await second.start(); // its first round claims both kinds at once
      await within(failed, 'the failed claim being reported');
      // What the other claim took runs now, not when its lease (30 s for a step, 5 min for an activity) expires: the hand
      // clock never fires here, so no lease can expire. It may run just after the failure is reported (on a loaded
      // machine the report can come first), so wait for it.
      await vi.waitFor(() => expect(failing === 'claimOrchestration' ? activityRan : stepRan).toBe(true), { timeout: 60_000, interval: 10 });
    });
  }
});

describe('a store that fails under a step or a stop', () => {
  it('retries a step whose history read failed when its lease expires, and completes it', async () => {
    const { clock, store, logger } = onFailingStore();
    const runtime = createRuntime({
      store, clock, logger, cacheSize: 0, // every step replays, so every step after the first reads the history
      orchestrators: { Calls: function* (ctx) { return yield ctx.callActivity('Work'); } },
      activities: { Work: () => { store.failNext('getHistory', 1); return 'worked'; } },
    });
    runtimes.push({ runtime, clock });
    const failed = logger.nextError('step of');
    await runtime.start();
    const id = await runtime.client.startNew('Calls');
    const ended = ending(runtime.client, id);
    ended.catch(() => undefined);
    expect(await within(failed, 'the failed step being reported')).toContain('retried when its lease expires');
    // The step's lease (30 s) is the wake-up that retries it.
    // The wake-up is due then, as is the deadline timer of the store calls (armed for the first one's 30 s bound).
    clock.ms = T0 + 30_000;
    await fireDueUntil(clock, ended, 'a wake-up at the lease expiry', 5);
    expect(await ended).toMatchObject({ runtimeStatus: 'Completed', output: 'worked' });
  });

  it('does not step on a history shorter than the state counts (a lagging read): the step is retried when its lease expires', async () => {
    const { clock, store, logger } = onFailingStore();
    const runtime = createRuntime({
      store, clock, logger, cacheSize: 0, // every step replays, so every step after the first reads the history
      orchestrators: { Calls: function* (ctx) { return yield ctx.callActivity('Work'); } },
      activities: { Work: () => { store.shortHistories = 1; return 'worked'; } },
    });
    runtimes.push({ runtime, clock });
    const failed = logger.nextError('step of');
    await runtime.start();
    const id = await runtime.client.startNew('Calls');
    const ended = ending(runtime.client, id);
    ended.catch(() => undefined);
    // Replayed, the short history would have scheduled the activity again and appended the step's events after it.
    expect(await within(failed, 'the step on a short history being reported')).toContain('retried when its lease expires');
    expect(store.shortHistories).toBe(0);
    clock.ms = T0 + 30_000;
    await fireDueUntil(clock, ended, 'a wake-up at the lease expiry', 5);
    expect(await ended).toMatchObject({ runtimeStatus: 'Completed', output: 'worked' });
    const history = await store.inner.getHistory(id);
    expect(history.filter((e) => e.type === 'TaskScheduled')).toHaveLength(1);
  });

  it('ends a result retry when the task\'s lease expires, so a stop with an endless grace ends while the store stays down', async () => {
    const { clock, store, logger, runtime } = await failingResultCommits({ activityLeaseMs: 3000 });
    // The store is down for the lease's renewals too (they go on while the result is retried): the lease expires.
    store.failNext('renewActivityLease', 1000);
    const expiredAt = logger.nextError('lease has expired').then(() => clock.ms);
    const stopping = runtime.stop({ graceMs: Infinity });
    // The retries back off (100, 200, 400, ... ms) up to the lease's expiry at T0 + 3 s, and end there. (The worker's
    // deadline timer, left armed by the last attempt's 30 s bound, may be fired too before the stop is seen to end.)
    await clock.fireUntil(stopping, 'a retry or the stop', 30);
    await within(stopping, 'the stop resolving');
    expect(await within(expiredAt, 'the expired lease being reported')).toBeLessThanOrEqual(T0 + 3000 + 1);
    store.failNext('commit', 0);
    expect((await store.inner.claimActivity({ owner: 'next', leaseMs: 1000, now: clock.now() }))?.task.name).toBe('Work');
  });

  it('records a result the store refuses for good (a DurableError) as the activity\'s failure instead of retrying it', async () => {
    const { clock, store, logger } = onFailingStore();
    let runs = 0;
    const runtime = createRuntime({
      store, clock, logger,
      orchestrators: {
        Calls: function* (ctx) {
          try {
            return yield ctx.callActivity('Work');
          } catch (error) {
            return `failed: ${(error as Error).message}`;
          }
        },
      },
      activities: {
        Work: () => {
          runs++;
          // Both ways of committing the result are refused: with the step it wakes, then alone.
          store.failNext('commit', 2, 'reject', () => new PayloadTooLargeError('injected: the result is too large'));
          return 'worked';
        },
      },
    });
    runtimes.push({ runtime, clock });
    await runtime.start();
    const id = await runtime.client.startNew('Calls');
    const ended = await ending(runtime.client, id);
    expect(ended).toMatchObject({ runtimeStatus: 'Completed' });
    expect(ended?.output).toContain('injected: the result is too large');
    expect(runs).toBe(1);
  });

  for (const slow of [false, true]) {
    const when = slow ? ', also when a slow failure makes the worker wait for an event-loop turn before its next attempt' : '';
    it(`retries a result the store failed to commit with a transient DurableError (a 503), and never records it as a failure${when}`, async () => {
      const { clock, store, logger } = onFailingStore();
      let runs = 0;
      const runtime = createRuntime({
        store, clock, logger, activityLeaseMs: 3000,
        orchestrators: { Calls: function* (ctx) { return yield ctx.callActivity('Work'); } },
        activities: {
          Work: () => {
            runs++;
            // The store is unavailable for both ways of committing the result (with the step it wakes, then alone).
            store.failNext('commit', 2, 'reject', () => {
              // A failure that takes long (as any call on a loaded machine) takes the worker's burst past its limit: its
              // next attempt first waits for an event-loop turn, and the task's lease (3 s) must not lapse meanwhile.
              if (slow) busyFor(2 * SLOW_BURST_MS);
              return new InjectedFaultError('commit', false);
            });
            return 'worked';
          },
        },
      });
      runtimes.push({ runtime, clock });
      const failed = logger.nextError('result of activity Work');
      await runtime.start();
      const id = await runtime.client.startNew('Calls');
      await within(failed, 'the failed result commit being reported');
      const done = ending(runtime.client, id);
      // The retries' back-off timers (100 ms, then 200 ms) fire until the instance ends, within the task's lease.
      expect(await clock.fireUntil(done, 'a retry or the end', 20)).toBeLessThan(T0 + 3000);
      expect(await within(done, 'the instance ending')).toMatchObject({ runtimeStatus: 'Completed', output: 'worked' });
      expect(runs).toBe(1);
    });
  }

  it('ends a result retry when a stop abandons the activity: the stop resolves and the task is claimable at once', async () => {
    const { clock, store, runtime } = await failingResultCommits();
    const stopping = runtime.stop({ graceMs: 5000 });
    const grace = [...clock.timers].find(([, t]) => t.at === T0 + 5000)![0]; // armed by stop at once
    clock.ms = T0 + 5000;
    clock.fire(grace);
    await within(stopping, 'the stop resolving');
    expect(clock.timers.size).toBe(0); // the retry's timer went with the stop
    store.failNext('commit', 0);
    expect((await store.inner.claimActivity({ owner: 'next', leaseMs: 1000, now: clock.now() }))?.task.name).toBe('Work');
  });
});

describe('a store whose change feed throws when unsubscribed', () => {
  it('stops the worker on runtime.stop() without touching the client; client.close() ends its waits and watches, then reports the error', async () => {
    const clock = new HandClock();
    const store = new FailingStore();
    const runtime = createRuntime({
      store, clock, logger: silentLogger,
      orchestrators: { Waits: function* (ctx) { return yield ctx.waitForExternalEvent('go'); } },
    });
    runtimes.push({ runtime, clock });
    await runtime.start();
    const id = await runtime.client.startNew('Waits');
    const waiting = runtime.client.waitForCompletion(id, { timeoutMs: 60_000 }).then((status) => status, (error: unknown) => error);
    const statuses = lastValueFrom(runtime.client.status$(id).pipe(toArray()));
    await within(firstValueFrom(runtime.client.status$(id).pipe(filter((s) => s?.runtimeStatus === 'Running'))), 'the instance running');
    expect(store.workSubscribers).toBe(1);
    store.teardownThrows = true;
    await within(runtime.stop({ graceMs: Infinity }), 'the stop'); // the worker's feeds only: nothing throws
    expect(store.workSubscribers).toBe(0);
    expect(store.changeSubscribers).toBe(1); // the client's watches go on
    expect(() => runtime.client.close()).toThrow('injected: changes$ teardown failed'); // not swallowed
    expect(await within(waiting, 'waitForCompletion settling')).toMatchObject({ code: 'store-closed' }); // not its Running status
    expect((await within(statuses, 'status$ completing')).at(-1)?.runtimeStatus).toBe('Running');
    expect(store.changeSubscribers).toBe(0);
  });
});

describe('a store whose work feed throws when unsubscribed', () => {
  it('still waits out the grace, releases what runs on, then rejects runtime.stop() with the error', async () => {
    const clock = new HandClock();
    const store = new FailingStore();
    let running!: () => void;
    const ran = new Promise<void>((resolve) => (running = resolve));
    let open!: (value: string) => void;
    const runtime = createRuntime({
      store, clock, logger: silentLogger,
      orchestrators: { Calls: function* (ctx) { return yield ctx.callActivity('Gated'); } },
      activities: { Gated: () => new Promise<string>((resolve) => { open = resolve; running(); }) },
    });
    runtimes.push({ runtime, clock });
    await runtime.start();
    await runtime.client.startNew('Calls');
    await within(ran, 'the activity running');
    store.workTeardownThrows = true;
    const stopping = runtime.stop({ graceMs: 500 }).then(() => 'resolved', (error: unknown) => error);
    // The stop waits for the running activity: its grace timer is armed, and the stop has not settled.
    const grace = await within(clock.timerDueBy(clock.ms + 500), 'the grace timer being armed');
    clock.ms = clock.timers.get(grace)!.at;
    clock.fire(grace);
    const stopped = await within(stopping, 'the stop settling');
    expect(stopped).toBeInstanceOf(Error); // the teardown's failure is not swallowed
    expect(String((stopped as Error).message)).toContain('injected: workAvailable$ teardown failed');
    expect(store.workSubscribers).toBe(0);
    // The activity's lease was released when the grace ran out: another worker takes the task over at once.
    expect((await store.inner.claimActivity({ owner: 'other', leaseMs: 1000, now: clock.now() }))?.task.name).toBe('Gated');
    open('late'); // its result is refused (the lease is gone), and nothing is left running
  });
});

describe('a store call that never settles', () => {
  const echo = function* (ctx: { getInput(): unknown }) { return ctx.getInput(); };

  /** How many times `id`'s history records its completion. */
  async function completions(store: FailingStore, id: string): Promise<number> {
    return (await store.inner.getHistory(id)).filter((e) => e.type === 'ExecutionCompleted').length;
  }

  it('abandons a claim that never settles when the lease it asks for would expire, and claims again', async () => {
    const { clock, store, logger } = onFailingStore();
    const a = await createClient({ store, clock }).startNew('Echo', { input: 'a' }); // left for a claim to take
    const runtime = createRuntime({ store, clock, logger, orchestrators: { Echo: echo } });
    runtimes.push({ runtime, clock });
    const hung = store.hangNext('claimOrchestration');
    const abandoned = logger.nextError('could not claim work');
    await runtime.start();
    await within(hung.called, 'the claim being made');
    // The claim's deadline (the orchestration lease, 30 s) is the only way on: firing it abandons the claim.
    await clock.fireUntil(abandoned, 'the claim\'s deadline', 5);
    expect(await within(abandoned, 'the abandoned claim being reported')).toContain('retrying in 100 ms');
    // The store recovers: the late claim takes A under a lease the worker ignores, and a new claim takes it again.
    await within(hung.release(), 'the late claim settling');
    const ended = Promise.all([ending(runtime.client, a), ending(runtime.client, await runtime.client.startNew('Echo', { input: 'b' }))]);
    ended.catch(() => undefined);
    await clock.fireUntil(ended, 'a timer or both ends', 20);
    expect(await ended).toMatchObject([{ runtimeStatus: 'Completed', output: 'a' }, { runtimeStatus: 'Completed', output: 'b' }]);
    expect(await completions(store, a)).toBe(1);
    await stopsLeavingNoTimer(runtime, clock);
  });

  for (const method of ['commit', 'getHistory'] as const) {
    it(`abandons a step's ${method} that never settles at its bound (storeCallTimeoutMs): its slot runs other instances, and the step is retried`, async () => {
      const { clock, store, logger } = onFailingStore();
      let hung: ReturnType<FailingStore['hangNext']> | undefined;
      let worked!: () => void;
      const working = new Promise<void>((resolve) => (worked = resolve));
      const runtime = createRuntime({
        // One step slot, which the hung step holds; every step replays, so the step after the activity reads the history.
        store, clock, logger, maxConcurrentOrchestrations: 1, cacheSize: 0,
        orchestrators: { Calls: function* (ctx) { return yield ctx.callActivity('Work'); }, Echo: echo },
        // The step's commit comes after the activity's result's.
        activities: { Work: () => { hung = store.hangNext(method, method === 'commit' ? 1 : 0); worked(); return 'worked'; } },
      });
      runtimes.push({ runtime, clock });
      await runtime.start();
      const a = await runtime.client.startNew('Calls');
      await within(working, 'the activity running');
      await within(hung!.called, `the step's ${method}`);
      const b = await runtime.client.startNew('Echo', { input: 'b' }); // no free slot: it waits for one
      const ended = Promise.all([ending(runtime.client, a), ending(runtime.client, b)]);
      ended.catch(() => undefined);
      // The step's lease ends at T0 + 30 s; until then B's claims are re-checked every second.
      await clock.fireUntil(ended, 'a timer or both ends', 60);
      expect(await ended).toMatchObject([{ runtimeStatus: 'Completed', output: 'worked' }, { runtimeStatus: 'Completed', output: 'b' }]);
      expect(logger.errors.some((message) => message.includes(`step of ${a} failed`))).toBe(true);
      // The store recovers: the late call runs under a lease that is gone (a commit is refused), and changes nothing.
      await within(hung!.release(), `the late ${method} settling`);
      expect(await completions(store, a)).toBe(1);
      await stopsLeavingNoTimer(runtime, clock);
    });
  }

  it('abandons a lease renewal that never settles when the next is due, and renews then: the running activity keeps its task', async () => {
    const { clock, store, logger } = onFailingStore();
    const { activity: Long, running, finish } = heldActivity();
    const runtime = createRuntime({
      store, clock, logger, activityLeaseMs: 3000,
      orchestrators: { Calls: function* (ctx) { return yield ctx.callActivity('Long'); }, Echo: echo },
      activities: { Long },
    });
    runtimes.push({ runtime, clock });
    await runtime.start();
    const a = await runtime.client.startNew('Calls');
    await within(running, 'the activity starting');
    // The heartbeat renews every third of the lease: its first renewal hangs.
    const hung = store.hangNext('renewActivityLease');
    clock.ms = T0 + 1000;
    clock.fire(await within(clock.timerDueBy(T0 + 1000), 'the first renewal being armed'));
    await within(hung.called, 'the first renewal being sent');
    // When the next renewal is due, the hung one is abandoned (and reported), and the next goes out at once.
    const abandoned = logger.nextError('renewing the lease');
    clock.ms = T0 + 2000;
    clock.fire(await within(clock.timerDueBy(T0 + 2000), 'the hung renewal\'s deadline'));
    await within(abandoned, 'the abandoned renewal being reported');
    const renewed = store.calledNext('renewActivityLease');
    clock.fire(await within(clock.timerDueBy(T0 + 2000), 'the next renewal'));
    await within(renewed, 'the next renewal being sent');
    // Past the lease's first expiry (T0 + 3 s) the task is still held: no other worker can take it and run it again.
    clock.ms = T0 + 3500;
    expect(await store.inner.claimActivity({ owner: 'other', leaseMs: 3000, now: clock.now() })).toBeUndefined();
    // Other instances run meanwhile.
    const b = await runtime.client.startNew('Echo', { input: 'b' });
    expect(await ending(runtime.client, b)).toMatchObject({ runtimeStatus: 'Completed', output: 'b' });
    finish('done');
    expect(await ending(runtime.client, a)).toMatchObject({ runtimeStatus: 'Completed', output: 'done' });
    await within(hung.release(), 'the late renewal settling'); // the task is gone: refused, and ignored
    await stopsLeavingNoTimer(runtime, clock);
  });

  it('ends stop() when a step\'s commit never settles and neither does the release of its lease, leaving no timer', async () => {
    const { clock, store, logger } = onFailingStore();
    await createClient({ store, clock }).startNew('Echo', { input: 'a' });
    const runtime = createRuntime({ store, clock, logger, orchestrators: { Echo: echo } });
    runtimes.push({ runtime, clock });
    const commit = store.hangNext('commit');
    await runtime.start();
    await within(commit.called, 'the step committing');
    const release = store.hangNext('abandonOrchestration');
    const stopping = runtime.stop({ graceMs: 0 });
    // The grace (0) ends, the release is sent and hangs; its deadline (storeCallTimeoutMs, 30 s) ends it.
    await clock.fireUntil(stopping, 'a timer or the stop', 5);
    await within(stopping, 'the stop resolving');
    await within(release.called, 'the release being sent');
    expect(clock.timers.size).toBe(0);
  });

  it('claims once a release of its reused worker id\'s leases that never settles is abandoned', async () => {
    const { clock, store, logger } = onFailingStore();
    const a = await createClient({ store, clock }).startNew('Echo', { input: 'a' });
    const runtime = createRuntime({ store, clock, logger, workerId: 'w1', storeCallTimeoutMs: 5000, orchestrators: { Echo: echo } });
    runtimes.push({ runtime, clock });
    const hung = store.hangNext('releaseOwner');
    await runtime.start();
    await within(hung.called, 'the release being sent');
    const ended = ending(runtime.client, a);
    ended.catch(() => undefined);
    // One timer: the release's deadline (storeCallTimeoutMs, 5 s); the claims then run the instance.
    await clock.fireUntil(ended, 'a timer or the end', 1);
    expect(await ended).toMatchObject({ runtimeStatus: 'Completed', output: 'a' });
    expect(clock.ms).toBe(T0 + 5000);
    expect(logger.errors.some((message) => message.includes('releasing the leases of worker w1 failed'))).toBe(true);
    await within(hung.release(), 'the late release settling');
  });

  /**
   * A runtime whose only activity slot runs 'Long' (so the worker claims no activity while it runs) under a 3 s lease
   * that is never renewed (every renewal fails), with the clock moved past that lease: resolves once the activity
   * runs, with the function that finishes it and the count of its runs.
   */
  async function longActivityPastItsLease(store: FailingStore, clock: HandClock, logger: RecordingLogger) {
    const { activity: Long, running, finish, runs } = heldActivity();
    const runtime = createRuntime({
      // No cached execution: the result is committed alone, in one store call.
      store, clock, logger, activityLeaseMs: 3000, maxConcurrentActivities: 1, cacheSize: 0,
      orchestrators: { Calls: function* (ctx) { return yield ctx.callActivity('Long'); } },
      activities: { Long },
    });
    runtimes.push({ runtime, clock });
    await runtime.start();
    const id = await runtime.client.startNew('Calls');
    await within(running, 'the activity starting');
    store.failNext('renewActivityLease', 1000);
    const renewalFailed = logger.nextError('renewing the lease');
    clock.ms = T0 + 1000;
    clock.fire(await within(clock.timerDueBy(T0 + 1000), 'the first renewal being armed'));
    await within(renewalFailed, 'the failed renewal being reported');
    // The lease (T0 + 3 s) lapses; the renewals and wake-ups due by then fire (and the renewals fail).
    clock.ms = T0 + 3500;
    clock.fireDue();
    return { runtime, id, finish, runs };
  }

  it('waits for the store to answer a result committed after the task\'s lease lapsed, instead of dropping it at once', async () => {
    const { clock, store, logger } = onFailingStore();
    const { runtime, id, finish, runs } = await longActivityPastItsLease(store, clock, logger);
    // Nobody took the task over, so the store's lease check accepts the result: it takes the store a moment.
    const commit = store.hangNext('commit');
    finish('done');
    await within(commit.called, 'the result being committed');
    clock.ms = T0 + 3600;
    clock.fireDue();
    await within(commit.release(), 'the store answering');
    const ended = ending(runtime.client, id);
    ended.catch(() => undefined);
    await fireDueUntil(clock, ended, 'a wake-up or the end', 5);
    expect(await ended).toMatchObject({ runtimeStatus: 'Completed', output: 'done' });
    expect(runs()).toBe(1);
    expect(runtime.metrics.activitiesRun).toBe(1);
    expect(logger.errors.filter((message) => message.includes('committing the result'))).toEqual([]);
    await stopsLeavingNoTimer(runtime, clock);
  });

  it('ends a result commit that never settles with storeCallTimeoutMs: Infinity, once the task\'s lease (at least activityLeaseMs) has passed', async () => {
    const { clock, store, logger } = onFailingStore();
    let hung: ReturnType<FailingStore['hangNext']> | undefined;
    let ran!: () => void;
    const workRan = new Promise<void>((resolve) => (ran = resolve));
    const runtime = createRuntime({
      store, clock, logger, storeCallTimeoutMs: Infinity, activityLeaseMs: 3000,
      orchestrators: { Calls: function* (ctx) { return yield ctx.callActivity('Work'); } },
      activities: { Work: () => { hung ??= store.hangNext('commit'); ran(); return 'worked'; } },
    });
    runtimes.push({ runtime, clock });
    await runtime.start();
    const id = await runtime.client.startNew('Calls');
    const dropped = logger.nextError('committing the result of activity Work');
    // The start's step runs a macrotask after the start, and a wake-up for its lease may be armed meanwhile: the result
    // commit is made before timers are fired, so its deadline is the earliest.
    await within(workRan.then(() => hung!.called), 'the result commit');
    // Without a bound the wait would hold the task for good: the attempt ends when the lease (T0 + 3 s) has passed. The
    // lease was renewed meanwhile, so the result is sent again (and lands).
    expect(await clock.fireUntil(dropped, 'the result commit\'s deadline', 10)).toBe(T0 + 3000);
    expect(await dropped).toContain('failed; retrying in');
    await within(hung!.release(), 'the late commit settling');
    const ended = ending(runtime.client, id);
    ended.catch(() => undefined);
    await clock.fireUntil(ended, 'a timer or the end', 20);
    expect(await ended).toMatchObject({ runtimeStatus: 'Completed', output: 'worked' });
    // The retry then finds the result committed (by the late attempt) and ends: the stop waits for it.
    const stopping = runtime.stop({ graceMs: Infinity });
    expect(await clock.fireUntil(stopping, 'the stop resolving', 20)).toBeDefined();
    expect(clock.timers.size).toBe(0);
  });

  it('has the store refuse a result committed after the task\'s lease lapsed and another worker took the task over', async () => {
    const { clock, store, logger } = onFailingStore();
    const { runtime, id, finish } = await longActivityPastItsLease(store, clock, logger);
    const other = await store.inner.claimActivity({ owner: 'other', leaseMs: 3000, now: clock.now() });
    expect(other?.task.name).toBe('Long');
    const refused = logger.nextWarning('lost; result discarded');
    finish('done');
    await within(refused, 'the store refusing the result');
    expect((await store.inner.getHistory(id)).some((e) => e.type === 'TaskCompleted')).toBe(false);
    expect(runtime.metrics.activitiesRun).toBe(0);
  });

  it('ends, when it stops, the waits for store calls it does not wait for, with their timers', async () => {
    const { clock, store, logger } = onFailingStore();
    const runtime = createRuntime({ store, clock, logger, workerId: 'w1', orchestrators: { Echo: echo } });
    runtimes.push({ runtime, clock });
    const hung = store.hangNext('releaseOwner'); // the start of a reused id, which the stop does not wait for
    await runtime.start();
    await within(hung.called, 'the release being sent');
    expect(clock.timers.size).toBe(1); // its deadline
    await within(runtime.stop({ graceMs: 0 }), 'the stop resolving');
    expect(clock.timers.size).toBe(0);
    await within(hung.release(), 'the late release settling');
    expect(logger.errors).toEqual([]);
  });
});

describe('a start that waits (?timeout=) over a store read that fails', () => {
  it('answers the check-status response (202) for the instance it started, and logs the failed wait, instead of a 5xx that invites a second start', async () => {
    const { store, logger } = onFailingStore();
    const client = createClient({ store });
    // The store's first read after the start has committed (the wait's) fails once, with an error no read again can
    // change (a transient one, worth another read, is read again within the wait's timeout).
    const faultAfterStart = new Proxy(client, {
      get(target, key) {
        if (key === 'startNew') {
          return async (...args: Parameters<typeof client.startNew>) => {
            const id = await target.startNew(...args);
            store.failNext('getInstance', 1, 'reject', () => new Error('the store read failed'));
            return id;
          };
        }
        const value: unknown = Reflect.get(target, key);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const handler = createHttpHandler(faultAfterStart, { anonymous: true, logger });
    try {
      const response = await within(handler(new Request(`http://127.0.0.1${WEBHOOK_PATH}/orchestrators/Anything/started?timeout=60`, {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: '1',
      })), 'the start answering');
      expect(response.status).toBe(202);
      expect(await response.json()).toMatchObject({ id: 'started' });
      expect(response.headers.get('location')).toContain('/instances/started');
      expect((await client.getStatus('started'))?.runtimeStatus).toBe('Pending');
      expect(logger.warnings.join('\n')).toContain('the store read failed');
    } finally {
      handler.close();
      await store.close();
    }
  });
});

describe('waitForCompletionOrCreateCheckStatusResponse over a store read that fails', () => {
  it('answers the check-status response (202) for the instance the caller started, as the HTTP start with ?timeout= does, instead of rejecting', async () => {
    const { store } = onFailingStore();
    const client = createClient({ store });
    try {
      const id = await client.startNew('Anything', { instanceId: 'started' });
      // An error no read again can change (a transient one is read again within the wait's timeout).
      store.failNext('getInstance', 1, 'reject', () => new Error('the store read failed'));
      const response = await within(
        client.waitForCompletionOrCreateCheckStatusResponse(new Request('http://127.0.0.1/api/start'), id, { timeoutMs: 60_000 }),
        'the response',
      );
      expect(response.status).toBe(202);
      expect(await response.json()).toMatchObject({ id: 'started' });
      expect(response.headers.get('location')).toContain('/instances/started');
      // An unknown instance still rejects: there is nothing to check the status of.
      await expect(client.waitForCompletionOrCreateCheckStatusResponse(new Request('http://127.0.0.1/api/start'), 'unknown'))
        .rejects.toMatchObject({ code: 'instance-not-found' });
    } finally {
      await store.close();
    }
  });
});
