import { describe, expect, it } from 'vitest';
import { DurableError, MemoryStore, type Orchestrator } from '../src/index.js';
import type { WriteSet } from '../src/model/write-set.js';
import { VirtualClock } from '../src/testing/virtual-clock.js';
import { RecordingLogger } from './failing-store.js';
import { startedRuntimes } from './started-runtimes.js';
import { untilEnded } from './until-ended.js';

const { start } = startedRuntimes({ graceMs: 0 });

/** A store with no room for a write (as IndexedDB's StorageQuotaExceededError: a 507, nothing written). */
class NoRoomError extends DurableError {
  override readonly name = 'NoRoomError';
  readonly code = 'storage-quota-exceeded' as const;
  readonly status = 507 as const;
}

/** Most characters of JSON one commit may write on a {@link SmallStore}. */
const ROOM = 20_000;

/**
 * A store with room for commits of up to ROOM characters of JSON, and for none while `full` is set (a 507 then, as
 * an origin whose quota is used up).
 */
class SmallStore extends MemoryStore {
  full = false;
  /** Commits made under a lease (steps, results, failure records), and those refused for want of room. */
  leasedCommits = 0;
  refusals = 0;
  override commit(writeSet: WriteSet) {
    if (writeSet.lease) this.leasedCommits++;
    if (this.full || JSON.stringify(writeSet).length > ROOM) {
      this.refusals++;
      return Promise.reject(new NoRoomError('no room left for the write'));
    }
    return super.commit(writeSet);
  }
}

const big = (): string => 'x'.repeat(ROOM);

async function onSmallStore(orchestrators: Record<string, Orchestrator>, activities: Record<string, () => unknown> = {}) {
  const clock = new VirtualClock();
  const logger = new RecordingLogger();
  const store = new SmallStore();
  const runtime = await start({ store, clock, logger, orchestrationLeaseMs: 10_000, activityLeaseMs: 10_000, orchestrators, activities });
  await clock.advance(0);
  const ended = (id: string, max?: number) => untilEnded(runtime, clock, id, max);
  return { clock, logger, store, runtime, ended };
}

describe('a write the store has no room for (a 507: the quota is used up)', () => {
  it('fails the instance with the store\'s reason after three attempts of a step whose value never fits', async () => {
    let runs = 0;
    const { store, runtime, ended, clock } = await onSmallStore({ Big: function* () { runs++; return big(); } });
    const id = await runtime.client.startNew('Big');
    const status = await ended(id);
    expect(status).toMatchObject({ runtimeStatus: 'Failed', failureDetails: { errorType: 'NoRoomError', errorMessage: 'no room left for the write' } });
    expect(runs).toBe(3);
    expect(store.refusals).toBe(3);
    // Recorded: nothing is tried again.
    await clock.advance(120_000);
    expect(store.refusals).toBe(3);
  });

  it('commits the step when room was freed before the third attempt', async () => {
    let runs = 0;
    const { store, runtime, ended } = await onSmallStore({
      Small: function* () {
        runs++;
        // The first two commits find the store full; then room is freed.
        store.full = runs <= 2;
        return 'fits';
      },
    });
    const id = await runtime.client.startNew('Small');
    expect(await ended(id)).toMatchObject({ runtimeStatus: 'Completed', output: 'fits' });
    expect(runs).toBe(3);
  });

  it('tries the failure record once per lease while the store has room for nothing, and records it once room is freed', async () => {
    let runs = 0;
    const { store, runtime, ended, clock } = await onSmallStore({
      Big: function* () {
        // From its second attempt on, the store has no room for anything, the failure record included.
        if (++runs === 2) store.full = true;
        return big();
      },
    });
    const id = await runtime.client.startNew('Big');
    await ended(id, 30);
    expect(runs).toBeGreaterThanOrEqual(3);
    const before = store.leasedCommits;
    // 100 s: ten leases. Each claim sends the step once and its failure record at most twice (with and without the
    // messages' events): no loop.
    await clock.advance(100_000);
    // Not recorded (its first step never committed), and not given up either.
    expect((await runtime.client.getStatus(id))!.runtimeStatus).toBe('Pending');
    expect(store.leasedCommits - before).toBeLessThanOrEqual(3 * 11);
    expect(store.leasedCommits - before).toBeGreaterThan(0);
    store.full = false;
    expect(await ended(id)).toMatchObject({ runtimeStatus: 'Failed', failureDetails: { errorType: 'NoRoomError' } });
  });

  it('records an activity result that never fits as the activity\'s failure, which its orchestrator handles', async () => {
    let runs = 0;
    const { runtime, ended } = await onSmallStore(
      {
        Calls: function* (ctx) {
          try {
            return yield ctx.callActivity('Big');
          } catch (error) {
            return `caught: ${(error as Error).message}`;
          }
        },
      },
      { Big: () => { runs++; return big(); } },
    );
    const id = await runtime.client.startNew('Calls');
    const status = await ended(id);
    expect(status).toMatchObject({ runtimeStatus: 'Completed' });
    expect(status!.output).toMatch(/^caught: .*no room left for the write/);
    expect(status!.history!.filter((e) => e.type === 'TaskFailed')).toMatchObject([{ failureDetails: { errorType: 'NoRoomError' } }]);
    expect(runs).toBe(1);
  });
});
