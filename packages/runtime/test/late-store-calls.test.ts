import { describe, expect, it } from 'vitest';
import { createClient, createRuntime, DurableError, UnavailableError, type Activity, type ActivityContext, type Logger, type Orchestrator } from '../src/index.js';
import type { WriteSet } from '../src/model/write-set.js';
import { isTerminalStatus } from '../src/model/instance-status.js';
import { sampleOrchestrators } from '../src/testing/samples.js';
import { historyProblems } from '../src/testing/soak.js';
import { VirtualClock } from '../src/testing/virtual-clock.js';
import { FailingStore, type HangOptions, type Method } from './failing-store.js';
import { within } from './within.js';

// The soak's virtual clock jumps while real store I/O is in flight, so a store call can outlast its bound with no fault
// injected: the worker abandons it, and the store answers later (the soak counts these as `boundTimeouts`). These tests
// make that happen on purpose, with the clock and the call's answer moved by hand, for each kind of call that takes work
// or leases it, and check what the soak checks: every instance ends as it should, each activity ran exactly once, no
// history records a step twice, nothing is left behind. And what the late call took is released at once: where its
// lease outlives the bound, the run does not wait for that lease to lapse. (Where the bound is the lease itself, as
// for a claim with the soak's settings, the late lease has lapsed by then and only the rest is checked.)

/** The soak's leases. */
const ORCHESTRATION_LEASE_MS = 10_000;
const ACTIVITY_LEASE_MS = 20_000;

const HELLO = ['Hello Tokyo!', 'Hello Seattle!', 'Hello London!'];

/** A fan-out, an activity after it, then the hello sequence as a sub-orchestration. */
const Fan: Orchestrator = function* (ctx) {
  const first: string[] = yield ctx.Task.all(['a', 'b', 'c'].map((x) => ctx.callActivity('Echo', x)));
  const next: string = yield ctx.callActivity('Echo', 'd');
  const hello: string[] = yield ctx.callSubOrchestrator('E1_HelloSequence', undefined, 'fan~hello');
  return [...first, next, hello];
};

/** True when a commit leases activity tasks it schedules to the committing worker. */
const leasesTasks = (writeSet: WriteSet): boolean => writeSet.requests.some((r) => r.type === 'insertTask' && r.lease !== undefined);

/** A step's held commit (bounded by storeCallTimeoutMs, not by the step's lease). */
const STEP_COMMIT = "a step's commit that leases the activity it schedules";

/** The call held on a store without fused steps: every activity result is committed alone there. */
const RESULT_ALONE = "an activity result's commit alone, on a store without fused steps (as MongoStore's)";

type Applied = NonNullable<HangOptions<Method>['applied']>;

/** Each kind of store call that takes work or leases it, held by `store` (`ran`: the activity runs so far). */
const CALLS: Record<string, (store: FailingStore, ran: ReadonlyMap<string, number>, applied: Applied) => ReturnType<FailingStore['hangNext']>> = {
  'the claim that takes the first step': (store, _, applied) => store.hangNext('claimOrchestration', 0, { applied }),
  // One activity slot: the step's commit leases a, and b is left to a claim once a has run.
  'the claim that takes an activity': (store, ran, applied) => store.hangNext('claimActivity', 0, { applied, where: () => ran.has('fan Echo(a)') }),
  [STEP_COMMIT]: (store, _, applied) => store.hangNext('commit', 0, {
    applied, where: (writeSet) => writeSet.lease?.kind === 'orchestration' && leasesTasks(writeSet),
  }),
  "an activity result's commit with the step it wakes, leasing the activity that step schedules": (store, _, applied) => store.hangNext('commit', 0, {
    applied, where: (writeSet) => writeSet.lease?.kind === 'activityStep' && leasesTasks(writeSet),
  }),
  [RESULT_ALONE]: (store, _, applied) => store.hangNext('commit', 0, { applied, where: (writeSet) => writeSet.lease?.kind === 'activity' }),
};

/** A FailingStore that commits no step with an activity's result, as MongoStore, DexieStore and KeyvalStore. */
class UnfusedStore extends FailingStore {
  override readonly capabilities = { ...this.inner.capabilities, fusedSteps: false };
}

/**
 * Where the call is abandoned: with the soak's settings, a claim or a step's history read at its lease's expiry and a
 * step's or an activity's result commit at storeCallTimeoutMs (30 s); with storeCallTimeoutMs at 5 s, every one of
 * them then, before the leases end.
 */
const SOAK = 'with the soak\'s settings';
const BOUNDS = {
  [SOAK]: {},
  'with storeCallTimeoutMs before the leases end': { storeCallTimeoutMs: 5000 },
} as const;

describe('a store call abandoned at its bound that the store answers late', () => {
  for (const [boundName, bound] of Object.entries(BOUNDS)) {
    for (const [callName, hold] of Object.entries(CALLS)) {
      for (const applied of ['on release', 'when called'] as const) {
        it(`${callName}, abandoned at its bound ${boundName}, applied ${applied === 'on release' ? 'late' : 'at once'}: exactly once, nothing lost`, async () => {
          const clock = new VirtualClock();
          const store = callName === RESULT_ALONE ? new UnfusedStore() : new FailingStore();
          const ran = new Map<string, number>();
          const counted = (activity: (value: string) => string) => ((value: string, ctx: ActivityContext) => {
            const key = `${ctx.instanceId} ${ctx.name}(${value})`;
            ran.set(key, (ran.get(key) ?? 0) + 1);
            return activity(value);
          }) as Activity;
          const hang = hold(store, ran, applied);
          // The store answers the moment the worker has given up on the call, before any other timer fires: the late
          // answer meets the worker with nothing retaken yet (what the soak sees when its clock jumps over real I/O).
          let answered: { readonly atMs: number; readonly outcome: Promise<PromiseSettledResult<unknown>> } | undefined;
          const abandoned: string[] = [];
          const errors: string[] = [];
          const warnings: string[] = [];
          const said: string[] = [];
          const report = (level: 'warn' | 'error') => (message: string, details?: unknown): void => {
            said.push(message);
            if (details instanceof UnavailableError) {
              abandoned.push(details.message);
              answered ??= { atMs: clock.now().getTime(), outcome: hang.release() };
            } else (level === 'error' ? errors : warnings).push(`${message}: ${String(details)}`);
          };
          const logger: Logger = { warn: report('warn'), error: report('error') };
          const runtime = createRuntime({
            store, clock, logger, ...bound,
            orchestrationLeaseMs: ORCHESTRATION_LEASE_MS, activityLeaseMs: ACTIVITY_LEASE_MS, maxConcurrentActivities: 1,
            orchestrators: { ...sampleOrchestrators, Fan },
            activities: { Echo: counted((value) => value), E1_SayHello: counted((name) => `Hello ${name}!`) },
          });
          // Started by a client of its own, so the runtime's first step is claimed (not handed over by its start).
          await createClient({ store, clock }).startNew('Fan', { instanceId: 'fan' });
          await runtime.start();
          const ids = ['fan', 'fan~hello'];
          const ended = async (): Promise<boolean> => {
            for (const id of ids) if (!isTerminalStatus((await store.inner.getInstance(id))?.runtimeStatus ?? 'Pending')) return false;
            return true;
          };
          // Time moves a second at a time, each due timer fired in order (the soak's clock), for at most 2 minutes, until
          // the run has ended and the held call was abandoned and answered (a step's commit that holds the activity slot
          // it reserved gives it back after a second: the run may end before that commit's bound).
          for (let second = 0; second < 120 && !(answered && (await ended())); second++) await clock.advance(1000);
          await runtime.stop({ graceMs: 0 });

          expect(abandoned).toHaveLength(1); // the held call, abandoned at its bound; nothing else
          const outcome = await within(answered!.outcome, 'the late answer');
          if (callName === STEP_COMMIT && boundName === SOAK && applied === 'on release') {
            // A step's commit is bounded by storeCallTimeoutMs (30 s), past its lease (10 s): the worker took the
            // instance again meanwhile and ran the step, so the late commit is refused by the store's lease check.
            expect(outcome).toMatchObject({ status: 'rejected', reason: { name: 'LeaseLostError' } });
          } else {
            // The late call did take effect (a claim took work, a commit went through): its lease was this worker's.
            expect(outcome).toMatchObject({ status: 'fulfilled', value: expect.anything() });
          }
          expect(await store.inner.getInstance('fan')).toMatchObject({ runtimeStatus: 'Completed', output: ['a', 'b', 'c', 'd', HELLO] });
          expect(await store.inner.getInstance('fan~hello')).toMatchObject({ runtimeStatus: 'Completed', output: HELLO });
          expect(Object.fromEntries(ran)).toEqual({
            'fan Echo(a)': 1, 'fan Echo(b)': 1, 'fan Echo(c)': 1, 'fan Echo(d)': 1,
            'fan~hello E1_SayHello(Tokyo)': 1, 'fan~hello E1_SayHello(Seattle)': 1, 'fan~hello E1_SayHello(London)': 1,
          });
          for (const id of ids) expect(historyProblems(await store.inner.getHistory(id)), id).toEqual([]);
          expect(await store.inner.nextWakeTime(clock.now())).toBeUndefined();
          expect(errors).toEqual([]);
          // Nor was a lease reported lost: where the retried commit was refused, the late answer had shown that the
          // abandoned commit took the result (a 'result discarded' would send an operator after a loss that did not happen).
          expect(warnings).toEqual([]);
          expect(runtime.metrics).toMatchObject({ leasesLost: 0, activitiesRun: 7 });
          // A result given up after its commit was abandoned is not said to be lost outright: that commit went through.
          expect(said.filter((message) => /(dropped|discarded)$/.test(message))).toEqual([]);
          // What the late call leased was released as soon as it answered: nothing waited for a lease to lapse.
          const endedAt = (await store.inner.getInstance('fan'))!.lastUpdatedTime.getTime();
          expect(endedAt - answered!.atMs).toBeLessThan(1000);
        });
      }
    }
  }
});

describe('an activity result whose fused commit was abandoned, refused when sent again before the late answer came', () => {
  it('is reported as discarded unless the abandoned commit applied, and counted as run once that answer shows it did', async () => {
    const clock = new VirtualClock();
    const store = new FailingStore();
    // Applied at once; its answer held until the worker has tried the result again alone and been refused (the task
    // went with the fused commit), so the worker cannot yet tell that refusal from a lease another worker took.
    const hang = store.hangNext('commit', 0, {
      applied: 'when called', where: (writeSet) => writeSet.lease?.kind === 'activityStep' && leasesTasks(writeSet),
    });
    const warnings: string[] = [];
    let refused!: () => void;
    const refusal = new Promise<void>((resolve) => (refused = resolve));
    const logger: Logger = {
      warn: (message) => {
        warnings.push(message);
        if (message.includes(' lost;')) refused();
      },
      error: () => undefined,
    };
    const runtime = createRuntime({
      store, clock, logger, storeCallTimeoutMs: 5000,
      orchestrationLeaseMs: ORCHESTRATION_LEASE_MS, activityLeaseMs: ACTIVITY_LEASE_MS, maxConcurrentActivities: 1,
      orchestrators: { ...sampleOrchestrators, Fan },
      activities: { Echo: (value: string) => value, E1_SayHello: (name: string) => `Hello ${name}!` },
    });
    await createClient({ store, clock }).startNew('Fan', { instanceId: 'fan' });
    await runtime.start();
    const ended = async (): Promise<boolean> => isTerminalStatus((await store.inner.getInstance('fan~hello'))?.runtimeStatus ?? 'Pending')
      && isTerminalStatus((await store.inner.getInstance('fan'))?.runtimeStatus ?? 'Pending');
    let released: Promise<PromiseSettledResult<unknown>> | undefined;
    void refusal.then(() => (released = hang.release()));
    for (let second = 0; second < 120 && !(await ended()); second++) await clock.advance(1000);
    await runtime.stop({ graceMs: 0 });

    expect(await within(released!, 'the late answer')).toMatchObject({ status: 'fulfilled' });
    expect(warnings).toEqual(['lease on activity Echo of fan lost; result discarded unless an earlier commit applied']);
    expect(await store.inner.getInstance('fan')).toMatchObject({ runtimeStatus: 'Completed', output: ['a', 'b', 'c', 'd', HELLO] });
    // The late answer showed the result went in: the activity counts as run, whatever the refusal made of it.
    expect(runtime.metrics.activitiesRun).toBe(7);
  });
});

/** A commit the store applied but could not confirm: as MongoStore's CommitOutcomeUnknownError, a 503. */
class OutcomeUnknownError extends DurableError {
  override readonly name = 'OutcomeUnknownError';
  readonly code = 'commit-outcome-unknown';
  readonly status = 503;
}

describe('an activity result whose commit failed with a 503 after the store applied it, refused when sent again', () => {
  for (const fused of [false, true]) {
    it(`is reported as discarded unless the earlier commit applied (${fused ? 'its commit with the step it wakes' : 'committed alone, as on MongoStore'})`, async () => {
      const clock = new VirtualClock();
      // The first commit carrying an activity's result goes through, and its caller hears a 503 instead of the answer.
      let unconfirmed = false;
      class UnconfirmedStore extends FailingStore {
        override readonly capabilities = { ...this.inner.capabilities, fusedSteps: fused };
        override commit(writeSet: WriteSet) {
          const kind = writeSet.lease?.kind;
          if (unconfirmed || (kind !== 'activity' && kind !== 'activityStep')) return super.commit(writeSet);
          unconfirmed = true;
          return this.inner.commit(writeSet).then(() => Promise.reject(new OutcomeUnknownError('commit outcome unknown')));
        }
      }
      const store = new UnconfirmedStore();
      const warnings: string[] = [];
      const logger: Logger = { warn: (message) => warnings.push(message), error: () => undefined };
      const ran = new Map<string, number>();
      const runtime = createRuntime({
        store, clock, logger, orchestrationLeaseMs: ORCHESTRATION_LEASE_MS, activityLeaseMs: ACTIVITY_LEASE_MS,
        orchestrators: { One: function* (ctx) { return yield ctx.callActivity('Echo', 'a'); } },
        activities: { Echo: (value: string) => (ran.set(value, (ran.get(value) ?? 0) + 1), value) },
      });
      await createClient({ store, clock }).startNew('One', { instanceId: 'one' });
      await runtime.start();
      for (let second = 0; second < 120 && !isTerminalStatus((await store.inner.getInstance('one'))?.runtimeStatus ?? 'Pending'); second++) {
        await clock.advance(1000);
      }
      await runtime.stop({ graceMs: 0 });

      expect(await store.inner.getInstance('one')).toMatchObject({ runtimeStatus: 'Completed', output: 'a' });
      expect(Object.fromEntries(ran)).toEqual({ a: 1 });
      // The refusal of the result sent again is not a loss the worker can vouch for: the 503'd commit took the result.
      expect(warnings.filter((message) => message.includes(' lost;'))).toEqual(['lease on activity Echo of one lost; result discarded unless an earlier commit applied']);
    });
  }
});

/** A store that could not run the commit at all: as IndexedDB's DatabaseBlockedError (another tab blocks an upgrade), a 503. */
class BlockedError extends DurableError {
  override readonly name = 'BlockedError';
  readonly code = 'database-blocked';
  readonly status = 503;
}

describe('an activity result whose every commit fails with a 503 until its lease expires', () => {
  const cases = [
    { failure: 'the store could not run it (as DatabaseBlockedError)', error: () => new BlockedError('blocked'), unless: '' },
    { failure: 'its outcome is unknown (as CommitOutcomeUnknownError)', error: () => new OutcomeUnknownError('outcome unknown'), unless: ' unless an earlier commit applied' },
  ];
  for (const fused of [false, true]) {
    for (const { failure, error, unless } of cases) {
      it(`is reported dropped${unless ? ' unless an earlier commit applied' : ', unqualified,'} when ${failure} (${fused ? 'with the step it wakes' : 'committed alone'})`, async () => {
        const clock = new VirtualClock();
        // Every commit carrying an activity's result fails, and writes nothing; so does every renewal of its lease
        // (renewed while the result is retried), which therefore expires.
        class RefusingStore extends FailingStore {
          override readonly capabilities = { ...this.inner.capabilities, fusedSteps: fused };
          override commit(writeSet: WriteSet) {
            const kind = writeSet.lease?.kind;
            return kind === 'activity' || kind === 'activityStep' ? Promise.reject(error()) : super.commit(writeSet);
          }
          override renewActivityLease(): Promise<void> {
            return Promise.reject(error());
          }
        }
        const store = new RefusingStore();
        const dropped: string[] = [];
        const logger: Logger = { warn: () => undefined, error: (message) => void (message.includes('dropped') && dropped.push(message)) };
        const runtime = createRuntime({
          store, clock, logger, orchestrationLeaseMs: ORCHESTRATION_LEASE_MS, activityLeaseMs: ACTIVITY_LEASE_MS,
          orchestrators: { One: function* (ctx) { return yield ctx.callActivity('Echo', 'a'); } },
          activities: { Echo: (value: string) => value },
        });
        await createClient({ store, clock }).startNew('One', { instanceId: 'one' });
        await runtime.start();
        for (let second = 0; second < 120 && dropped.length === 0; second++) await clock.advance(1000);
        // The task runs again meanwhile, and its result is waiting to be retried: the stop's grace runs on the clock.
        let stopped = false;
        const stopping = runtime.stop({ graceMs: 0 }).then(() => void (stopped = true));
        for (let second = 0; second < 10 && !stopped; second++) await clock.advance(1000);
        await stopping;

        expect(dropped[0]).toBe(`committing the result of activity Echo of one failed and its lease has expired; dropped${unless}`);
      });
    }
  }
});
