import { describe, expect, it } from 'vitest';
import { createClient, createRuntime } from '../src/index.js';
import { lifeLeaseOwner } from '../src/store/store-helpers.js';
import { FailingStore, RecordingLogger } from './failing-store.js';
import { ending } from './ending.js';
import { heldActivity } from './held-activity.js';
import { HandClock, T0 } from './hand-clock.js';
import { within } from './within.js';

/** A few turns of the event loop: what a claim started now would need to reach the store. */
const turns = async (n: number): Promise<void> => {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setTimeout(resolve, 0));
};

describe('a worker that reuses its id', () => {
  it('claims nothing while the leases of its earlier life are being released, though work is signalled meanwhile', async () => {
    const store = new FailingStore();
    const clock = new HandClock();
    const logger = new RecordingLogger();
    const runtime = createRuntime({
      store, clock, logger, workerId: 'w1',
      orchestrators: { Calls: function* (ctx) { return yield ctx.callActivity('Echo', 'a'); } },
      activities: { Echo: (value: string) => value },
    });
    const releasing = store.hangNext('releaseOwner');
    await runtime.start();
    await within(releasing.called, 'the release being sent');
    let claimed = false;
    void store.calledNext('claimOrchestration').then(() => (claimed = true));
    // A start: the store signals work. Claims wait for the release, so the work of the earlier life is claimable first.
    const id = await runtime.client.startNew('Calls');
    await turns(10);
    expect(claimed).toBe(false);
    await within(releasing.release(), 'the release settling');
    const ended = ending(runtime.client, id);
    expect(await ended).toMatchObject({ runtimeStatus: 'Completed', output: 'a' });
    expect(logger.warnings.filter((message) => message.includes('lost'))).toEqual([]);
    await within(runtime.stop({ graceMs: 0 }), 'the stop');
  });
});

describe('a worker that reuses its id, when a release of its earlier lives\' leases applies after it claimed', () => {
  /** A runtime with the id `w1` whose one activity runs until `finish`; `running` resolves when it starts. */
  const lifeOf = (store: FailingStore, clock: HandClock, logger: RecordingLogger) => {
    const { activity: Long, running, finish } = heldActivity();
    const runtime = createRuntime({
      store, clock, logger, workerId: 'w1', storeCallTimeoutMs: 1000, activityLeaseMs: 60_000,
      orchestrators: { Calls: function* (ctx) { return yield ctx.callActivity('Long'); }, Hello: function* () { return 'hi'; } },
      activities: { Long },
    });
    return { runtime, running, finish };
  };

  /** Starts `life`, whose release of its earlier leases hangs until the returned `release()`, past its bound. */
  const startAbandoningTheRelease = async (life: ReturnType<typeof lifeOf>, store: FailingStore, clock: HandClock, logger: RecordingLogger) => {
    const releasing = store.hangNext('releaseOwner');
    const abandoned = logger.nextError('releasing the leases of worker w1 failed');
    await life.runtime.start();
    await within(releasing.called, 'the release being sent');
    clock.ms += 1000; // its bound (storeCallTimeoutMs): abandoned, and claims begin
    clock.fireDue();
    await within(abandoned, 'the release being abandoned');
    return releasing;
  };

  /**
   * Runs an activity on `life`, then lets the store apply the hung `releasing` late: it must release nothing, the task
   * staying leased to `life` (no other worker can take it and run it a second time), which then completes it.
   */
  const expectLateReleaseKeepsTheLease = async (life: ReturnType<typeof lifeOf>, releasing: ReturnType<FailingStore['hangNext']>, store: FailingStore, clock: HandClock, logger: RecordingLogger) => {
    const id = await life.runtime.client.startNew('Calls');
    await within(life.running, 'the activity starting');
    expect(await within(releasing.release(), 'the late release settling')).toEqual({ status: 'fulfilled', value: 0 });
    expect(await store.inner.claimActivity({ owner: 'other', leaseMs: 60_000, now: clock.now() })).toBeUndefined();
    life.finish('done');
    expect(await ending(life.runtime.client, id)).toMatchObject({ runtimeStatus: 'Completed', output: 'done' });
    expect(logger.warnings.filter((message) => message.includes('lost'))).toEqual([]);
    await within(life.runtime.stop({ graceMs: 0 }), 'the stop');
  };

  it('keeps the lease of its running activity when its own abandoned release applies late', async () => {
    const store = new FailingStore();
    const clock = new HandClock();
    const logger = new RecordingLogger();
    const life = lifeOf(store, clock, logger);
    const releasing = await startAbandoningTheRelease(life, store, clock, logger);
    // The store applies the abandoned release while this life runs: it finds no lease of an earlier life to release.
    await expectLateReleaseKeepsTheLease(life, releasing, store, clock, logger);
  });

  it('keeps the lease of its running activity when an earlier life\'s abandoned release applies late', async () => {
    const store = new FailingStore();
    const clock = new HandClock();
    const logger = new RecordingLogger();
    const first = lifeOf(store, clock, logger);
    const releasing = await startAbandoningTheRelease(first, store, clock, logger);
    await within(first.runtime.stop({ graceMs: 0 }), 'the first life stopping');
    clock.ms += 1000;
    // The next life of `w1` (in the same process: the first life's release is still on its way to the store).
    const second = lifeOf(store, clock, logger);
    await second.runtime.start();
    await expectLateReleaseKeepsTheLease(second, releasing, store, clock, logger);
  });

  // The lives are told apart by their starts: on a clock that stands still the second life began in the same
  // millisecond as the first, on one set back before it (a hand or virtual clock started over).
  it.each([['stands still', 0], ['is set back', -60_000]])('keeps the lease of its running activity when an earlier life\'s late release applies, though the clock %s between the lives', async (_, stepMs) => {
    const store = new FailingStore();
    const clock = new HandClock();
    const logger = new RecordingLogger();
    const first = lifeOf(store, clock, logger);
    const releasing = store.hangNext('releaseOwner');
    await first.runtime.start();
    await within(releasing.called, 'the release being sent');
    // The first life stops while its release hangs: its wait for it ends, but the store may still apply it.
    await within(first.runtime.stop({ graceMs: 0 }), 'the first life stopping');
    clock.ms += stepMs;
    const second = lifeOf(store, clock, logger);
    await second.runtime.start();
    await expectLateReleaseKeepsTheLease(second, releasing, store, clock, logger);
    expect(clock.ms).toBe(T0 + stepMs);
  });

  it('still releases every lease its earlier lives left, those an older version recorded with the bare id too', async () => {
    const store = new FailingStore();
    const clock = new HandClock();
    const logger = new RecordingLogger();
    const client = createClient({ store, clock });
    const a = await client.startNew('Hello');
    const b = await client.startNew('Hello');
    // Claimed by an earlier life of an older version (the bare id) and by one of this version (begun a second before
    // this one, in another process); then both lives ended.
    expect(await store.inner.claimOrchestration({ owner: 'w1', leaseMs: 60_000, now: clock.now() })).toBeDefined();
    expect(await store.inner.claimOrchestration({ owner: lifeLeaseOwner('w1', new Date(T0 - 1000)), leaseMs: 60_000, now: clock.now() })).toBeDefined();
    const life = lifeOf(store, clock, logger);
    await life.runtime.start();
    // Both run at once, long before their leases would expire (the clock stands still).
    expect(await ending(life.runtime.client, a)).toMatchObject({ runtimeStatus: 'Completed', output: 'hi' });
    expect(await ending(life.runtime.client, b)).toMatchObject({ runtimeStatus: 'Completed', output: 'hi' });
    expect(clock.ms).toBe(T0);
    await within(life.runtime.stop({ graceMs: 0 }), 'the stop');
  });
});
