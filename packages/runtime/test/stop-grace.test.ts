import { describe, expect, it } from 'vitest';
import { createRuntime, InvalidArgumentError, MemoryStore, PayloadTooLargeError, silentLogger, type LeaseStorage, type Orchestrator } from '../src/index.js';
import type { WriteSet } from '../src/store-kit/index.js';
import { settle, VirtualClock } from '../src/testing/virtual-clock.js';
import { SETTLED } from '../src/testing/settled.js';
import { heldActivity } from './held-activity.js';
import { startedRuntimes } from './started-runtimes.js';
import { FailingStore, RecordingLogger } from './failing-store.js';
import { HandClock, T0 } from './hand-clock.js';
import { within } from './within.js';

const { runtimes, start } = startedRuntimes({ graceMs: 0 });

const callsSlow: Orchestrator = function* (ctx) {
  return yield ctx.callActivity('Slow');
};

describe('runtime.stop({ graceMs })', () => {
  it('resolves after the grace period although an activity never settles, and releases its lease at once', async () => {
    const clock = new VirtualClock();
    const store = new MemoryStore();
    let started!: () => void;
    const activityStarted = new Promise<void>((resolve) => (started = resolve));
    const first = createRuntime({
      store, clock, logger: silentLogger, orchestrators: { CallsSlow: callsSlow },
      activities: { Slow: () => { started(); return new Promise<never>(() => undefined); } },
    });
    runtimes.push(first);
    await first.start();
    const id = await first.client.startNew('CallsSlow');
    await activityStarted;

    let stopped = false;
    const stopping = first.stop({ graceMs: 2_000 }).then(() => (stopped = true));
    await clock.advance(1_999);
    expect(stopped).toBe(false); // within the grace period it still waits
    await clock.advance(1);
    await stopping;
    expect(stopped).toBe(true);

    // The activity's 5-minute lease was released: another runtime runs it without any time passing.
    const second = createRuntime({
      store, clock, logger: silentLogger, orchestrators: { CallsSlow: callsSlow }, activities: { Slow: () => 'done' },
    });
    runtimes.push(second);
    const before = clock.now().getTime();
    await second.start();
    const done = await second.client.waitForCompletion(id, SETTLED);
    expect(done).toMatchObject({ runtimeStatus: 'Completed', output: 'done' });
    expect(clock.now().getTime()).toBe(before);
  });

  it('with a grace of 0, abandons what runs without waiting on the clock: a clock nobody advances does not hold the stop', async () => {
    const clock = new VirtualClock();
    const store = new MemoryStore();
    const { activity: Slow, running: activityStarted } = heldActivity();
    const first = await start({ clock, store, orchestrators: { CallsSlow: callsSlow }, activities: { Slow } });
    const id = await first.client.startNew('CallsSlow');
    await within(activityStarted, 'the activity running');
    // The clock is never advanced (before, the stop waited for a timer of 0 ms on it, for ever).
    await within(first.stop({ graceMs: 0 }), 'the stop');
    // The activity's lease was released: another runtime runs it at once.
    const second = await start({ clock, store, orchestrators: { CallsSlow: callsSlow }, activities: { Slow: () => 'second' } });
    expect(await second.client.waitForCompletion(id, SETTLED)).toMatchObject({ runtimeStatus: 'Completed', output: 'second' });
  });

  it('runs no activity that a step committing as the stop began leased to it, and releases it for another worker at once', async () => {
    const clock = new VirtualClock();
    const store = new FailingStore();
    // The step's commit that schedules Slow and leases it to this worker lands (as IndexedDB runs transactions in
    // order, before the stop's release of the step) while the worker stops; its answer comes on release().
    const commit = store.hangNext('commit', 0, {
      applied: 'when called',
      where: (writeSet) => writeSet.lease?.kind === 'orchestration' && writeSet.requests.some((r) => r.type === 'insertTask' && r.lease !== undefined),
    });
    let ran = 0;
    const first = await start({ clock, store, orchestrators: { CallsSlow: callsSlow }, activities: { Slow: () => `first ${++ran}` } });
    const id = await first.client.startNew('CallsSlow');
    await within(commit.called, "the step's commit");
    const stopping = first.stop({ graceMs: 2_000 }); // the commit lands within the grace
    await commit.release();
    await within(stopping, 'the stop');
    expect(ran).toBe(0);
    // Released: another runtime runs it without any time passing (its 5-minute lease would otherwise hold it).
    const before = clock.now().getTime();
    const second = await start({ clock, store, orchestrators: { CallsSlow: callsSlow }, activities: { Slow: () => 'second' } });
    expect(await second.client.waitForCompletion(id, SETTLED)).toMatchObject({ runtimeStatus: 'Completed', output: 'second' });
    expect(clock.now().getTime()).toBe(before);
    expect(ran).toBe(0);
  });

  it('waits for work that finishes within the grace period and commits it', async () => {
    const clock = new VirtualClock();
    const { activity: Slow, running: activityStarted, finish } = heldActivity();
    const runtime = await start({
      clock, store: new MemoryStore(), orchestrators: { CallsSlow: callsSlow },
      activities: { Slow },
    });
    const id = await runtime.client.startNew('CallsSlow');
    await activityStarted;
    const stopping = runtime.stop({ graceMs: 60_000 });
    finish('in time');
    await stopping;
    // The result was committed before stop resolved: it waits in the store for the next worker.
    const item = await runtime.store.claimOrchestration({ owner: 'probe', leaseMs: 1000, now: clock.now() });
    expect(item?.state.instanceId).toBe(id);
    expect(item?.messages.map((m) => m.event)).toMatchObject([{ type: 'TaskCompleted', result: 'in time' }]);
  });

  it('rejects a grace period that is not a number >= 0, stopping nothing', async () => {
    const runtime = await start({ orchestrators: { CallsSlow: callsSlow } });
    for (const graceMs of [-1, Number.NaN, '5' as unknown as number]) {
      await expect(runtime.stop({ graceMs })).rejects.toMatchObject({ code: 'invalid-argument' });
    }
    const id = await runtime.client.startNew('CallsSlow');
    expect(id).toBeTypeOf('string');
  });

  it('rejects options whose graceMs throws when read with a typed error naming it, stopping nothing', async () => {
    const runtime = await start({ orchestrators: { CallsSlow: callsSlow } });
    const cause = new Error('getter');
    const options = { get graceMs(): number { throw cause; } };
    const stopping = runtime.stop(options);
    await expect(stopping).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(stopping).rejects.toMatchObject({ code: 'invalid-argument', message: 'stop options.graceMs threw when read', cause });
    await expect(runtime.stop(null as never)).rejects.toMatchObject({ code: 'invalid-argument', message: 'stop options must be an object' });
    const id = await runtime.client.startNew('CallsSlow');
    expect(id).toBeTypeOf('string');
  });
});

describe('runtime.stop() with storeCallTimeoutMs: Infinity over a release that never settles', () => {
  it.each([0, 200])('ends (grace %i ms) when the lease of the running activity it releases expires', async (graceMs) => {
    const clock = new HandClock();
    const store = new FailingStore();
    const logger = new RecordingLogger();
    const { activity: Slow, running } = heldActivity();
    const release = store.hangNext('abandonActivity'); // answered only after the test
    const runtime = await start({
      clock, store, logger, storeCallTimeoutMs: Infinity, activityLeaseMs: 1000,
      orchestrators: { CallsSlow: callsSlow }, activities: { Slow },
    });
    await runtime.client.startNew('CallsSlow');
    await within(running, 'the activity running');
    const stopping = runtime.stop({ graceMs });
    // The lease was taken at T0 (the clock has not moved) and is not renewed before the grace ends: the release is
    // abandoned when it expires, and the stop ends then.
    expect(await clock.fireUntil(stopping, 'the stop', 20)).toBe(T0 + 1000);
    await within(release.called, 'the release being sent');
    expect(logger.errors.some((message) => message.includes('releasing a lease of'))).toBe(true);
    await within(release.release(), 'the late release settling');
  });

  it('is clean when the release it abandoned at the lease\'s expiry is unanswered: the lease has lapsed, nothing is left for a next life', async () => {
    const clock = new HandClock();
    const store = new FailingStore();
    const logger = new RecordingLogger();
    const storage = mapStorage();
    const { activity: Slow, running } = heldActivity();
    const release = store.hangNext('abandonActivity'); // answered only after the test
    const runtime = await start({
      clock, store, logger, leaseStorage: storage, storeCallTimeoutMs: Infinity, activityLeaseMs: 1000,
      orchestrators: { CallsSlow: callsSlow }, activities: { Slow },
    });
    await runtime.client.startNew('CallsSlow');
    await within(running, 'the activity running');
    const stopping = runtime.stop({ graceMs: 0 });
    expect(await clock.fireUntil(stopping, 'the stop', 20)).toBe(T0 + 1000);
    // Before, the release abandoned at its bound made the stop not clean: the id was kept, and its next life sent a
    // release by it for a lease nobody held any more.
    expect(JSON.parse(storage.map.get(WORKER_IDS) ?? 'null')).toEqual([]);
    expect((await store.inner.claimActivity({ owner: 'probe', leaseMs: 1000, now: clock.now() }))?.task.name).toBe('Slow');
    await within(release.release(), 'the late release settling');
  });

  it('releases the lease of a running activity past its known expiry while a renewal it sent is unanswered', async () => {
    const clock = new HandClock();
    const store = new FailingStore();
    const { activity: Slow, running } = heldActivity();
    // The first two renewals fail; the third is unanswered, and applies once the test lets it.
    const renewal = store.hangNext('renewActivityLease', 2);
    store.failNext('renewActivityLease', 2);
    const runtime = await start({ clock, store, activityLeaseMs: 1000, orchestrators: { CallsSlow: callsSlow }, activities: { Slow } });
    await runtime.client.startNew('CallsSlow');
    await within(running, 'the activity running');
    await clock.fireUntil(renewal.called, 'the third renewal', 20);
    clock.ms = T0 + 1000; // the lease's expiry as known: the renewal sent at T0 + 999 may still hold it to T0 + 1999
    await within(runtime.stop({ graceMs: 0 }), 'the stop');
    // The lease was released: the renewal, applied late, is refused, and another worker claims the task at once.
    expect(await within(renewal.release(), 'the late renewal settling')).toMatchObject({ status: 'rejected' });
    expect((await store.inner.claimActivity({ owner: 'probe', leaseMs: 1000, now: clock.now() }))?.task.name).toBe('Slow');
  });

  it('waits for the release of an activity whose result commit is being retried until its renewed lease expires', async () => {
    const clock = new HandClock();
    const store = new FailingStore();
    const logger = new RecordingLogger();
    const { activity: Slow, running, finish } = heldActivity();
    const runtime = await start({
      clock, store, logger, storeCallTimeoutMs: Infinity, activityLeaseMs: 1000,
      orchestrators: { CallsSlow: callsSlow }, activities: { Slow },
    });
    await runtime.client.startNew('CallsSlow');
    await within(running, 'the activity running');
    // Four renewals, a third of the lease apart: the last one, at T0 + 1332, holds the lease to T0 + 2332, well past
    // the expiry it was claimed with (T0 + 1000).
    for (let i = 0; i < 4; i++) await clock.fireUntil(store.calledNext('renewActivityLease'), 'a renewal', 20);
    expect(clock.ms).toBe(T0 + 1332);
    // The result's commit fails: the worker holds the task and waits to commit it again.
    store.failNext('commit', 2);
    const retrying = logger.nextError('retrying in');
    finish('done');
    await within(retrying, 'the result commit failing');
    const release = store.hangNext('abandonActivity'); // answered only after the test
    const stopping = runtime.stop({ graceMs: 0 });
    await within(release.called, 'the release being sent');
    // The release is waited for until the lease its last renewal gave expires, not given up at once.
    expect(await clock.fireUntil(stopping, 'the stop', 20)).toBe(T0 + 2332);
    await within(release.release(), 'the late release settling');
  });

  it('ends when the lease of the step it releases expires', async () => {
    const clock = new HandClock();
    const store = new FailingStore();
    const logger = new RecordingLogger();
    // The step's commit and the stop's release of its lease both answer only after the test.
    const commit = store.hangNext('commit', 0, { where: (writeSet) => writeSet.lease?.kind === 'orchestration' });
    const release = store.hangNext('abandonOrchestration');
    const runtime = await start({
      clock, store, logger, storeCallTimeoutMs: Infinity, orchestrationLeaseMs: 1000,
      orchestrators: { CallsSlow: callsSlow }, activities: { Slow: () => 'done' },
    });
    await runtime.client.startNew('CallsSlow');
    await within(commit.called, "the step's commit");
    const stopping = runtime.stop({ graceMs: 0 });
    await within(release.called, 'the release being sent');
    expect(await clock.fireUntil(stopping, 'the stop', 20)).toBe(T0 + 1000);
    await within(Promise.all([commit.release(), release.release()]), 'the late calls settling');
  });
});

describe("runtime.stop() during a step's commit that runs past the step's lease", () => {
  it('sends no release for the lapsed lease: nothing is logged failed, the stop is clean, and the commit applies once', async () => {
    const clock = new HandClock();
    const store = new FailingStore();
    const logger = new RecordingLogger();
    const storage = mapStorage();
    // The step's commit (bounded by storeCallTimeoutMs, not by its lease) is held unapplied until the test answers it.
    const commit = store.hangNext('commit', 0, { where: (writeSet) => writeSet.lease?.kind === 'orchestration' });
    const release = store.hangNext('abandonOrchestration');
    let releaseSent = false;
    void release.called.then(() => (releaseSent = true));
    const done: Orchestrator = function* () {
      return 'done';
    };
    const runtime = await start({
      clock, store, logger, leaseStorage: storage, orchestrationLeaseMs: 1000, storeCallTimeoutMs: 30_000, orchestrators: { Done: done },
    });
    const id = await runtime.client.startNew('Done');
    await within(commit.called, "the step's commit");
    clock.ms = T0 + 1000; // the step's lease has expired; its commit goes on
    const stopping = runtime.stop({ graceMs: 0 });
    // Before, a release went out with a 0 ms bound, was abandoned at once and logged as failed; the stop was not clean.
    expect(await clock.fireUntil(stopping, 'the stop', 20)).toBe(T0 + 1000);
    expect(releaseSent).toBe(false);
    expect(logger.errors).toEqual([]);
    expect(logger.warnings).toEqual(['stopped with 1 steps or activities running (0 leases released, 1 lapsed) and 0 starts committing']);
    expect(JSON.parse(storage.map.get(WORKER_IDS) ?? 'null')).toEqual([]);
    // The commit the stop no longer waited for applies (nobody took the instance meanwhile), once.
    expect(await within(commit.release(), 'the late commit settling')).toMatchObject({ status: 'fulfilled' });
    expect((await store.inner.getInstance(id))?.runtimeStatus).toBe('Completed');
    expect((await store.inner.getHistory(id)).filter((event) => event.type === 'ExecutionCompleted')).toHaveLength(1);
  });
});

describe('runtime.stop() over releases that never settle', () => {
  it('ends within graceMs plus storeCallTimeoutMs, though a commit answered late leases a task whose release waits too', async () => {
    const clock = new HandClock();
    const store = new FailingStore();
    // The step's commit schedules Slow and leases it to this worker: it lands at once, and its answer comes on release().
    const commit = store.hangNext('commit', 0, {
      applied: 'when called',
      where: (writeSet) => writeSet.lease?.kind === 'orchestration' && writeSet.requests.some((r) => r.type === 'insertTask' && r.lease !== undefined),
    });
    // The stop's release of the step, and the release of the task the commit leased: both answered only after the test.
    const stepRelease = store.hangNext('abandonOrchestration');
    const taskRelease = store.hangNext('abandonActivity');
    const runtime = await start({ clock, store, storeCallTimeoutMs: 1000, orchestrators: { CallsSlow: callsSlow }, activities: { Slow: () => 'ran' } });
    await runtime.client.startNew('CallsSlow');
    await within(commit.called, "the step's commit");
    const stopping = runtime.stop({ graceMs: 0 });
    await within(stepRelease.called, "the step's release being sent");
    // The commit is answered just before its bound: the worker releases the task it leased instead of running it.
    clock.ms = T0 + 999;
    await within(commit.release(), 'the commit being answered');
    await within(taskRelease.called, "the task's release being sent");
    // Before, the task's release was waited for its own whole bound after that: the stop ended at T0 + 1999.
    expect(await clock.fireUntil(stopping, 'the stop', 20)).toBe(T0 + 1000);
    await within(Promise.all([stepRelease.release(), taskRelease.release()]), 'the late releases settling');
  });
});

/** A FailingStore that refuses every activity result, and the failure that replaces it, for good (too large). */
class ResultTooLargeStore extends FailingStore {
  override commit(writeSet: WriteSet) {
    const kind = writeSet.lease?.kind;
    if (kind === 'activity' || kind === 'activityStep') return Promise.reject(new PayloadTooLargeError('injected: the result is too large'));
    return super.commit(writeSet);
  }
}

const WORKER_IDS = 'durable-rx:worker-ids';

/** A Web-Storage-like map, as sessionStorage is to a tab. */
function mapStorage(): LeaseStorage & { readonly map: Map<string, string> } {
  const map = new Map<string, string>();
  return { map, getItem: (key) => map.get(key) ?? null, setItem: (key, value) => void map.set(key, value) };
}

/**
 * A runtime on a ResultTooLargeStore whose one activity returned a value the store refused for good, with its failure:
 * the worker has given the task up with its lease still live (it left it to lapse, to be released as it expires). The
 * runtime records its life in `storage`.
 */
async function withGivenUpLease(storeCallTimeoutMs?: number) {
  const clock = new HandClock();
  const store = new ResultTooLargeStore();
  const logger = new RecordingLogger();
  const storage = mapStorage();
  const dropped = logger.nextError('and its failure; dropped');
  const runtime = await start({
    clock, store, logger, leaseStorage: storage, activityLeaseMs: 60_000, storeCallTimeoutMs,
    orchestrators: { CallsSlow: callsSlow }, activities: { Slow: () => 'too large' },
  });
  const id = await runtime.client.startNew('CallsSlow');
  await within(dropped, 'the result being given up');
  await settle(); // the activity's run has ended: nothing holds the task but its lease
  // Given up with its lease left to lapse: no other worker may claim it yet.
  expect(await store.inner.claimActivity({ owner: 'probe', leaseMs: 1000, now: clock.now() })).toBeUndefined();
  return { clock, store, storage, runtime, id, logger };
}

describe('runtime.stop() over the lease of an activity whose result was given up', () => {
  it('waits, with no grace, for the lease\'s release, and ends clean once it is released', async () => {
    const { clock, store, storage, runtime } = await withGivenUpLease();
    const release = store.hangNext('abandonActivity');
    let stopped = false;
    const stopping = runtime.stop({ graceMs: 0 }).then(() => (stopped = true));
    await within(release.called, 'the release being sent');
    await settle();
    expect(stopped).toBe(false); // the release is unanswered (before, the stop ended at once and cut it off)
    expect(await within(release.release(), 'the release settling')).toMatchObject({ status: 'fulfilled' });
    await within(stopping, 'the stop');
    // Released: another worker claims it without any time passing, and nothing is left for a next life.
    expect((await store.inner.claimActivity({ owner: 'probe', leaseMs: 1000, now: clock.now() }))?.task.name).toBe('Slow');
    expect(JSON.parse(storage.map.get(WORKER_IDS) ?? 'null')).toEqual([]);
  });

  it('ends at the release\'s bound when the release never answers, and is not clean: the next life releases the lease', async () => {
    const { clock, store, storage, runtime, id } = await withGivenUpLease(1000);
    const release = store.hangNext('abandonActivity'); // answered only after the test
    const stopping = runtime.stop({ graceMs: 0 });
    await within(release.called, 'the release being sent');
    expect(await clock.fireUntil(stopping, 'the stop', 20)).toBe(T0 + 1000);
    expect(JSON.parse(storage.map.get(WORKER_IDS) ?? '[]')).toHaveLength(1);
    const before = clock.ms;
    const second = await start({ clock, store: store.inner, leaseStorage: storage, orchestrators: { CallsSlow: callsSlow }, activities: { Slow: () => 'second' } });
    expect(await second.client.waitForCompletion(id, SETTLED)).toMatchObject({ runtimeStatus: 'Completed', output: 'second' });
    expect(clock.ms).toBe(before); // released by the next life, not lapsed
    await within(release.release(), 'the late release settling');
  });

  it('is clean when a release that failed as the lease expired was one lease before the stop: that lease has lapsed', async () => {
    const { clock, store, storage, runtime, logger } = await withGivenUpLease();
    store.failNext('abandonActivity', 1);
    const failed = logger.nextError('releasing a lease of');
    clock.ms += 60_000; // the lease's expiry: the worker releases it, and the release fails
    clock.fireDue();
    await within(failed, 'the release failing');
    await settle();
    // A late renewal could hold it for one lease more at most: past that, nothing of it is left for a next life.
    clock.ms += 60_000;
    await within(runtime.stop({ graceMs: 0 }), 'the stop');
    expect(JSON.parse(storage.map.get(WORKER_IDS) ?? 'null')).toEqual([]);
  });

  it('is not clean when the release fails, so the next life releases the lease at once', async () => {
    const { clock, store, storage, runtime, id } = await withGivenUpLease();
    store.failNext('abandonActivity', 1);
    await within(runtime.stop({ graceMs: 0 }), 'the stop');
    expect(JSON.parse(storage.map.get(WORKER_IDS) ?? '[]')).toHaveLength(1);
    const before = clock.ms;
    const second = await start({ clock, store: store.inner, leaseStorage: storage, orchestrators: { CallsSlow: callsSlow }, activities: { Slow: () => 'second' } });
    expect(await second.client.waitForCompletion(id, SETTLED)).toMatchObject({ runtimeStatus: 'Completed', output: 'second' });
    expect(clock.ms).toBe(before);
  });
});
