import { filter, firstValueFrom } from 'rxjs';
import { describe, expect, it, vi } from 'vitest';
import { createRuntime, LeaseLostError, MemoryStore, PayloadTooLargeError, silentLogger, UnavailableError, type Activity, type Orchestrator } from '../src/index.js';
import type { WriteSet } from '../src/store-kit/index.js';
import { SETTLED } from '../src/testing/settled.js';
import { settle } from '../src/testing/virtual-clock.js';
import { RESULT_RENEWAL_LEASES } from '../src/worker/worker.js';
import { HandClock, runtimesStoppedAfterEach } from './hand-clock.js';
import { heldActivity } from './held-activity.js';
import { within } from './within.js';

const LEASE_MS = 2_000;

/** A MemoryStore that refuses every activity result (alone or with its step) while `failing`, as unavailable. */
class ResultRefusingStore extends MemoryStore {
  failing = true;
  refusals = 0;
  renewals = 0;

  override async commit(writeSet: WriteSet) {
    const kind = writeSet.lease?.kind;
    if (this.failing && (kind === 'activity' || kind === 'activityStep')) {
      this.refusals++;
      throw new UnavailableError('injected: activity results cannot be written now');
    }
    return super.commit(writeSet);
  }

  override async renewActivityLease(...args: Parameters<MemoryStore['renewActivityLease']>) {
    this.renewals++;
    return super.renewActivityLease(...args);
  }
}

/** Fires the worker's timers in order, moving the clock to each, until `ms` of clock time have passed. */
async function runFor(clock: HandClock, ms: number): Promise<void> {
  const endMs = clock.ms + ms;
  for (;;) {
    await within(clock.timerDueBy(Infinity), 'a timer of the worker');
    await settle();
    await settle();
    const earliest = [...clock.timers].sort(([, a], [, b]) => a.at - b.at)[0];
    if (!earliest || earliest[1].at > endMs) break;
    clock.ms = Math.max(clock.ms, earliest[1].at);
    clock.fire(earliest[0]);
  }
  clock.ms = endMs;
}

const runtimes = runtimesStoppedAfterEach();

/**
 * Starts a runtime on `store` (on a hand-moved clock) whose orchestrator calls one activity, Send, that returns
 * `returns`, and starts an instance; resolves once `until()` holds, before the clock moves. `sent.runs` counts the
 * activity's runs.
 */
async function started(store: MemoryStore, returns: 'a value' | 'a promise', until: () => boolean, storeCallTimeoutMs?: number) {
  const clock = new HandClock();
  const sent = { runs: 0 };
  const send: Activity = returns === 'a value' ? () => `sent ${++sent.runs}` : async () => `sent ${++sent.runs}`;
  const orchestrator: Orchestrator = function* (ctx) {
    return yield ctx.callActivity('Send', 'to@example.com');
  };
  const runtime = createRuntime({
    store, clock, logger: silentLogger, activityLeaseMs: LEASE_MS, storeCallTimeoutMs, orchestrators: { orchestrator }, activities: { Send: send },
  });
  runtimes.push({ runtime, clock });
  await runtime.start();
  const id = await runtime.client.startNew('orchestrator');
  await vi.waitFor(() => {
    clock.fireDue(); // what is due now (the clock does not move)
    expect(until()).toBe(true);
  }, { timeout: SETTLED.timeoutMs });
  return { clock, runtime, id, sent };
}

/** {@link started}, until the activity ran and the store refused its result. */
function refusedOnce(store: ResultRefusingStore, returns: 'a value' | 'a promise') {
  return started(store, returns, () => store.refusals > 0);
}

describe('an activity whose result the store keeps refusing', () => {
  for (const returns of ['a value', 'a promise'] as const) {
    it(`runs once while its result is retried over many leases, and its result lands when the store takes it (${returns})`, async () => {
      const store = new ResultRefusingStore();
      const { clock, runtime, id, sent } = await refusedOnce(store, returns);
      await runFor(clock, 10 * LEASE_MS);
      expect(sent.runs).toBe(1);
      expect(store.renewals).toBeGreaterThan(0);
      store.failing = false;
      const completed = firstValueFrom(runtime.client.status$(id).pipe(filter((status) => status?.runtimeStatus === 'Completed')));
      await clock.fireUntil(completed, 'the instance completing', 1_000);
      expect(await completed).toMatchObject({ output: 'sent 1' });
      expect(sent.runs).toBe(1);
    });
  }
});

/** A ResultRefusingStore whose renewals find the task's lease gone once `lost` is set (another worker took it over). */
class LeaseLosingStore extends ResultRefusingStore {
  lost = false;
  /** The results refused when a renewal first found the lease gone. */
  refusalsAtLoss: number | undefined;

  override async renewActivityLease(...args: Parameters<MemoryStore['renewActivityLease']>) {
    if (!this.lost) return super.renewActivityLease(...args);
    this.refusalsAtLoss ??= this.refusals;
    throw new LeaseLostError('injected: the task was taken over');
  }
}

describe('an activity whose result the store keeps refusing, when a renewal finds its lease gone', () => {
  for (const returns of ['a value', 'a promise'] as const) {
    it(`sends its result no more (${returns})`, async () => {
      const store = new LeaseLosingStore();
      const { clock, sent } = await refusedOnce(store, returns);
      store.lost = true;
      // Up to just before the lease's expiry in the store (no claim runs the activity again meanwhile).
      await runFor(clock, LEASE_MS - 100);
      expect(store.refusalsAtLoss).toBeDefined();
      expect(store.refusals).toBe(store.refusalsAtLoss);
      expect(sent.runs).toBe(1);
    });
  }
});

/** A MemoryStore whose first activity result commit (alone or with its step) never settles and writes nothing. */
class FirstResultHangingStore extends MemoryStore {
  hung = 0;

  override commit(writeSet: WriteSet) {
    const kind = writeSet.lease?.kind;
    if (this.hung === 0 && (kind === 'activity' || kind === 'activityStep')) {
      this.hung++;
      return new Promise<never>(() => undefined);
    }
    return super.commit(writeSet);
  }
}

describe('an activity whose first result commit hangs for longer than its lease', () => {
  for (const returns of ['a value', 'a promise'] as const) {
    it(`keeps its lease renewed, runs once and its result lands on the next attempt (${returns})`, async () => {
      const store = new FirstResultHangingStore();
      // The commit is abandoned at 1.5 leases: the lease would have expired before.
      const { clock, runtime, id, sent } = await started(store, returns, () => store.hung > 0, 1.5 * LEASE_MS);
      const completed = firstValueFrom(runtime.client.status$(id).pipe(filter((status) => status?.runtimeStatus === 'Completed')));
      await clock.fireUntil(completed, 'the instance completing', 1_000);
      expect(await completed).toMatchObject({ output: 'sent 1' });
      expect(sent.runs).toBe(1);
    });
  }
});

/** A ResultRefusingStore that, once `silent` is set, applies the renewals of activity leases but never answers them. */
class SilentRenewalsStore extends ResultRefusingStore {
  silent = false;

  override async renewActivityLease(...args: Parameters<MemoryStore['renewActivityLease']>) {
    if (!this.silent) return super.renewActivityLease(...args);
    super.renewActivityLease(...args).catch(() => undefined);
    return new Promise<never>(() => undefined);
  }
}

describe('an activity whose result is given up after its lease\'s renewals went unanswered but were applied', () => {
  for (const returns of ['a value', 'a promise'] as const) {
    it(`runs again as the lease the worker knew of expires, not once the renewals it never heard of lapse (${returns})`, async () => {
      const store = new SilentRenewalsStore();
      const { clock, sent } = await refusedOnce(store, returns);
      store.silent = true;
      // The lease the worker knows of expires at LEASE_MS (its claim's); the renewals applied behind its back hold the
      // task until about 2 * LEASE_MS.
      await runFor(clock, LEASE_MS + LEASE_MS / 2);
      expect(sent.runs).toBe(2);
    });
  }
});

/** A MemoryStore that refuses every activity result for good (too large), and the failure that replaces it. */
class ResultTooLargeStore extends MemoryStore {
  refusals = 0;

  override async commit(writeSet: WriteSet) {
    const kind = writeSet.lease?.kind;
    if (kind === 'activity' || kind === 'activityStep') {
      this.refusals++;
      throw new PayloadTooLargeError('injected: the result is too large');
    }
    return super.commit(writeSet);
  }
}

describe('an activity whose result and failure the store refuses for good, while its lease lasts', () => {
  it('has its lease released by a stop, so another worker runs it at once', async () => {
    const store = new ResultTooLargeStore();
    const { clock, runtime } = await started(store, 'a value', () => store.refusals >= 2);
    // Given up with its lease left to lapse: no other worker may claim it yet.
    expect(await store.claimActivity({ owner: 'other', leaseMs: LEASE_MS, now: clock.now() })).toBeUndefined();
    const stopping = runtime.stop({ graceMs: 0 });
    clock.fireDue();
    await within(stopping, 'the stop');
    expect((await store.claimActivity({ owner: 'other', leaseMs: LEASE_MS, now: clock.now() }))?.task.name).toBe('Send');
  });
});

/**
 * A ResultTooLargeStore that, once `silent` is set, applies the renewals of activity leases but never answers them, and
 * records the token of every renewal and release of an activity lease.
 */
class TooLargeSilentRenewalsStore extends ResultTooLargeStore {
  silent = false;
  readonly renewed: string[] = [];
  readonly released: string[] = [];

  override async renewActivityLease(...args: Parameters<MemoryStore['renewActivityLease']>) {
    this.renewed.push(args[1]);
    if (!this.silent) return super.renewActivityLease(...args);
    super.renewActivityLease(...args).catch(() => undefined);
    return new Promise<never>(() => undefined);
  }

  override async abandonActivity(...args: Parameters<MemoryStore['abandonActivity']>) {
    this.released.push(args[1]);
    return super.abandonActivity(...args);
  }
}

describe('an activity given up while its lease lasts, after a renewal the store applied but never answered', () => {
  /**
   * The activity runs on a held promise, so its lease is renewed; the renewal at a third of the lease is applied but
   * never answered (the store holds the task until T0 + 4/3 leases, the worker knows of T0 + 1 lease). It returns at
   * half its lease, and the store refuses the result and its failure for good: the worker gives the task up then,
   * its lease still live for half a lease more.
   */
  async function givenUpMidLease() {
    const store = new TooLargeSilentRenewalsStore();
    store.silent = true;
    const clock = new HandClock();
    const { activity: Send, running, finish, runs } = heldActivity();
    const orchestrator: Orchestrator = function* (ctx) {
      return yield ctx.callActivity('Send', 'to@example.com');
    };
    const runtime = createRuntime({ store, clock, logger: silentLogger, activityLeaseMs: LEASE_MS, orchestrators: { orchestrator }, activities: { Send } });
    runtimes.push({ runtime, clock });
    await runtime.start();
    await runtime.client.startNew('orchestrator');
    await within(running, 'the activity running');
    await runFor(clock, LEASE_MS / 2);
    expect(store.renewed).toHaveLength(1);
    finish('too large');
    await vi.waitFor(() => expect(store.refusals).toBeGreaterThanOrEqual(2), { timeout: SETTLED.timeoutMs });
    await settle();
    return { store, clock, runtime, runs };
  }

  it('has its lease released with its token as it expires, not before, so it runs again then', async () => {
    const { store, clock, runs } = await givenUpMidLease();
    // Up to just before the expiry the worker knows of: released by no one, claimed by no one.
    await runFor(clock, LEASE_MS / 2 - 1);
    expect(store.released).toEqual([]);
    expect(runs()).toBe(1);
    // At it, the release (with the token its renewal used) ends the renewal the worker never heard of.
    await runFor(clock, 1);
    expect(store.released).toEqual([store.renewed[0]]);
    expect(runs()).toBe(2);
  });

  it('has its lease released once, at once, by a stop before it expires, and leaves no timer behind', async () => {
    const { store, clock, runtime } = await givenUpMidLease();
    const stopping = runtime.stop({ graceMs: 0 });
    await within(stopping, 'the stop');
    expect(store.released).toEqual([store.renewed[0]]);
    expect(clock.timers.size).toBe(0);
    expect((await store.claimActivity({ owner: 'other', leaseMs: LEASE_MS, now: clock.now() }))?.task.name).toBe('Send');
  });
});

describe('an activity whose result the store fails every time while it renews the lease', () => {
  for (const returns of ['a value', 'a promise'] as const) {
    it(`runs again once its result was retried for RESULT_RENEWAL_LEASES leases and its lease lapsed (${returns})`, async () => {
      const store = new ResultRefusingStore();
      const { clock, sent } = await refusedOnce(store, returns);
      await runFor(clock, (RESULT_RENEWAL_LEASES - 1) * LEASE_MS);
      expect(sent.runs).toBe(1);
      // The renewals end at the first failed attempt past the bound (a lease later at most); the attempts go on while
      // the lease lasts (one lease more), then the lease is released and the task claimed again.
      await runFor(clock, 3 * LEASE_MS);
      expect(sent.runs).toBe(2);
    });
  }

  it('lets a stop that waits for all its work end', async () => {
    const store = new ResultRefusingStore();
    const { clock, runtime, sent } = await refusedOnce(store, 'a value');
    const stopping = runtime.stop({ graceMs: Infinity });
    expect(await clock.fireUntil(stopping, 'the stop', 1_000)).toBeDefined();
    expect(sent.runs).toBe(1);
  });
});

describe('an activity that returns a value late in its lease, whose first result commit hangs', () => {
  it('has its lease renewed before it expires, so it runs once', async () => {
    const store = new FirstResultHangingStore();
    const clock = new HandClock();
    const sent = { runs: 0 };
    // Returns a value (no promise) having taken 80% of its lease: less than a renewal's third of it is left.
    const send: Activity = () => {
      clock.ms += 0.8 * LEASE_MS;
      return `sent ${++sent.runs}`;
    };
    const orchestrator: Orchestrator = function* (ctx) {
      return yield ctx.callActivity('Send', 'to@example.com');
    };
    const runtime = createRuntime({
      store, clock, logger: silentLogger, activityLeaseMs: LEASE_MS, storeCallTimeoutMs: 1.5 * LEASE_MS, orchestrators: { orchestrator }, activities: { Send: send },
    });
    runtimes.push({ runtime, clock });
    await runtime.start();
    const id = await runtime.client.startNew('orchestrator');
    const completed = firstValueFrom(runtime.client.status$(id).pipe(filter((status) => status?.runtimeStatus === 'Completed')));
    await clock.fireUntil(completed, 'the instance completing', 1_000);
    expect(await completed).toMatchObject({ output: 'sent 1' });
    expect(sent.runs).toBe(1);
  });
});
