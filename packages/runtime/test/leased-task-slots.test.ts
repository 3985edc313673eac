import { describe, expect, it } from 'vitest';
import type { Orchestrator } from '../src/index.js';
import { FailingStore, RecordingLogger } from './failing-store.js';
import { settle } from '../src/testing/virtual-clock.js';
import { HandClock, T0 } from './hand-clock.js';
import { heldActivity } from './held-activity.js';
import { startedRuntimes } from './started-runtimes.js';
import { within } from './within.js';

const { start } = startedRuntimes({ graceMs: 0 });

const calls = (name: string): Orchestrator => function* (ctx) {
  return yield ctx.callActivity(name);
};

/**
 * A runtime of one activity slot on `clock` whose next commit of a step that leases a task to its worker (A's) answers
 * only when the test lets it (`commit.release()`): a wedged IndexedDB transaction, up to storeCallTimeoutMs (30 s).
 * `CallsA` runs activity A (`a`, or `a n` numbered by its runs), `CallsB` the held activity B.
 */
async function slowCommitRuntime(clock: HandClock, a: () => string = () => 'a') {
  const store = new FailingStore();
  const logger = new RecordingLogger();
  const b = heldActivity();
  const commit = store.hangNext('commit', 0, {
    applied: 'when called',
    where: (writeSet) => writeSet.lease?.kind === 'orchestration' && writeSet.requests.some((r) => r.type === 'insertTask' && r.lease !== undefined),
  });
  const runtime = await start({
    store, clock, logger, maxConcurrentActivities: 1, storeCallTimeoutMs: 30_000,
    orchestrators: { CallsA: calls('A'), CallsB: calls('B') }, activities: { A: a, B: b.activity },
  });
  return { store, logger, b, commit, runtime };
}

describe("the activity slots a step's commit reserves for the tasks it leases to its worker", () => {
  it('are given back while the commit is slow to answer, so other activities run; its tasks then wait for a free slot', async () => {
    const clock = new HandClock();
    let aRuns = 0;
    // The commit of A's step leases A to the worker (its one activity slot reserved) and answers only when the test lets it.
    const { logger, b, commit, runtime } = await slowCommitRuntime(clock, () => `a ${++aRuns}`);
    const a = await runtime.client.startNew('CallsA');
    await within(commit.called, "A's step committing");
    // B's task is scheduled unleased (no free slot): before, it waited for A's commit to answer, however long.
    const bId = await runtime.client.startNew('CallsB');
    await clock.fireUntil(b.running, 'B running', 10);
    expect(b.runs()).toBe(1);
    expect(clock.ms - T0).toBeLessThan(30_000);
    // A's commit answers while B holds the one slot: A is not run beside it (the limit holds) but released, and runs
    // once B has ended.
    expect(await within(commit.release(), "A's commit answering")).toMatchObject({ status: 'fulfilled' });
    expect(aRuns).toBe(0);
    b.finish('b');
    const ended = Promise.all([runtime.client.waitForCompletion(a, { timeoutMs: 600_000 }), runtime.client.waitForCompletion(bId, { timeoutMs: 600_000 })]);
    await clock.fireUntil(ended, 'both ends', 20);
    expect(await ended).toMatchObject([{ runtimeStatus: 'Completed', output: 'a 1' }, { runtimeStatus: 'Completed', output: 'b' }]);
    expect(logger.errors).toEqual([]);
  });
  it('once given back, arm nothing more while the commit stays unanswered: no claim round or store read each second', async () => {
    const clock = new HandClock();
    const { store, logger, b, commit, runtime } = await slowCommitRuntime(clock);
    await runtime.client.startNew('CallsA');
    await within(commit.called, "A's step committing");
    await runtime.client.startNew('CallsB');
    await clock.fireUntil(b.running, 'B running', 10);
    // The claim round that took B ends, and the re-check armed while no slot was free (due now) runs.
    await settle();
    clock.fireDue();
    await settle();
    // B holds the one slot the commit gave back; the commit is still unanswered (up to its 30 s bound).
    const reads = { nextWakeTime: 0, claims: 0 };
    const nextWakeTime = store.nextWakeTime.bind(store);
    store.nextWakeTime = (...args) => (reads.nextWakeTime++, nextWakeTime(...args));
    const claimOrchestration = store.claimOrchestration.bind(store);
    store.claimOrchestration = (...args) => (reads.claims++, claimOrchestration(...args));
    const claimActivity = store.claimActivity.bind(store);
    store.claimActivity = (...args) => (reads.claims++, claimActivity(...args));
    const until = clock.ms + 10_000;
    for (;;) {
      await settle();
      const [earliest] = [...clock.timers].sort(([, x], [, y]) => x.at - y.at);
      if (!earliest || earliest[1].at > until) break;
      clock.ms = Math.max(clock.ms, earliest[1].at);
      clock.fire(earliest[0]);
    }
    // Before, the blocked claim round re-armed the give-back for the hold it had emptied: every second its deadline
    // gave back nothing and pumped, a claim round and a wake-time read for nothing until the commit answered.
    expect(reads).toEqual({ nextWakeTime: 0, claims: 0 });
    expect(await within(commit.release(), "A's commit answering")).toMatchObject({ status: 'fulfilled' });
    b.finish('b');
    expect(logger.errors).toEqual([]);
  });

  it('are still given back when the clock fails to arm the deadline that gives them back early: logged, then as the commit answers', async () => {
    /** A HandClock that refuses the next timer of `failDelay` ms once it is set (the give-back's, LEASED_SLOTS_HELD_MS). */
    class RefusingClock extends HandClock {
      failDelay: number | undefined;
      override setTimeout(callback: () => void, delayMs: number): ReturnType<HandClock['setTimeout']> {
        if (delayMs === this.failDelay) {
          this.failDelay = undefined;
          throw new Error('injected: no timer');
        }
        return super.setTimeout(callback, delayMs);
      }
    }
    const clock = new RefusingClock();
    const { logger, b, commit, runtime } = await slowCommitRuntime(clock);
    const a = await runtime.client.startNew('CallsA');
    await within(commit.called, "A's step committing");
    clock.failDelay = 1000;
    const reported = logger.nextError('gives back the activity slots');
    const bId = await runtime.client.startNew('CallsB');
    // Before, the failure was swallowed: nothing said why B waited for A's commit.
    await within(reported, 'the failed give-back reported');
    expect(b.runs()).toBe(0);
    // The slot comes back as the commit answers: A runs in it, then B. Nothing is left waiting.
    expect(await within(commit.release(), "A's commit answering")).toMatchObject({ status: 'fulfilled' });
    const ended = Promise.all([runtime.client.waitForCompletion(a, { timeoutMs: 600_000 }), runtime.client.waitForCompletion(bId, { timeoutMs: 600_000 })]);
    await clock.fireUntil(b.running, 'B running', 20);
    b.finish('b');
    await clock.fireUntil(ended, 'both ends', 20);
    expect(await ended).toMatchObject([{ runtimeStatus: 'Completed', output: 'a' }, { runtimeStatus: 'Completed', output: 'b' }]);
    expect(logger.errors).toEqual([expect.stringContaining('gives back the activity slots')]);
  });
});
