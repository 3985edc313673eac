import { Observable, Subject } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { createRuntime, MemoryStore } from '../src/index.js';
import { RecordingLogger } from './failing-store.js';
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
