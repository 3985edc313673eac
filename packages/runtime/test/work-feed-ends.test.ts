import { Observable, Subject } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { createRuntime, MemoryStore } from '../src/index.js';
import { RecordingLogger } from './failing-store.js';
import { VirtualClock } from '../src/testing/virtual-clock.js';
import { HandClock } from './hand-clock.js';
import { within } from './within.js';

/**
 * A MemoryStore whose wake-up feed fails (`fail()`) and, subscribed again, works: as a store whose change stream broke
 * and that opens a new one for a new subscriber. `subscribers` counts the open subscriptions.
 */
class BreakingFeedStore extends MemoryStore {
  subscribers = 0;
  /** MemoryStore's own feed (the field below replaces it). */
  readonly #work: Observable<void> = (this as MemoryStore).workAvailable$;
  readonly #broken = new Subject<void>();
  #failed = false;
  override readonly workAvailable$ = new Observable<void>((subscriber) => {
    this.subscribers++;
    const inner = this.#work.subscribe(subscriber);
    const broken = this.#failed ? undefined : this.#broken.subscribe({ error: (error: unknown) => subscriber.error(error) });
    return () => {
      this.subscribers--;
      inner.unsubscribe();
      broken?.unsubscribe();
    };
  });

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
    const failed = logger.nextError('workAvailable$');
    store.fail();
    await within(failed, 'the failure being reported');
    expect(store.subscribers).toBe(0);
    // An event raised while the feed is down: nothing else would wake the worker (no timer is due).
    await runtime.client.raiseEvent(id, 'go', 'went');
    const ended = runtime.client.waitForCompletion(id, { timeoutMs: Infinity });
    await clock.fireUntil(ended, 'the instance ending', 20);
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
