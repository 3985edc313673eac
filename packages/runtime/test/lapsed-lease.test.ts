import { describe, expect, it } from 'vitest';
import { MemoryStore, PayloadTooLargeError, type Orchestrator } from '../src/index.js';
import type { WriteSet } from '../src/model/write-set.js';
import { settle, VirtualClock } from '../src/testing/virtual-clock.js';
import { FailingStore, RecordingLogger } from './failing-store.js';
import { HandClock, T0 } from './hand-clock.js';
import { startedRuntimes } from './started-runtimes.js';
import { untilEnded } from './until-ended.js';
import { within } from './within.js';

const { start } = startedRuntimes({ graceMs: 0 });

/**
 * A MemoryStore whose commits under a lease of the kinds in `failing` fail (a 500 from the store, nothing written), and
 * whose activity lease renewals fail too while `activity` is one of them.
 */
class FailingLeasedCommits extends MemoryStore {
  readonly failing = new Set<string>();
  override commit(writeSet: WriteSet) {
    if (writeSet.lease && this.failing.has(writeSet.lease.kind)) return Promise.reject(new Error('injected: commit failed'));
    return super.commit(writeSet);
  }

  override renewActivityLease(...args: Parameters<MemoryStore['renewActivityLease']>) {
    if (this.failing.has('activity')) return Promise.reject(new Error('injected: renewal failed'));
    return super.renewActivityLease(...args);
  }
}

/**
 * A runtime alone on its store (one tab, one process), on a virtual clock, its instances started through its own client:
 * each start is committed leased to its worker (the hand-off), and each step's new activity tasks too, so no claim of
 * the worker ever armed its wake timer for those leases.
 */
async function alone(orchestrators: Record<string, Orchestrator>, activities: Record<string, () => unknown>) {
  const clock = new VirtualClock();
  const store = new FailingLeasedCommits();
  const logger = new RecordingLogger();
  const runtime = await start({ store, clock, logger, orchestrationLeaseMs: 10_000, activityLeaseMs: 10_000, orchestrators, activities });
  // Its first claims have found nothing and asked for no wake-up: nothing is due.
  await clock.advance(0);
  const ended = (id: string, max?: number) => untilEnded(runtime, clock, id, max);
  return { store, logger, runtime, ended };
}

describe('a lease the worker gives up without releasing it (a failed commit, left to lapse)', () => {
  it('runs the activity again once its lease has expired, when its result could not be committed before', async () => {
    let runs = 0;
    const { store, logger, runtime, ended } = await alone(
      { O: function* (ctx) { return yield ctx.callActivity('A'); } },
      { A: () => {
        runs++;
        // The first run's result fails to commit, and its lease to be renewed, for as long as the lease lasts; the
        // second's goes through.
        if (runs === 1) {
          store.failing.add('activity');
          store.failing.add('activityStep');
        } else store.failing.clear();
        return `run ${runs}`;
      } },
    );
    const id = await runtime.client.startNew('O');
    const status = await ended(id);
    expect(logger.errors.some((message) => message.includes('its lease has expired; dropped'))).toBe(true);
    expect(status).toMatchObject({ runtimeStatus: 'Completed', output: 'run 2' });
    expect(runs).toBe(2);
  });

  it('runs a step again once its lease has expired, when its commit failed', async () => {
    let runs = 0;
    const { store, logger, runtime, ended } = await alone({ O: function* () { runs++; return 'done'; } }, {});
    store.failing.add('orchestration');
    const failed = logger.nextError('failed; retried when its lease expires');
    const id = await runtime.client.startNew('O');
    // The step handed over with the start ran and its commit failed: it is retried when its lease expires.
    await failed;
    expect(runs).toBe(1);
    store.failing.clear();
    expect(await ended(id)).toMatchObject({ runtimeStatus: 'Completed', output: 'done' });
    expect(runs).toBe(2);
  });
});

describe('a step whose commit is still under way when its lease expires', () => {
  it('waits for the commit\'s answer instead of giving the step up: it ends the step once, with no failure reported', async () => {
    const clock = new VirtualClock();
    const store = new FailingStore();
    const logger = new RecordingLogger();
    let runs = 0;
    // Applied as it is made, its answer held: an IndexedDB commit whose transaction is still at work (writing a large
    // input took a start most of the lease it handed to the worker, and the step's commit writes it once more).
    const commit = store.hangNext('commit', 0, { applied: 'when called', where: (writeSet) => writeSet.lease?.kind === 'orchestration' });
    const runtime = await start({ store, clock, logger, orchestrationLeaseMs: 10_000, orchestrators: { O: function* () { runs++; return 'done'; } } });
    await clock.advance(0);
    const id = await runtime.client.startNew('O');
    await within(commit.called, 'the step committing');
    await clock.advance(15_000); // past the step's lease
    // Before: the worker gave the commit up at the lease's expiry, reported the step failed ("retried when its lease
    // expires") while the commit was still under way, and dropped what it knew of the step.
    expect(logger.errors).toEqual([]);
    expect(await within(commit.release(), 'the commit answering')).toMatchObject({ status: 'fulfilled' });
    expect(await untilEnded(runtime, clock, id)).toMatchObject({ runtimeStatus: 'Completed', output: 'done' });
    expect(logger.errors).toEqual([]);
    expect(runs).toBe(1);
  });
});

describe("a step whose history read is still under way when its lease expires", () => {
  it('waits for the read\'s answer, bounded as the commit is, instead of giving the step up: it ends the step once, with no failure reported', async () => {
    const clock = new VirtualClock();
    const store = new FailingStore();
    const logger = new RecordingLogger();
    let hung!: ReturnType<FailingStore['hangNext']>;
    let ran!: () => void;
    const running = new Promise<void>((resolve) => (ran = resolve));
    let runs = 0;
    // No cache: the step the activity's result wakes replays, so it reads the history; that read answers only once
    // the test lets it (a long history on a slow store). One step slot: the worker takes the instance again only once
    // the step has ended.
    const runtime = await start({
      store, clock, logger, orchestrationLeaseMs: 10_000, cacheSize: 0, maxConcurrentOrchestrations: 1,
      orchestrators: { O: function* (ctx) { return yield ctx.callActivity('A'); } },
      activities: { A: () => { runs++; hung = store.hangNext('getHistory'); ran(); return 'done'; } },
    });
    await clock.advance(0);
    const id = await runtime.client.startNew('O');
    await within(running, 'the activity running');
    await within(hung.called, "the step's history read");
    await clock.advance(15_000); // past the step's lease
    // Before: the worker gave the read up at the lease's expiry and reported the step failed ("retried when its lease
    // expires"), though the store's check of the lease in the commit would have decided it safely.
    expect(logger.errors).toEqual([]);
    expect(await within(hung.release(), 'the read answering')).toMatchObject({ status: 'fulfilled' });
    expect(await untilEnded(runtime, clock, id)).toMatchObject({ runtimeStatus: 'Completed', output: 'done' });
    expect(logger.errors).toEqual([]);
    expect(runs).toBe(1);
  });
});

describe("the activity tasks a step's commit leases to its worker, when the commit answers after their lease expired", () => {
  it('runs none of them on the expired lease (another worker may hold the task): the task is claimed again and runs once', async () => {
    const clock = new HandClock();
    const store = new FailingStore();
    const logger = new RecordingLogger();
    let runs = 0;
    // Applied as it is made, its answer held: the tasks it leases to the worker expire before the worker hears of them.
    const commit = store.hangNext('commit', 0, {
      applied: 'when called',
      where: (writeSet) => writeSet.lease?.kind === 'orchestration' && writeSet.requests.some((r) => r.type === 'insertTask' && r.lease !== undefined),
    });
    const runtime = await start({
      store, clock, logger, activityLeaseMs: 1000, storeCallTimeoutMs: 30_000,
      orchestrators: { O: function* (ctx) { return yield ctx.callActivity('A'); } }, activities: { A: () => `run ${++runs}` },
    });
    const id = await runtime.client.startNew('O');
    await within(commit.called, "the step's commit");
    // Past the task's lease another worker takes it, and holds it while the commit's answer comes.
    clock.ms = T0 + 1500;
    const other = await store.inner.claimActivity({ owner: 'other', leaseMs: 1000, now: clock.now() });
    expect(other?.task.name).toBe('A');
    expect(await within(commit.release(), "the commit's answer")).toMatchObject({ status: 'fulfilled' });
    await settle();
    // Before, the worker ran it on its expired lease while the other worker held it.
    expect(runs).toBe(0);
    expect(logger.warnings.filter((message) => message.includes('its lease expired before the commit leasing it answered'))).toHaveLength(1);
    // The other worker gives it up: this worker claims it and runs it, once.
    await store.inner.abandonActivity(other!.task.id, other!.lease.token);
    const ended = runtime.client.waitForCompletion(id, { timeoutMs: 60_000 });
    await clock.fireUntil(ended, 'a timer or the end', 20);
    expect(await ended).toMatchObject({ runtimeStatus: 'Completed', output: 'run 1' });
    expect(logger.errors).toEqual([]);
  });
});

describe('a step the store refuses for good only after its lease expired', () => {
  it('records the instance\'s failure, waiting for that commit\'s answer as for the step\'s, instead of reporting the step failed', async () => {
    const clock = new VirtualClock();
    const logger = new RecordingLogger();
    let refuse!: () => void;
    const refused = new Promise<void>((resolve) => (refuse = resolve));
    let stepCommitted!: () => void;
    const stepCommitting = new Promise<void>((resolve) => (stepCommitted = resolve));
    // The step's first commit is refused for good (as a write over the quota an IndexedDB transaction reports at its
    // end), the refusal answered once the step's lease has expired.
    class RefusingLateStore extends FailingStore {
      #first = true;
      override commit(writeSet: WriteSet) {
        if (writeSet.lease?.kind !== 'orchestration' || !this.#first) return super.commit(writeSet);
        this.#first = false;
        stepCommitted();
        return refused.then(() => Promise.reject(new PayloadTooLargeError('the write exceeds what this store stores')));
      }
    }
    const store = new RefusingLateStore();
    // The failure record's commit, answered a moment after it is made, as any IndexedDB commit.
    const record = store.hangNext('commit', 0, { where: (writeSet) => writeSet.lease?.kind === 'orchestration' });
    // One step slot: the worker takes the instance again only once the step has ended.
    const runtime = await start({
      store, clock, logger, orchestrationLeaseMs: 10_000, maxConcurrentOrchestrations: 1,
      orchestrators: { O: function* () { return 'done'; } },
    });
    await clock.advance(0);
    const id = await runtime.client.startNew('O');
    await within(stepCommitting, 'the step committing');
    await clock.advance(15_000); // past the step's lease
    refuse();
    await within(record.called, 'the failure record being committed');
    await clock.advance(1);
    // Before: the record's commit was bounded by the step's lease, already expired: given up at once (0 ms), the step
    // reported failed ("retried when its lease expires") and run again, while the store went on to commit the record.
    expect(logger.errors.filter((message) => !message.startsWith('the store refused the step'))).toEqual([]);
    expect(await within(record.release(), 'the record\'s commit answering')).toMatchObject({ status: 'fulfilled' });
    expect(await untilEnded(runtime, clock, id)).toMatchObject({ runtimeStatus: 'Failed', failureDetails: { errorType: 'PayloadTooLargeError' } });
    expect(logger.errors.filter((message) => !message.startsWith('the store refused the step'))).toEqual([]);
  });
});

