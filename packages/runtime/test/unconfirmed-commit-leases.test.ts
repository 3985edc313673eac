import { describe, expect, it } from 'vitest';
import { createRuntime, DurableError, MemoryStore, silentLogger, type Orchestrator } from '../src/index.js';
import { isTerminalStatus } from '../src/model/instance-status.js';
import type { WriteSet } from '../src/model/write-set.js';
import type { CommitResult } from '../src/store/store.js';
import { VirtualClock } from '../src/testing/virtual-clock.js';
import { within } from './within.js';

const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

// A step's commit on a store with fused steps leases the activity tasks it schedules to the committing worker, which
// runs them right after. When the store applies the commit and its caller hears an error instead (a commit whose
// outcome the store could not confirm, a 503), the worker gives those slots back and runs nothing: the tasks must not
// sit leased to it, idle, until their lease (activityLeaseMs, 5 minutes by default) lapses.

/** As MongoStore's CommitOutcomeUnknownError: the commit may or may not have taken effect. */
class OutcomeUnknownError extends DurableError {
  override readonly name = 'OutcomeUnknownError';
  readonly code = 'commit-outcome-unknown';
  readonly status = 503;
}

const ACTIVITY_LEASE_MS = 300_000;

/** True when a commit leases activity tasks it schedules to the committing worker. */
const leasesTasks = (writeSet: WriteSet): boolean => writeSet.requests.some((r) => r.type === 'insertTask' && r.lease !== undefined);

/**
 * A MemoryStore whose first commit under a lease of `kind` that leases new tasks fails with a 503 whose outcome is
 * unknown, after it was applied (`applied`) or before; `done()` tells whether that failure was injected.
 */
function unconfirmingStore(kind: 'orchestration' | 'activityStep', applied: boolean): { store: MemoryStore; done: () => boolean } {
  let done = false;
  const store = new (class extends MemoryStore {
    override commit(writeSet: WriteSet) {
      if (done || writeSet.lease?.kind !== kind || !leasesTasks(writeSet)) return super.commit(writeSet);
      done = true;
      const error = new OutcomeUnknownError('the commit outcome is unknown');
      return applied ? super.commit(writeSet).then(() => Promise.reject(error)) : Promise.reject(error);
    }
  })();
  return { store, done: () => done };
}

const Two: Orchestrator = function* (ctx) {
  const a: string = yield ctx.callActivity('Echo', 'a');
  const b: string = yield ctx.callActivity('Echo', 'b');
  return [a, b];
};

describe('a step commit that leased new activity tasks and failed with an unknown outcome', () => {
  for (const kind of ['orchestration', 'activityStep'] as const) {
    for (const applied of [true, false]) {
      const what = kind === 'orchestration' ? 'a step\'s commit' : 'an activity result\'s commit with the step it wakes';
      it(`runs the tasks without waiting for their lease when ${what} ${applied ? 'was applied' : 'was not'}`, async () => {
        const clock = new VirtualClock();
        const ran = new Map<string, number>();
        const { store, done } = unconfirmingStore(kind, applied);
        const runtime = createRuntime({
          store, clock, logger: silentLogger, activityLeaseMs: ACTIVITY_LEASE_MS,
          orchestrators: { Two }, activities: { Echo: (value: string) => (ran.set(value, (ran.get(value) ?? 0) + 1), value) },
        });
        await runtime.start();
        const id = await runtime.client.startNew('Two');
        let seconds = 0;
        while (seconds < 600 && !isTerminalStatus((await runtime.client.getStatus(id))?.runtimeStatus ?? 'Pending')) {
          await clock.advance(1000);
          seconds++;
        }
        await runtime.stop({ graceMs: 0 });
        // The failure was injected: otherwise nothing below tests the path this case names.
        expect(done()).toBe(true);
        expect(await runtime.store.getInstance(id)).toMatchObject({ runtimeStatus: 'Completed', output: ['a', 'b'] });
        expect(Object.fromEntries(ran)).toEqual({ a: 1, b: 1 });
        // Within the orchestration lease (30 s) a step not applied is claimed again; nothing waits for the 300 s lease.
        expect(seconds).toBeLessThan(ACTIVITY_LEASE_MS / 1000 / 2);
      });
    }
  }
});

describe('a start handed to the runtime\'s worker whose commit failed with an unknown outcome', () => {
  for (const applied of [true, false]) {
    it(`${applied ? 'runs the instance it stored without waiting for the lease it stored it under' : 'leaves nothing behind when it stored nothing'}`, async () => {
      const clock = new VirtualClock();
      let done = false;
      const store = new (class extends MemoryStore {
        override commit(writeSet: WriteSet) {
          const [first] = writeSet.requests;
          if (done || first?.type !== 'createInstance' || !first.lease) return super.commit(writeSet);
          done = true;
          const error = new OutcomeUnknownError('the commit outcome is unknown');
          return applied ? super.commit(writeSet).then(() => Promise.reject(error)) : Promise.reject(error);
        }
      })();
      const runtime = createRuntime({ store, clock, logger: silentLogger, orchestrators: { One: function* () { return 'one'; } } });
      await runtime.start();
      await expect(runtime.client.startNew('One', { instanceId: 'one' })).rejects.toMatchObject({ code: 'commit-outcome-unknown' });
      expect(done).toBe(true);
      let seconds = 0;
      while (seconds < 120 && (await runtime.client.getStatus('one'))?.runtimeStatus !== 'Completed') {
        if (!applied && seconds === 5) break;
        await clock.advance(1000);
        seconds++;
      }
      await runtime.stop({ graceMs: 0 });
      if (applied) {
        expect(await store.getInstance('one')).toMatchObject({ runtimeStatus: 'Completed', output: 'one' });
        // Claimed at once, not once the start's lease (orchestrationLeaseMs, 30 s) has lapsed.
        expect(seconds).toBeLessThan(10);
      } else {
        expect(await store.getInstance('one')).toBeUndefined();
      }
    });
  }
});

describe('a start handed to the runtime\'s worker whose commit the client abandoned at its bound', () => {
  it('runs the instance at once when the commit lands after the client let its lease go, not once the lease lapsed', async () => {
    const clock = new VirtualClock();
    let land: (() => void) | undefined;
    const store = new (class extends MemoryStore {
      override commit(writeSet: WriteSet): Promise<CommitResult> {
        const [first] = writeSet.requests;
        if (land || first?.type !== 'createInstance' || !first.lease) return super.commit(writeSet);
        // Held until the test lets it land: a wedged transaction that goes through once the wedge clears.
        return new Promise((resolve, reject) => {
          land = () => void super.commit(writeSet).then(resolve, reject);
        });
      }
    })();
    const runtime = createRuntime({
      store, clock, logger: silentLogger, storeCallTimeoutMs: 1000, orchestrationLeaseMs: 30_000,
      orchestrators: { One: function* () { return 'one'; } },
    });
    await runtime.start();
    const starting = runtime.client.startNew('One', { instanceId: 'one' }).catch((error: unknown) => error);
    await clock.advance(1000);
    // The client gave up at its bound, and the worker's release of the lease found no instance yet.
    expect(await starting).toMatchObject({ code: 'unavailable' });
    expect(land).toBeDefined();
    land!();
    // On the code before, the instance stayed Pending, leased to the worker, until that lease lapsed 30 s later.
    const ended = runtime.client.waitForCompletion('one', { timeoutMs: 20_000 });
    await clock.advance(20_000); // 21 s after the start: its lease (30 s) has not lapsed
    expect(await ended).toMatchObject({ runtimeStatus: 'Completed', output: 'one' });
    await runtime.stop({ graceMs: 0 });
  });

  it('releases that lease when the commit lands while the worker stops, so another worker claims the instance at once', async () => {
    const clock = new VirtualClock();
    let land: (() => Promise<void>) | undefined;
    const store = new (class extends MemoryStore {
      override commit(writeSet: WriteSet): Promise<CommitResult> {
        const [first] = writeSet.requests;
        if (land || first?.type !== 'createInstance' || !first.lease || first.state.instanceId !== 'one') return super.commit(writeSet);
        return new Promise((resolve, reject) => {
          land = () => super.commit(writeSet).then(resolve, reject);
        });
      }
    })();
    // An activity of another instance runs until the test ends it: the stop waits for it meanwhile.
    let finish: (() => void) | undefined;
    let started = (): void => undefined;
    const running = new Promise<void>((resolve) => (started = resolve));
    const runtime = createRuntime({
      store, clock, logger: silentLogger, storeCallTimeoutMs: 1000, orchestrationLeaseMs: 30_000,
      orchestrators: { One: function* () { return 'one'; }, Busy: function* (ctx) { return yield ctx.callActivity('Wait'); } },
      activities: {
        Wait: () => new Promise<string>((resolve) => {
          finish = () => resolve('done');
          started();
        }),
      },
    });
    await runtime.start();
    await runtime.client.startNew('Busy', { instanceId: 'busy' });
    await within(running, 'the activity running');
    const starting = runtime.client.startNew('One', { instanceId: 'one' }).catch((error: unknown) => error);
    await clock.advance(1000);
    // The client gave up at its bound, and the worker's release of the lease found no instance yet.
    expect(await starting).toMatchObject({ code: 'unavailable' });
    const stopping = runtime.stop({ graceMs: 60_000 });
    await land!();
    await settle(); // the client hears of the commit and tells the worker (`landed`), which is stopping
    finish!();
    await within(stopping, 'the stop');
    // On the code before, the instance stayed leased to the stopped worker until that lease lapsed (30 s).
    const item = await store.claimOrchestration({ owner: 'w2', leaseMs: 1000, now: clock.now() });
    expect(item?.state.instanceId).toBe('one');
    await store.close();
  });
});
