import { filter, firstValueFrom, throwError, timeout } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import type { DurableClient } from '../src/client/durable-client.js';
import { isTerminalStatus, type InstanceStatus } from '../src/model/instance-status.js';
import type { Runtime, RuntimeOptions } from '../src/runtime/create-runtime.js';
import { MemoryStore } from '../src/store/memory-store.js';
import type { ActivityWorkItem, ClaimOptions } from '../src/store/store.js';
import { SETTLED } from '../src/testing/settled.js';
import { settle, VirtualClock } from '../src/testing/virtual-clock.js';
import { startedRuntimes } from './started-runtimes.js';

// The worker skips its activity claims after one that found nothing, until a wake-up (the store's workAvailable$ or
// its wake timer). These tests run every worker on a virtual clock that only the test moves: the worker's wake timer
// for work that is due already (delay 0) never fires by itself, so a task that gets run was claimed because of the
// wake-up under test, and a wake-up the worker lost leaves the task unrun (the wait for the instance then fails).

/** A MemoryStore whose activity claims can be watched, and held after they decided what to answer. */
class WatchedStore extends MemoryStore {
  /**
   * Runs when an activity claim has decided its answer (`found`) and before it returns it; a promise it returns holds
   * the answer back until it settles, as a slow IndexedDB transaction would.
   */
  beforeActivityAnswer: ((owner: string, found: boolean) => Promise<void> | void) | undefined;

  override async claimActivity(options: ClaimOptions): Promise<ActivityWorkItem | undefined> {
    const item = await super.claimActivity(options);
    await this.beforeActivityAnswer?.(options.owner, item !== undefined);
    return item;
  }

  /** Resolves when an activity claim of a worker whose id starts with `prefix` finds nothing; `hold` delays its answer. */
  emptyActivityClaim(prefix: string, hold?: Promise<void>): Promise<void> {
    return new Promise((resolve) => {
      this.beforeActivityAnswer = (owner, found) => {
        if (!owner.startsWith(prefix) || found) return undefined;
        this.beforeActivityAnswer = undefined;
        resolve();
        return hold;
      };
    });
  }
}

/** A promise with its resolve function. */
function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** Ids `${prefix}-1`, `${prefix}-2`...: the runtime's worker id is one of them, so a store can tell its claims apart. */
function ids(prefix: string): () => string {
  let n = 0;
  return () => `${prefix}-${++n}`;
}

/**
 * The terminal status of `id`, by notification; fails with a clear message when it is not reached within SETTLED
 * (real time: the virtual clock times nothing here).
 */
function settled(client: DurableClient, id: string): Promise<InstanceStatus | undefined> {
  return firstValueFrom(client.status$(id).pipe(
    filter((s) => s !== undefined && isTerminalStatus(s.runtimeStatus)),
    timeout({ first: SETTLED.timeoutMs, with: () => throwError(() => new Error(`instance ${id} did not finish: its activity was never run`)) }),
  ));
}

/** Calls activity Echo and returns its output. */
const callEcho: RuntimeOptions['orchestrators'][string] = function* (ctx) {
  return yield ctx.callActivity('Echo', 'x');
};

/**
 * Ends what a test left running: first the activities it blocked, then the runtimes, then the stores (Vitest runs a
 * file's `afterEach` hooks last registered first).
 */
const releases: (() => void)[] = [];
const stores: MemoryStore[] = [];
afterEach(async () => {
  await Promise.all(stores.splice(0).map((s) => s.close()));
});
const { start } = startedRuntimes();
afterEach(() => {
  for (const release of releases.splice(0)) release();
});

function watchedStore(): WatchedStore {
  const store = new WatchedStore();
  stores.push(store);
  return store;
}

/**
 * Worker B on `store`, whose one activity slot an activity that runs until the test ends takes: its steps schedule
 * their activities unleased (it has no slot to lease them to itself) and it claims none, so only another worker runs
 * them. Its Echo would say it ran there.
 */
async function saturatedWorker(store: MemoryStore, clock: VirtualClock): Promise<Runtime> {
  const running = deferred();
  const unblock = deferred();
  releases.push(() => unblock.resolve());
  const b = await start({
    store, clock, newId: ids('B'), maxConcurrentActivities: 1,
    orchestrators: {
      Hold: function* (ctx) {
        yield ctx.callActivity('Block');
      },
      Call: callEcho,
    },
    activities: {
      Block: () => {
        running.resolve();
        return unblock.promise;
      },
      Echo: (x: string) => `B ran ${x}`,
    },
  });
  await b.client.startNew('Hold');
  await running.promise;
  return b;
}

describe('a worker whose last activity claim found nothing', () => {
  it('runs a task another worker on the same store writes meanwhile (its work signal clears the skip)', async () => {
    const store = watchedStore();
    const clock = new VirtualClock();
    const b = await saturatedWorker(store, clock);
    const foundNothing = store.emptyActivityClaim('A-');
    await start({ store, clock, newId: ids('A'), orchestrators: { Call: callEcho }, activities: { Echo: (x: string) => `A ran ${x}` } });
    await foundNothing;
    await settle(); // A's claim round is over (after its event-loop turn, on a loaded machine): it skips activity claims now

    const id = await b.client.startNew('Call');
    expect(await settled(b.client, id)).toMatchObject({ runtimeStatus: 'Completed', output: 'A ran x' });
  });

  it('runs a task whose work signal arrived while that claim was still answering', async () => {
    const store = watchedStore();
    const clock = new VirtualClock();
    const b = await saturatedWorker(store, clock);
    const release = deferred();
    releases.push(() => release.resolve());
    // A's first activity claim finds nothing, and its answer is held back until the task below is written.
    const inFlight = store.emptyActivityClaim('A-', release.promise);
    await start({ store, clock, newId: ids('A'), orchestrators: { Call: callEcho }, activities: { Echo: (x: string) => `A ran ${x}` } });
    await inFlight;

    const id = await b.client.startNew('Call');
    // B's step scheduled Echo unleased (and signalled work) while A's empty answer was still on its way.
    await firstValueFrom(b.client.status$(id).pipe(filter((s) => s?.runtimeStatus === 'Running')));
    expect((await store.getHistory(id)).map((e) => e.type)).toContain('TaskScheduled');
    release.resolve();
    expect(await settled(b.client, id)).toMatchObject({ runtimeStatus: 'Completed', output: 'A ran x' });
  });

  it('runs a task whose lease a dead worker left to expire, woken by its timer for the expiry', async () => {
    const store = watchedStore();
    const leaseMs = 60_000;
    // Worker B claims Echo and then freezes: its Echo never returns, and its heartbeat never beats (its clock never
    // moves), so its lease on the task runs out.
    const frozen = new VirtualClock();
    const echoOnB = deferred();
    const thaw = deferred<string>();
    releases.push(() => thaw.resolve('B ran x, too late')); // its commit is then refused: the lease is lost
    const b = await start({
      store, clock: frozen, newId: ids('B'), activityLeaseMs: leaseMs,
      orchestrators: { Call: callEcho },
      activities: {
        Echo: () => {
          echoOnB.resolve();
          return thaw.promise;
        },
      },
    });
    const id = await b.client.startNew('Call');
    await echoOnB.promise;

    const clock = new VirtualClock();
    let ranOnA = 0;
    const foundNothing = store.emptyActivityClaim('A-');
    const a = await start({
      store, clock, newId: ids('A'), activityLeaseMs: leaseMs, orchestrators: { Call: callEcho },
      activities: {
        Echo: (x: string) => {
          ranOnA++;
          return `A ran ${x}`;
        },
      },
    });
    await foundNothing; // the task is leased: A's claim found nothing, and A skips activity claims now
    await clock.waitForTimer();
    // The deadline timer of A's store calls (settled at once on MemoryStore) stays armed until their deadline (30 s:
    // the default storeCallTimeoutMs) and then goes: nothing is left in flight.
    await clock.advance(30_000);
    // A's only timer is its wake-up for the next claimable work, which nextWakeTime gave as the lease's expiry.
    expect(clock.nextTimerAt).toEqual(new Date(frozen.now().getTime() + leaseMs));
    expect(await store.nextWakeTime(clock.now())).toEqual(clock.nextTimerAt);

    await clock.advance(leaseMs - 30_000 - 1);
    expect(ranOnA).toBe(0); // still B's
    // Waited for together: a worker that never claims the task could keep the virtual clock busy re-arming its timer.
    const [status] = await Promise.all([settled(a.client, id), clock.advance(1)]);
    expect(status).toMatchObject({ runtimeStatus: 'Completed', output: 'A ran x' });
    expect(ranOnA).toBe(1);
  });
});
