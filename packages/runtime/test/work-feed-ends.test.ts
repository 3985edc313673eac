import { Observable, Subject } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { createClient, createRuntime, MemoryStore, type OrchestrationContext } from '../src/index.js';
import type { ClaimOptions } from '../src/store/store.js';
import { RecordingLogger } from './failing-store.js';
import { settle, VirtualClock } from '../src/testing/virtual-clock.js';
import { HandClock } from './hand-clock.js';
import { within } from './within.js';

/**
 * A MemoryStore whose wake-up feed fails (`fail()`) and, subscribed again, works: as a store whose change stream broke
 * and that opens a new one for a new subscriber. `subscribers` counts the open subscriptions; `nextSubscription()`
 * resolves at the next one.
 */
class BreakingFeedStore extends MemoryStore {
  subscribers = 0;
  #onSubscribe: (() => void)[] = [];
  /** MemoryStore's own feed (the field below replaces it). */
  readonly #work: Observable<void> = (this as MemoryStore).workAvailable$;
  readonly #broken = new Subject<void>();
  #failed = false;
  override readonly workAvailable$ = new Observable<void>((subscriber) => {
    this.subscribers++;
    const inner = this.#work.subscribe(subscriber);
    const broken = this.#failed ? undefined : this.#broken.subscribe({ error: (error: unknown) => subscriber.error(error) });
    for (const notify of this.#onSubscribe.splice(0)) notify();
    return () => {
      this.subscribers--;
      inner.unsubscribe();
      broken?.unsubscribe();
    };
  });

  nextSubscription(): Promise<void> {
    return new Promise((resolve) => this.#onSubscribe.push(resolve));
  }

  fail(): void {
    this.#failed = true;
    this.#broken.error(new Error('the wake-up feed broke'));
  }
}

describe('a store whose wake-up feed fails', () => {
  it('subscribes to it again after a back-off and runs the work written meanwhile, then lets go of it on stop', async () => {
    const store = new BreakingFeedStore();
    const clock = new HandClock();
    const logger = new RecordingLogger();
    const runtime = createRuntime({
      store, clock, logger,
      orchestrators: { Waits: function* (ctx) { return yield ctx.waitForExternalEvent('go'); } },
    });
    await runtime.start();
    const id = await runtime.client.startNew('Waits');
    const running = new Promise<void>((resolve) => {
      const subscription = runtime.client.status$(id).subscribe((status) => {
        if (status?.runtimeStatus === 'Running') {
          resolve();
          queueMicrotask(() => subscription.unsubscribe());
        }
      });
    });
    await within(running, 'the instance running');
    // A claim round the worker has still to run after that step goes first: on a loaded machine it waits for an
    // event-loop turn, and, run once the event below is written, it would claim the event itself, with no re-subscription.
    await settle();
    const failed = logger.nextError('workAvailable$');
    store.fail();
    await within(failed, 'the failure being reported');
    expect(store.subscribers).toBe(0);
    // An event raised while the feed is down: its signal reaches no one. The worker's timers run it (the feed's
    // re-subscription, 100 ms on, comes before its 1 s claim), in whatever order the work they start ends.
    await runtime.client.raiseEvent(id, 'go', 'went');
    const ended = runtime.client.waitForCompletion(id, { timeoutMs: Infinity });
    const resubscribed = store.nextSubscription();
    expect(await clock.fireUntil(Promise.all([ended, resubscribed]), 'the instance ending and the feed subscribed again', 20)).toBeDefined();
    expect(await ended).toMatchObject({ runtimeStatus: 'Completed', output: 'went' });
    expect(store.subscribers).toBe(1);
    const stopping = runtime.stop({ graceMs: 0 });
    clock.fireDue();
    await within(stopping, 'the stop');
    expect(store.subscribers).toBe(0);
    expect(clock.timers.size).toBe(0);
  });

  it('lets go of a re-subscription it has not made yet when it stops', async () => {
    const store = new BreakingFeedStore();
    const clock = new HandClock();
    const logger = new RecordingLogger();
    const runtime = createRuntime({ store, clock, logger, orchestrators: { None: function* () { return 0; } } });
    await runtime.start();
    const failed = logger.nextError('workAvailable$');
    store.fail();
    await within(failed, 'the failure being reported');
    await within(runtime.stop({ graceMs: 0 }), 'the stop');
    expect(store.subscribers).toBe(0);
    expect(clock.timers.size).toBe(0);
  });
});

/**
 * A MemoryStore whose wake-up feed, while `flapping`, signals once and fails at once on every subscription (as a change
 * stream that reports its start and then breaks); otherwise it stays up until `fail()`.
 */
class FlappingFeedStore extends MemoryStore {
  flapping = true;
  #broken = new Subject<void>();
  override readonly workAvailable$ = new Observable<void>((subscriber) => {
    subscriber.next();
    if (this.flapping) {
      subscriber.error(new Error('the wake-up feed broke at once'));
      return undefined;
    }
    return this.#broken.subscribe({ error: (error: unknown) => subscriber.error(error) });
  });

  fail(): void {
    const broken = this.#broken;
    this.#broken = new Subject<void>();
    broken.error(new Error('the wake-up feed broke'));
  }
}

/** The back-off delays the worker logged for its wake-up feed, in order. */
function feedDelays(logger: RecordingLogger): number[] {
  return logger.errors.flatMap((message) => /workAvailable\$ failed; subscribing again in (\d+) ms/.exec(message)?.slice(1).map(Number) ?? []);
}

describe('a wake-up feed that signals and fails at once', () => {
  it('is subscribed to again after a back-off that doubles to 30 s: its signal does not start the back-off over', async () => {
    const store = new FlappingFeedStore();
    const clock = new VirtualClock();
    const logger = new RecordingLogger();
    const runtime = createRuntime({ store, clock, logger, orchestrators: { None: function* () { return 0; } } });
    await runtime.start();
    await clock.advance(120_000);
    // 100 ms doubling: 51.1 s to reach 30 s, then 30 s each (on the code before, 100 ms each: 1,200 in 120 s).
    expect(feedDelays(logger)).toEqual([100, 200, 400, 800, 1600, 3200, 6400, 12_800, 25_600, 30_000, 30_000, 30_000]);
    await within(runtime.stop({ graceMs: 0 }), 'the stop');
  });

  it('starts the back-off over once the feed stayed up for 10 s', async () => {
    const store = new FlappingFeedStore();
    const clock = new VirtualClock();
    const logger = new RecordingLogger();
    const runtime = createRuntime({ store, clock, logger, orchestrators: { None: function* () { return 0; } } });
    await runtime.start();
    await clock.advance(300); // failed at 0 and 100 ms, subscribed again at 300 ms
    expect(feedDelays(logger)).toEqual([100, 200, 400]);
    store.flapping = false;
    await clock.advance(400); // subscribed again, and up
    await clock.advance(9_999);
    store.fail(); // up for 9,999 ms: not yet proven, the back-off goes on
    await clock.advance(800);
    await clock.advance(10_000);
    store.fail(); // up for 10 s
    expect(feedDelays(logger)).toEqual([100, 200, 400, 800, 100]);
    await within(runtime.stop({ graceMs: 0 }), 'the stop');
  });
});

/**
 * A MemoryStore that can be down (`down`): its wake-up feed then fails on every subscription and its claims reject, as
 * a database that does not answer. `claimsToFail` makes only the next claims fail. `subscriptions` counts the attempts
 * to subscribe to the feed, `open` the subscriptions open.
 */
class OutageStore extends MemoryStore {
  feedDown = false;
  claimsDown = false;
  claimsToFail = 0;
  subscriptions = 0;
  open = 0;
  /** MemoryStore's own feed (the field below replaces it). */
  readonly #work: Observable<void> = (this as MemoryStore).workAvailable$;
  override readonly workAvailable$ = new Observable<void>((subscriber) => {
    this.subscriptions++;
    if (this.feedDown) {
      subscriber.error(new Error('the wake-up feed is down'));
      return undefined;
    }
    this.open++;
    const inner = this.#work.subscribe(subscriber);
    return () => {
      this.open--;
      inner.unsubscribe();
    };
  });

  override claimOrchestration(options: ClaimOptions) {
    return this.#claimFails() ? Promise.reject(new Error('the store is down')) : super.claimOrchestration(options);
  }

  override claimActivity(options: ClaimOptions) {
    return this.#claimFails() ? Promise.reject(new Error('the store is down')) : super.claimActivity(options);
  }

  #claimFails(): boolean {
    if (this.claimsDown) return true;
    if (this.claimsToFail <= 0) return false;
    this.claimsToFail--;
    return true;
  }
}

const outageOrchestrators = {
  /** Sleeps until the time its input names (ms on the clock), then returns the first event 'go'. */
  SleepsThenWaits: function* (ctx: OrchestrationContext) {
    yield ctx.createTimer(new Date(ctx.getInput<number>()));
    return (yield ctx.waitForExternalEvent('go')) as unknown;
  },
  /** Sleeps a second, as many times as its input says. */
  Ticks: function* (ctx: OrchestrationContext) {
    for (let i = 0; i < ctx.getInput<number>(); i++) yield ctx.createTimer(new Date(ctx.currentUtcDateTime.getTime() + 1000));
    return 'ticked';
  },
};

describe('a wake-up feed that failed while the store was down', () => {
  it('is subscribed to again as soon as a claim succeeds after the outage, not after its back-off', async () => {
    const T0 = Date.parse('2026-01-01T00:00:00.000Z');
    const store = new OutageStore();
    const clock = new VirtualClock(new Date(T0));
    const logger = new RecordingLogger();
    // A client of its own on the same store: what it writes reaches the worker through the store's feed only.
    const other = createClient({ store, clock });
    const id = await other.startNew('SleepsThenWaits', { input: T0 + 52_000 });
    store.feedDown = true;
    const runtime = createRuntime({ store, clock, logger, orchestrators: outageOrchestrators });
    await runtime.start();
    await clock.advance(51_500);
    // Failed at 0, 0.1, 0.3, ... 25.5 and 51.1 s: the next subscription is due at 81.1 s.
    expect(feedDelays(logger)).toEqual([100, 200, 400, 800, 1600, 3200, 6400, 12_800, 25_600, 30_000]);
    store.claimsDown = true; // the whole store is down ...
    await clock.advance(550); // ... when the worker wakes for the timer at 52 s: its claim fails, retried at 52.1 s
    store.claimsDown = false;
    store.feedDown = false; // the store is back
    await clock.advance(50); // the retry claims the timer's step: the store answers, and the feed is subscribed again
    expect(store.open).toBe(1);
    expect((await other.getStatus(id))?.runtimeStatus).toBe('Running');
    // An event another process raises reaches the worker through the feed (before, only once the clock reached 81.1 s).
    await other.raiseEvent(id, 'go', 'went');
    await clock.advance(0);
    expect(await within(other.waitForCompletion(id, { timeoutMs: Infinity }), 'the instance ending')).toMatchObject({ runtimeStatus: 'Completed', output: 'went' });
    expect(clock.now().getTime()).toBe(T0 + 52_100);
    await within(runtime.stop({ graceMs: 0 }), 'the stop');
    expect(store.open).toBe(0);
  });

  it('keeps its back-off while claims succeed, and is brought forward once per outage of the store', async () => {
    const store = new OutageStore();
    const clock = new VirtualClock();
    const logger = new RecordingLogger();
    store.feedDown = true; // for ever
    const runtime = createRuntime({ store, clock, logger, orchestrators: outageOrchestrators });
    await runtime.start();
    const id = await runtime.client.startNew('Ticks', { input: 120 });
    // A claim a second succeeds for 120 s; every 10 s one fails (12 outages of the store).
    for (let s = 0; s < 120; s += 10) {
      store.claimsToFail = 1;
      await clock.advance(10_000);
    }
    await clock.advance(5000); // each failed claim put the ticks 100 ms back
    expect(await runtime.client.getStatus(id)).toMatchObject({ runtimeStatus: 'Completed', output: 'ticked' });
    // Its back-off alone subscribes 12 times in these 125 s (at 0, 0.1, 0.3, ... 51.1, 81.1, 111.1 s: as a feed that
    // fails beside a store that never does); each of the 12 recoveries of the store may bring one subscription
    // forward. A subscription per successful claim would be 120 or more.
    expect(store.subscriptions).toBeLessThanOrEqual(12 + 12);
    expect(store.subscriptions).toBeGreaterThan(12);
    await within(runtime.stop({ graceMs: 0 }), 'the stop');
  });
});

describe('a wake-up feed that is down while the store answers', () => {
  const T0 = Date.parse('2026-01-01T00:00:00.000Z');
  /** A runtime whose store's feed is down for ever, its claims counted, and a client of another process on the store. */
  async function feedDownForEver() {
    const store = new OutageStore();
    const clock = new VirtualClock(new Date(T0));
    const logger = new RecordingLogger();
    const claims: number[] = [];
    const claim = store.claimOrchestration.bind(store);
    store.claimOrchestration = (options) => {
      claims.push(clock.now().getTime() - T0);
      return claim(options);
    };
    // A client of its own on the same store: what it writes reaches the worker through the store's feed only.
    const other = createClient({ store, clock });
    store.feedDown = true;
    const runtime = createRuntime({
      store, clock, logger,
      orchestrators: { ...outageOrchestrators, Waits: function* (ctx) { return yield ctx.waitForExternalEvent('go'); } },
    });
    await runtime.start();
    return { store, clock, logger, claims, other, runtime };
  }

  it('claims what another process writes within a second, not at the feed\'s next subscription up to 30 s later', async () => {
    const { store, clock, logger, other, runtime } = await feedDownForEver();
    await clock.advance(60_000);
    // Failed at 0, 0.1, 0.3, ... 25.5 and 51.1 s: the next subscription is due at 81.1 s.
    expect(feedDelays(logger).at(-1)).toBe(30_000);
    const subscriptions = store.subscriptions;
    const id = await other.startNew('Waits'); // at 60 s
    await clock.advance(1000);
    // Its first step ran (before, it waited Pending until the subscription at 81.1 s).
    expect((await other.getStatus(id))?.runtimeStatus).toBe('Running');
    await other.raiseEvent(id, 'go', 'went');
    await clock.advance(1000);
    expect(await other.getStatus(id)).toMatchObject({ runtimeStatus: 'Completed', output: 'went' });
    // The feed kept its back-off: the claims, not a subscription per claim, found the work.
    expect(store.subscriptions).toBe(subscriptions);
    await within(runtime.stop({ graceMs: 0 }), 'the stop');
    expect(store.open).toBe(0);
    expect(clock.pendingTimers).toBe(0);
  });

  it('claims at most once a second meanwhile, backs off as ever when the claims fail too, and stops claiming once the feed is back', async () => {
    const { store, clock, logger, claims, runtime } = await feedDownForEver();
    await clock.advance(60_000);
    // Past the feed's subscription at 51.1 s, the next is due at 81.1 s: one claim round a second meanwhile.
    claims.length = 0;
    await clock.advance(10_000);
    expect(claims).toEqual([60_100, 61_100, 62_100, 63_100, 64_100, 65_100, 66_100, 67_100, 68_100, 69_100]);
    // The whole store goes down: the claims back off from 100 ms, doubling, as with the feed up (brought forward only by
    // the feed's subscriptions at 81.1 and 111.1 s, which count as signals), not once a second.
    store.claimsDown = true;
    claims.length = 0;
    await clock.advance(60_000);
    expect(claims).toEqual([70_100, 70_200, 70_400, 70_800, 71_600, 73_200, 76_400, 81_100, 93_900, 111_100]);
    expect(logger.errors.filter((message) => message.includes('could not claim work')).length).toBe(claims.length);
    // The store is back, its feed too: once the feed is subscribed again (at 81.1 s, or at the claims' recovery), nothing
    // claims until there is work.
    store.claimsDown = false;
    store.feedDown = false;
    await clock.advance(30_000);
    expect(store.open).toBe(1);
    claims.length = 0;
    await clock.advance(60_000);
    expect(claims.length).toBeLessThanOrEqual(1);
    await within(runtime.stop({ graceMs: 0 }), 'the stop');
    expect(clock.pendingTimers).toBe(0);
  });
});
