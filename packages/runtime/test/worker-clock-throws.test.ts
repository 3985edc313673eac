import { filter, firstValueFrom, merge, Observable, Subject } from 'rxjs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createClient, createRuntime, MemoryStore, UnavailableError, type DurableClient, type InstanceStatus, type Orchestrator } from '../src/index.js';
import { SETTLED } from '../src/testing/settled.js';
import { settle } from '../src/testing/virtual-clock.js';
import { FailingStore, RecordingLogger } from './failing-store.js';
import { heldActivity } from './held-activity.js';
import { HandClock, nextTurn, runtimesStoppedAfterEach, T0 } from './hand-clock.js';

/** A HandClock whose `now()` throws while `throwing` is set (a custom Clock gone wrong), counting the throws. */
class ThrowingClock extends HandClock {
  throwing = false;
  thrown = 0;

  override now(): Date {
    if (this.throwing) {
      this.thrown++;
      throw new Error('injected: the clock failed');
    }
    return super.now();
  }
}

const runtimes = runtimesStoppedAfterEach();

const echo: Orchestrator = function* (ctx) {
  return ctx.getInput();
};

describe('a worker whose clock throws for a while', () => {
  it('claims again on its back-off once the clock answers, after a claim round failed on it', async () => {
    const clock = new ThrowingClock();
    const store = new MemoryStore();
    const logger = new RecordingLogger();
    const runtime = createRuntime({ store, clock, logger, orchestrators: { Echo: echo } });
    runtimes.push({ runtime, clock });
    await runtime.start();
    clock.throwing = true;
    // Started by another process's client: the store's signal wakes the worker, whose claim round fails on its clock.
    const other = createClient({ store, clock: new HandClock() });
    const id = await other.startNew('Echo', { input: 'hello' });
    await vi.waitFor(() => expect(clock.thrown).toBeGreaterThan(0), { timeout: SETTLED.timeoutMs });
    clock.throwing = false;
    const completed = firstValueFrom(other.status$(id).pipe(filter((status) => status?.runtimeStatus === 'Completed')));
    expect(await clock.fireUntil(completed, 'the claim round\'s retry', 10)).toBeDefined();
    expect(await completed).toMatchObject({ output: 'hello' });
    expect(logger.errors.some((message) => message.includes('could not claim work; retrying'))).toBe(true);
  });
});

/**
 * A HandClock whose `setTimeout` throws while `throwing` is set, or for the next `throwsLeft` calls (a custom Clock gone
 * wrong), counting the throws.
 */
class TimerThrowingClock extends HandClock {
  throwing = false;
  throwsLeft = 0;
  thrown = 0;

  override setTimeout(callback: () => void, delayMs: number): ReturnType<HandClock['setTimeout']> {
    if (this.throwing || this.throwsLeft > 0) {
      this.throwsLeft = Math.max(0, this.throwsLeft - 1);
      this.thrown++;
      throw new Error('injected: the clock failed to set a timer');
    }
    return super.setTimeout(callback, delayMs);
  }
}

describe('a worker whose clock fails to set a timer while an activity runs', () => {
  it('logs that the activity lease renewals stopped, rejects nothing, and the activity still completes', async () => {
    const clock = new TimerThrowingClock();
    const store = new MemoryStore();
    const logger = new RecordingLogger();
    let finish!: (value: string) => void;
    let started!: () => void;
    const running = new Promise<void>((resolve) => (started = resolve));
    const callsSlow: Orchestrator = function* (ctx) {
      return yield ctx.callActivity('Slow');
    };
    // A lease of 3,003 ms renews every 1,001 ms: the only timer of that delay is the first renewal's.
    const runtime = createRuntime({
      store, clock, logger, activityLeaseMs: 3_003, orchestrators: { CallsSlow: callsSlow },
      activities: {
        Slow: () => {
          started();
          return new Promise<string>((resolve) => (finish = resolve));
        },
      },
    });
    runtimes.push({ runtime, clock });
    const rejections: unknown[] = [];
    const onRejection = (reason: unknown): void => void rejections.push(reason);
    process.on('unhandledRejection', onRejection);
    try {
      const renewal = clock.nextTimer((delayMs) => delayMs === 1_001);
      await runtime.start();
      const id = await runtime.client.startNew('CallsSlow');
      await within(running, 'the activity to start');
      const { id: timer, at } = await within(renewal, 'the first renewal timer');
      clock.ms = at;
      clock.throwing = true;
      clock.fire(timer);
      await vi.waitFor(() => expect(logger.errors.some((m) => m.includes('stopped: the clock failed to arm the next one'))).toBe(true), { timeout: SETTLED.timeoutMs });
      clock.throwing = false;
      finish('done');
      const completed = firstValueFrom(runtime.client.status$(id).pipe(filter((status) => status?.runtimeStatus === 'Completed')));
      expect(await clock.fireUntil(completed, 'the activity result\'s commit', 10)).toBeDefined();
      expect(await completed).toMatchObject({ output: 'done' });
      expect(clock.thrown).toBeGreaterThan(0);
      expect(rejections).toEqual([]);
    } finally {
      process.off('unhandledRejection', onRejection);
    }
  });
});

/** A FailingStore whose wake-up feed also emits when the test pokes it (a signal at a moment of the test's choosing). */
class PokedStore extends FailingStore {
  readonly poke = new Subject<void>();
  override readonly workAvailable$ = merge(this.inner.workAvailable$, this.poke);
}

/**
 * Fires the first retry (`firstRetry`, after 100 ms), waits for the second failure of the `what`, then gives a store
 * signal while the clock cannot set a timer (a signal that would bring the 200 ms retry forward), and checks it threw.
 */
async function pokeWhileUnarmable(
  clock: TimerThrowingClock, store: PokedStore, firstRetry: Promise<{ readonly id: number; readonly at: number }>,
  secondFailure: Promise<unknown>, what: string,
): Promise<void> {
  const retry = await within(firstRetry, `the first ${what} failing`);
  clock.ms = retry.at;
  clock.fire(retry.id);
  await within(secondFailure, `the second ${what} failing`);
  clock.throwing = true;
  try {
    store.poke.next();
  } finally {
    clock.throwing = false;
  }
  expect(clock.thrown).toBeGreaterThan(0);
}

/** Runs `clock`'s timers until `id` completes, and checks its output. */
async function completesOnTime(clock: TimerThrowingClock, client: DurableClient, id: string, output: string, what: string): Promise<void> {
  const completed = firstValueFrom(client.status$(id).pipe(filter((status) => status?.runtimeStatus === 'Completed')));
  expect(await clock.fireUntil(completed, what, 10)).toBeDefined();
  expect(await completed).toMatchObject({ output });
}

describe('a worker whose clock fails to set a timer as a store signal brings a result commit\'s retry forward', () => {
  it('keeps the retry at its time, throws nothing into the feed, and the result lands', async () => {
    const clock = new TimerThrowingClock();
    const store = new PokedStore();
    const logger = new RecordingLogger();
    const { activity: Slow, running, finish } = heldActivity();
    const callsSlow: Orchestrator = function* (ctx) {
      return yield ctx.callActivity('Slow');
    };
    const runtime = createRuntime({ store, clock, logger, orchestrators: { CallsSlow: callsSlow }, activities: { Slow } });
    runtimes.push({ runtime, clock });
    await runtime.start();
    const id = await runtime.client.startNew('CallsSlow');
    await within(running, 'the activity to start');
    await settle(); // the claim round after the step has answered
    // The result's first two commits fail in an outage (no other store call answers meanwhile): retried after 100 ms,
    // then after 200 ms, each retry brought forward by a store signal.
    store.failNext('commit', 2, 'reject', () => new UnavailableError('injected: the store is down'));
    const firstRetry = clock.nextTimer((delayMs) => delayMs === 100);
    const secondFailure = logger.nextError('retrying in 200 ms');
    finish('done');
    await pokeWhileUnarmable(clock, store, firstRetry, secondFailure, 'result commit');
    expect(logger.errors.some((message) => message.includes('stays at its time: the clock failed to arm a sooner one'))).toBe(true);
    await completesOnTime(clock, runtime.client, id, 'done', 'the result commit\'s retry');
  });
});

describe('a worker whose clock fails to set a timer as a store signal brings its claims\' retry forward', () => {
  it('keeps the retry at its time, throws nothing into the feed, and claims then', async () => {
    const clock = new TimerThrowingClock();
    const store = new PokedStore();
    const logger = new RecordingLogger();
    const runtime = createRuntime({ store, clock, logger, orchestrators: { Echo: echo } });
    runtimes.push({ runtime, clock });
    await runtime.start();
    await settle();
    // Two claim rounds fail: retried after 100 ms, then after 200 ms, a retry a store signal brings forward.
    store.failNext('claimOrchestration', 2);
    const firstRetry = clock.nextTimer((delayMs) => delayMs === 100);
    const secondFailure = logger.nextError('retrying in 200 ms');
    const other = createClient({ store, clock: new HandClock() });
    const id = await other.startNew('Echo', { input: 'hello' });
    await pokeWhileUnarmable(clock, store, firstRetry, secondFailure, 'claim round');
    expect(logger.errors.some((message) => message.includes('failed to arm its wake timer'))).toBe(true);
    await completesOnTime(clock, other, id, 'hello', 'the claims\' retry');
  });
});

/** A MemoryStore whose wake-up feed fails once (`fail()`); subscribed again, it works. Counts the subscriptions. */
class BreakingFeedStore extends MemoryStore {
  subscriptions = 0;
  /** MemoryStore's own feed (the field below replaces it). */
  readonly #work: Observable<void> = (this as MemoryStore).workAvailable$;
  readonly #broken = new Subject<void>();
  override readonly workAvailable$ = new Observable<void>((subscriber) => {
    this.subscriptions++;
    const inner = this.#work.subscribe(subscriber);
    const broken = this.#broken.subscribe({ error: (error: unknown) => subscriber.error(error) });
    return () => {
      inner.unsubscribe();
      broken.unsubscribe();
    };
  });

  fail(): void {
    this.#broken.error(new Error('injected: the wake-up feed broke'));
  }
}

describe('a worker whose clock fails to set a timer as its wake-up feed fails', () => {
  it('logs it, throws nothing into the feed, claims what is written meanwhile and subscribes again at its next wake-up', async () => {
    const clock = new TimerThrowingClock();
    const store = new BreakingFeedStore();
    const logger = new RecordingLogger();
    const runtime = createRuntime({ store, clock, logger, orchestrators: { Echo: echo } });
    runtimes.push({ runtime, clock });
    await runtime.start();
    await settle();
    expect(store.subscriptions).toBe(1);
    // The clock fails to set the re-subscription's timer (only that one: the wake timer that subscribes again is set on
    // the clock).
    clock.throwsLeft = 1;
    store.fail();
    expect(clock.thrown).toBe(1);
    expect(logger.errors.some((message) => message.includes('failed to arm the re-subscription'))).toBe(true);
    // Started by another process's client while the feed is down: its signal reaches no one.
    const other = createClient({ store, clock: new HandClock() });
    const id = await other.startNew('Echo', { input: 'hello' });
    const completed = firstValueFrom(other.status$(id).pipe(filter((status) => status?.runtimeStatus === 'Completed')));
    expect(await clock.fireUntil(completed, 'the claim while the feed is down', 10)).toBeDefined();
    expect(await completed).toMatchObject({ output: 'hello' });
    expect(store.subscriptions).toBe(2);
  });
});

describe('a worker whose clock fails to set every timer while an instance waits for a durable timer', () => {
  it('wakes on the platform\'s timer at the timer\'s time, with no store signal, and the instance completes', async () => {
    const clock = new TimerThrowingClock();
    const store = new MemoryStore();
    const logger = new RecordingLogger();
    const twoTimers: Orchestrator = function* (ctx) {
      yield ctx.createTimer(new Date(ctx.currentUtcDateTime.getTime() + 50));
      yield ctx.createTimer(new Date(ctx.currentUtcDateTime.getTime() + 50));
      return 'woke';
    };
    const runtime = createRuntime({ store, clock, logger, orchestrators: { TwoTimers: twoTimers } });
    runtimes.push({ runtime, clock });
    await runtime.start();
    const id = await runtime.client.startNew('TwoTimers');
    const first = await within(clock.timerDueBy(clock.ms + 50), 'the wake timer of the first durable timer');
    // From here on the clock sets no timer: the step after the first timer cannot arm the wake-up for the second.
    clock.throwing = true;
    const unarmed = logger.nextError('failed to arm its wake timer');
    clock.ms += 50;
    clock.fire(first);
    await within(unarmed, 'the wake timer failing to arm');
    clock.ms += 50; // the second timer is due; no store call signals anything
    // Before, nothing woke the worker but a store signal: the instance waited for ever.
    const other = createClient({ store, clock: new HandClock() }); // watched from a clock that works
    const completed = firstValueFrom(other.status$(id).pipe(filter((status) => status?.runtimeStatus === 'Completed')));
    expect(await within(completed, 'the instance completing')).toMatchObject({ output: 'woke' });
    clock.throwing = false;
    expect(clock.thrown).toBeGreaterThan(0);
  });
});

function within<T>(promise: Promise<T>, what: string): Promise<T> {
  return Promise.race([promise, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no ${what} within ${SETTLED.timeoutMs} ms`)), SETTLED.timeoutMs).unref())]);
}

/** Makes the platform's `setTimeout` throw while `fails` is positive, counting down: a wake timer's fallback failing. */
function failPlatformTimers(): { fails: number; readonly restore: () => void } {
  const platformSetTimeout = globalThis.setTimeout;
  const spy = vi.spyOn(globalThis, 'setTimeout').mockImplementation(((...args: Parameters<typeof setTimeout>) => {
    if (platform.fails > 0) {
      platform.fails--;
      throw new Error('injected: the platform failed to set a timer');
    }
    return platformSetTimeout(...args);
  }) as typeof setTimeout);
  const platform = { fails: 0, restore: () => spy.mockRestore() };
  return platform;
}

const twoTimers: Orchestrator = function* (ctx) {
  yield ctx.createTimer(new Date(ctx.currentUtcDateTime.getTime() + 50));
  yield ctx.createTimer(new Date(ctx.currentUtcDateTime.getTime() + 50));
  return 'woke';
};

/**
 * Starts TwoTimers on `clock` (and `store`, a MemoryStore by default): the wake timer of its first durable timer, and its
 * completion seen by a client of its own.
 */
async function startTwoTimers(
  clock: HandClock, logger: RecordingLogger, store: MemoryStore | FailingStore = new MemoryStore(),
): Promise<{ first: number; completed: Promise<InstanceStatus | undefined>; other: DurableClient }> {
  const runtime = createRuntime({ store, clock, logger, orchestrators: { TwoTimers: twoTimers, Quick: echo } });
  runtimes.push({ runtime, clock });
  await runtime.start();
  const id = await runtime.client.startNew('TwoTimers');
  const first = await within(clock.timerDueBy(clock.ms + 50), 'the wake timer of the first durable timer');
  const other = createClient({ store, clock: new HandClock() });
  const completed = firstValueFrom(other.status$(id).pipe(filter((status) => status?.runtimeStatus === 'Completed')));
  return { first, completed, other };
}

/** A HandClock whose `clearTimeout` throws while `clearThrowing` is set (a custom Clock gone wrong): the timer stays. */
class ClearThrowingClock extends HandClock {
  clearThrowing = false;

  override clearTimeout(timer: ReturnType<HandClock['setTimeout']>): void {
    if (this.clearThrowing) throw new Error('injected: the clock failed to clear a timer');
    super.clearTimeout(timer);
  }
}

describe('a worker whose clock fails to clear its timers as it stops', () => {
  it('stops all the same, subscribed to nothing, and the timers the clock kept do nothing when they fire', async () => {
    const clock = new ClearThrowingClock();
    const store = new FailingStore();
    const logger = new RecordingLogger();
    const runtime = createRuntime({ store, clock, logger, orchestrators: { Echo: echo }, retention: { completed: 60_000 } });
    runtimes.push({ runtime, clock });
    await runtime.start();
    const id = await runtime.client.startNew('Echo', { input: 'hello' });
    const completed = firstValueFrom(runtime.client.status$(id).pipe(filter((status) => status?.runtimeStatus === 'Completed')));
    expect(await within(completed, 'the instance completing')).toMatchObject({ output: 'hello' });
    expect(clock.timers.size).toBeGreaterThan(0); // the wake timer, the store calls' timer, the retention sweep's
    clock.clearThrowing = true;
    // Before, the first timer the stop cleared threw out of it: it rejected at once, still subscribed to the store.
    await within(runtime.stop({ graceMs: 0 }), 'the stop');
    expect(store.workSubscribers).toBe(0);
    expect(logger.errors.some((message) => message.includes('failed to clear'))).toBe(true);
    const errors = logger.errors.length;
    for (const id of [...clock.timers.keys()]) clock.fire(id);
    await settle();
    expect(store.workSubscribers).toBe(0);
    expect(logger.errors.slice(errors)).toEqual([]);
  });
});

/**
 * A HandClock that fails every arming of `failDelayMs` (a durable timer's wait) while `fails` is positive, counting down,
 * and makes the platform's `setTimeout` fail once right after each (`platform`, of {@link failPlatformTimers}): the wake
 * timer's fallback fails too.
 */
class FailsWaits extends HandClock {
  failDelayMs = 0;
  fails = 0;

  constructor(readonly platform: { fails: number }) {
    super();
  }

  override setTimeout(callback: () => void, delayMs: number): ReturnType<HandClock['setTimeout']> {
    if (this.fails > 0 && delayMs === this.failDelayMs) {
      this.fails--;
      this.platform.fails = 1;
      throw new Error('injected: the clock failed to set a timer');
    }
    return super.setTimeout(callback, delayMs);
  }
}

/**
 * Fires the wake-up of TwoTimers' first durable timer (`first`, of {@link startTwoTimers}) while the wake-up of its second
 * fails to arm `fails` times in a row; resolves with the first error then logged that contains `reported`.
 */
async function secondWaitFails(clock: FailsWaits, logger: RecordingLogger, first: number, fails: number, reported: string): Promise<string> {
  clock.failDelayMs = 50;
  clock.fails = fails;
  const logged = logger.nextError(reported);
  clock.ms += 50;
  clock.fire(first);
  return within(logged, `the error "${reported}"`);
}

/** The global object's wake events, dispatched on the EventTarget returned (until `vi.unstubAllGlobals()`). */
function stubWakeEvents(): EventTarget {
  const host = new EventTarget();
  vi.stubGlobal('addEventListener', host.addEventListener.bind(host));
  vi.stubGlobal('removeEventListener', host.removeEventListener.bind(host));
  return host;
}

describe('a worker whose clock and platform both fail, for a moment, to set the wake timer of a durable timer', () => {
  it('says none is armed, arms it again at its next turn with no store signal, and the instance completes at its time', async () => {
    // The platform's setTimeout fails once, right after the clock failed: the wake timer's fallback.
    const platform = failPlatformTimers();
    try {
      const clock = new FailsWaits(platform);
      const logger = new RecordingLogger();
      const { first, completed } = await startTwoTimers(clock, logger);
      // Before, the message said the timer was set on the platform's timer, which had failed as well.
      expect(await secondWaitFails(clock, logger, first, 1, 'failed to arm its wake timer')).toContain('and so did the platform\'s timer: none is armed');
      expect(platform.fails).toBe(0);
      expect(logger.errors.some((message) => message.includes('set on the platform\'s timer'))).toBe(false);
      // Before, nothing armed it again but a store signal, and none comes: the instance waited for good.
      const second = await within(clock.timerDueBy(clock.ms + 50), 'the wake timer of the second durable timer');
      clock.ms += 50;
      clock.fire(second);
      expect(await within(completed, 'the instance completing')).toMatchObject({ output: 'woke' });
    } finally {
      platform.restore();
    }
  });
});

describe('a worker whose wake timer neither its clock nor the platform could arm, turn after turn', () => {
  afterEach(() => {
    vi.unstubAllGlobals();
    vi.restoreAllMocks();
  });

  it('reports it once as it begins and once as its tries end, arms it again when the page is shown again or the network comes back, and the instance completes at its time', async () => {
    const host = stubWakeEvents();
    // The platform's setTimeout fails right after each failure of the clock: the wake timer's fallback.
    const platform = failPlatformTimers();
    const clock = new FailsWaits(platform);
    const logger = new RecordingLogger();
    const { first, completed } = await startTwoTimers(clock, logger);
    // The wake timer of the second durable timer fails to arm at the step and at each of the turns after it.
    await secondWaitFails(clock, logger, first, Infinity, 'it waits for a store signal or a wake event');
    // Reported as the failure began and as its tries ended. Before, each of its 4 armings was reported.
    expect(logger.errors.filter((message) => message.includes('failed to arm its wake timer'))).toEqual([
      expect.stringContaining('it tries again at its next turn'), expect.stringContaining('it waits for a store signal or a wake event'),
    ]);
    clock.fails = 0;
    // No store signal comes. Before, the event found no wake timer armed and did nothing: the instance waited for good.
    host.dispatchEvent(new Event('online'));
    const second = await within(clock.timerDueBy(clock.ms + 50), 'the wake timer of the second durable timer');
    clock.ms += 50;
    clock.fire(second);
    expect(await within(completed, 'the instance completing')).toMatchObject({ output: 'woke' });
  });
});

describe('a worker whose clock fails to clear the re-subscription it brings forward', () => {
  it('subscribes once when it fires, not again when the one the clock kept fires', async () => {
    /** The feed breaks on `fail()` (for good: each re-subscription fails at once); the next `failClaims` claims fail. */
    class FlakyStore extends BreakingFeedStore {
      failClaims = 0;
      override claimOrchestration(...args: Parameters<MemoryStore['claimOrchestration']>): ReturnType<MemoryStore['claimOrchestration']> {
        if (this.failClaims > 0) {
          this.failClaims--;
          return Promise.reject(new UnavailableError('injected: the store is down'));
        }
        return super.claimOrchestration(...args);
      }
    }
    /** A HandClock that fails to clear the timer `keeps`. */
    class KeepsOne extends HandClock {
      keeps: number | undefined;
      override clearTimeout(timer: ReturnType<HandClock['setTimeout']>): void {
        if (timer === this.keeps) throw new Error('injected: the clock failed to clear a timer');
        super.clearTimeout(timer);
      }
    }
    const clock = new KeepsOne();
    const store = new FlakyStore();
    const logger = new RecordingLogger();
    const runtime = createRuntime({ store, clock, logger, orchestrators: { Echo: echo } });
    runtimes.push({ runtime, clock });
    await runtime.start();
    await settle();
    // Each re-subscription fails at once: the next backs off, to 1600 ms.
    let resubscription = clock.nextTimer((delay) => delay === 100);
    store.fail();
    for (const next of [200, 400, 800, 1600]) {
      const { id, at } = await within(resubscription, `the re-subscription before the one in ${next} ms`);
      resubscription = clock.nextTimer((delay) => delay === next);
      clock.ms = at;
      clock.fire(id);
    }
    const far = await within(resubscription, 'the re-subscription in 1600 ms');
    const subscriptions = store.subscriptions;
    // A claim fails, and its retry succeeds: the store is back, so the re-subscription is brought forward; the clock
    // fails to clear the one it replaces.
    store.failClaims = 1;
    clock.keeps = far.id;
    expect(await clock.fireUntil(logger.nextError('failed to clear a timer'), 'the re-subscription brought forward', 10)).toBeDefined();
    const subscribed = new Promise<void>((resolve) => {
      const check = (): void => void (store.subscriptions > subscriptions ? resolve() : setImmediate(check));
      check();
    });
    expect(await clock.fireUntil(subscribed, 'the re-subscription brought forward', 10)).toBeLessThan(far.at);
    expect(store.subscriptions).toBe(subscriptions + 1);
    // Before, the one the clock kept subscribed again as it fired: the subscription before it had no owner left.
    expect(clock.timers.has(far.id)).toBe(true);
    clock.ms = far.at;
    clock.fire(far.id);
    await settle();
    expect(store.subscriptions).toBe(subscriptions + 1);
  });
});

/** A PokedStore that shows `wakeTimeRead` each wake time it answers, before the worker has it. */
class WatchedWakeStore extends PokedStore {
  wakeTimeRead: ((at: Date | undefined) => void) | undefined;

  override async nextWakeTime(...args: Parameters<FailingStore['nextWakeTime']>): Promise<Date | undefined> {
    const at = await super.nextWakeTime(...args);
    this.wakeTimeRead?.(at);
    return at;
  }
}

describe('a worker whose wake timer is tried again at its next turn (its clock and the platform failed to arm it)', () => {
  it('wakes for a durable timer due soon at its time, though a step gives up its lease (30 s) before the try', async () => {
    const platform = failPlatformTimers();
    try {
      const clock = new FailsWaits(platform);
      const store = new FailingStore();
      const logger = new RecordingLogger();
      const { first, completed, other } = await startTwoTimers(clock, logger, store);
      // Another instance's step holds its lease (until T0 + 30 s) while its commit hangs.
      const commit = store.hangNext('commit', 0, { where: (writeSet) => writeSet.lease?.kind === 'orchestration' && writeSet.lease.instanceId === 'quick' });
      await other.startNew('Quick', { instanceId: 'quick', input: 'done' });
      await within(commit.called, "the other instance's step committing");
      // The wake-up of the second durable timer (due at T0 + 100) fails to arm: it is tried at the next turn.
      await secondWaitFails(clock, logger, first, 1, 'it tries again at its next turn');
      // Before the try, the other step's commit fails: its lease is left to lapse, the worker to wake at its expiry.
      const left = logger.nextError('retried when its lease expires');
      void commit.fail(new Error('injected: the commit failed'));
      await within(left, 'the step failing');
      await nextTurn();
      // Before, the worker armed the lease's expiry over the try it took for none: the timer waited until T0 + 30 s.
      expect(await clock.fireUntil(completed, 'the second durable timer', 10)).toBe(T0 + 100);
    } finally {
      platform.restore();
    }
  });

  it('wakes for a durable timer due as it is armed, though a claim fails before the try and the worker backs off (100 ms)', async () => {
    const platform = failPlatformTimers();
    try {
      const clock = new FailsWaits(platform);
      const store = new WatchedWakeStore();
      const logger = new RecordingLogger();
      const { first, completed } = await startTwoTimers(clock, logger, store);
      // The wake time of the second durable timer (T0 + 100) is read as it comes due (a slow read): its wake-up, at
      // once, fails to arm, and is tried at the next turn.
      store.wakeTimeRead = (at) => {
        if (at?.getTime() !== T0 + 100) return;
        store.wakeTimeRead = undefined;
        clock.ms = T0 + 100;
        clock.failDelayMs = 0;
        clock.fails = 1;
      };
      const unarmed = logger.nextError('it tries again at its next turn');
      clock.ms += 50;
      clock.fire(first);
      await within(unarmed, 'the wake timer failing to arm');
      // Before the try, a store signal's claim fails: the worker backs off, 100 ms after a first failure. (A back-off
      // is cut to the due work's time, `#dueAtMs`: only a wake-up due at once, which nothing cuts it to, was put off.)
      store.failNext('claimOrchestration', 1);
      const backedOff = logger.nextError('could not claim work');
      store.poke.next();
      // Before, it armed its retry over the try it took for none: the due timer waited for the back-off, until T0 + 200.
      expect(await within(backedOff, 'the claim failing')).toContain('retrying in 0 ms');
      await nextTurn();
      expect(await clock.fireUntil(completed, 'the second durable timer', 10)).toBe(T0 + 100);
    } finally {
      platform.restore();
    }
  });

  it("wakes for nothing at the lease's expiry once the first step of a start handed to it has committed", async () => {
    const platform = failPlatformTimers();
    try {
      const clock = new FailsWaits(platform);
      const store = new PokedStore();
      const logger = new RecordingLogger();
      const waits: Orchestrator = function* (ctx) {
        return yield ctx.waitForExternalEvent('go');
      };
      const runtime = createRuntime({ store, clock, logger, orchestrationLeaseMs: 20_000, orchestrators: { Waits: waits } });
      runtimes.push({ runtime, clock });
      await runtime.start();
      await settle();
      // The step's commit waits; meanwhile a store signal's claim round arms the wake-up at the lease's expiry
      // (T0 + 20 s), which fails to arm: it is tried at the next turn.
      const commit = store.hangNext('commit', 0, { where: (writeSet) => writeSet.lease?.kind === 'orchestration' });
      const id = await runtime.client.startNew('Waits');
      await within(commit.called, 'the first step committing');
      clock.failDelayMs = 20_000;
      clock.fails = 1;
      const unarmed = logger.nextError('it tries again at its next turn');
      store.poke.next();
      await within(unarmed, 'the wake timer failing to arm');
      // Before the try, the step commits.
      await within(commit.release(), "the first step's commit answering");
      await settle();
      // Nothing is due: the instance waits for its event. Before, the try armed the lease's expiry after the step, and
      // the worker woke then to claim nothing.
      let claimed = false;
      void store.calledNext('claimOrchestration').then(() => (claimed = true));
      clock.ms = T0 + 20_000;
      clock.fireDue();
      await settle();
      expect(claimed).toBe(false);
      await runtime.client.raiseEvent(id, 'go', 'went');
      const completed = firstValueFrom(runtime.client.status$(id).pipe(filter((status) => status?.runtimeStatus === 'Completed')));
      expect(await within(completed, 'the instance completing')).toMatchObject({ output: 'went' });
    } finally {
      platform.restore();
    }
  });
});

describe('a worker that stops while its wake timer is tried again at its next turn', () => {
  it('stops, and the try arms nothing after: no timer is left on its clock, nothing is claimed', async () => {
    const platform = failPlatformTimers();
    try {
      const clock = new FailsWaits(platform);
      const store = new FailingStore();
      const logger = new RecordingLogger();
      const { first } = await startTwoTimers(clock, logger, store);
      const { runtime } = runtimes.at(-1)!;
      // The wake-up of the second durable timer (due at T0 + 100) fails to arm: it is tried at the next turn.
      await secondWaitFails(clock, logger, first, 1, 'it tries again at its next turn');
      await within(runtime.stop({ graceMs: 0 }), 'the worker stopping');
      let claimed = false;
      void store.calledNext('claimOrchestration').then(() => (claimed = true));
      for (let turn = 0; turn < 4; turn++) await nextTurn();
      expect(clock.timers.size).toBe(0);
      clock.ms = T0 + 100;
      clock.fireDue();
      await settle();
      expect(claimed).toBe(false);
    } finally {
      platform.restore();
    }
  });
});

describe('a worker whose wake timer is tried again at its next turn as the machine wakes', () => {
  afterEach(() => {
    vi.unstubAllGlobals();
    vi.restoreAllMocks();
  });

  it('wakes at once when the network comes back past the wake-up its try was to arm (the machine slept)', async () => {
    const host = stubWakeEvents();
    const platform = failPlatformTimers();
    const clock = new FailsWaits(platform);
    const logger = new RecordingLogger();
    const { first, completed } = await startTwoTimers(clock, logger);
    // The wake-up of the second durable timer (due at T0 + 100) fails to arm: it is tried at the next turn.
    await secondWaitFails(clock, logger, first, 1, 'it tries again at its next turn');
    // Before the try, the machine sleeps past the timer's time, and wakes as the network comes back.
    clock.sleep(100);
    host.dispatchEvent(new Event('online'));
    // Before, the event left it to the try, which armed the timer's 50 ms from the wake: it completed at T0 + 200.
    expect(await clock.fireUntil(completed, 'the second durable timer', 10)).toBe(T0 + 150);
  });

  it('claims nothing at a later wake event once the wake-up it cleared the try for has run, with nothing left to wait for', async () => {
    const host = stubWakeEvents();
    const platform = failPlatformTimers();
    const clock = new FailsWaits(platform);
    const store = new FailingStore();
    const logger = new RecordingLogger();
    const { first, completed } = await startTwoTimers(clock, logger, store);
    await secondWaitFails(clock, logger, first, 1, 'it tries again at its next turn');
    // The machine sleeps past the timer's time: the wake event clears the try and wakes the worker, which completes it.
    clock.sleep(100);
    host.dispatchEvent(new Event('online'));
    expect(await clock.fireUntil(completed, 'the second durable timer', 10)).toBe(T0 + 150);
    await settle();
    // Nothing is left to wait for, and no wake timer is armed: the page shown again is no reason to claim. Before, the
    // cleared try still counted as a wake timer none could arm, and every wake event after it ran a claim round.
    let claimed = false;
    void store.calledNext('claimOrchestration').then(() => (claimed = true));
    host.dispatchEvent(new Event('visibilitychange'));
    await settle();
    expect(claimed).toBe(false);
  });
});
