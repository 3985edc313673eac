import { describe, expect, it } from 'vitest';
import {
  createRuntime, MemoryStore, silentLogger, StoreClosedError, type LeaseStorage, type Orchestrator, type Store,
} from '../src/index.js';
import { VirtualClock } from '../src/testing/virtual-clock.js';
import { SETTLED } from '../src/testing/settled.js';
import { startedRuntimes } from './started-runtimes.js';
import { FailingStore } from './failing-store.js';
import { within } from './within.js';

const { runtimes, start } = startedRuntimes({ graceMs: 0 });

const callsSlow: Orchestrator = function* (ctx) {
  return yield ctx.callActivity('Slow');
};

const WORKER_IDS = 'durable-rx:worker-ids';

/** A Web-Storage-like map, as sessionStorage is to a tab. */
function mapStorage(entries: Iterable<[string, string]> = []): LeaseStorage & { readonly map: Map<string, string> } {
  const map = new Map(entries);
  return { map, getItem: (key) => map.get(key) ?? null, setItem: (key, value) => void map.set(key, value) };
}

/**
 * The store as one page sees it: after `cut()` (the page is gone) nothing that page's runtime does reaches the store,
 * and no answer reaches the page, so it cannot release its leases on the way out. `cutAfter` cuts the page right
 * after the store has executed the named call: the call took effect, its caller never hears of it.
 */
function severable(store: Store): { readonly store: Store; cut(): void; cutAfter(method: keyof Store): Promise<void> } {
  let cut = false;
  let trap: { method: keyof Store; hit: () => void } | undefined;
  const proxy = new Proxy(store, {
    get(target, key, receiver) {
      const value: unknown = Reflect.get(target, key, receiver);
      if (typeof value !== 'function') return value;
      return async (...args: unknown[]) => {
        if (cut) throw new StoreClosedError('page gone');
        const result: unknown = await (value as (...a: unknown[]) => unknown).apply(target, args);
        if (trap?.method === key && result !== undefined) {
          cut = true;
          trap.hit();
        }
        if (cut) return new Promise(() => {}); // the page is gone: the answer never arrives
        return result;
      };
    },
  });
  return {
    store: proxy,
    cut: () => { cut = true; },
    cutAfter: (method) => new Promise<void>((hit) => { trap = { method, hit }; }),
  };
}

describe('createRuntime({ leaseStorage })', () => {
  it('lets the next life of a page release the leases its last life held and resume their work at once', async () => {
    const clock = new VirtualClock();
    const store = new MemoryStore();
    const page = severable(store);
    const storage = mapStorage();
    let started!: () => void;
    const activityStarted = new Promise<void>((resolve) => (started = resolve));
    const first = createRuntime({
      store: page.store, clock, logger: silentLogger, leaseStorage: storage, activityLeaseMs: 60_000,
      orchestrators: { CallsSlow: callsSlow },
      activities: { Slow: () => new Promise<string>(() => started()) },
    });
    await first.start();
    const id = await first.client.startNew('CallsSlow');
    await activityStarted;

    // The page reloads: its runtime never gets to release anything; sessionStorage survives.
    page.cut();
    const survived = mapStorage(storage.map);
    void first.stop({ graceMs: 0 });
    expect(await store.claimActivity({ owner: 'probe', leaseMs: 1000, now: clock.now() })).toBeUndefined(); // still leased

    const second = createRuntime({
      store, clock, logger: silentLogger, leaseStorage: survived, activityLeaseMs: 60_000,
      orchestrators: { CallsSlow: callsSlow }, activities: { Slow: () => 'done' },
    });
    runtimes.push(second);
    const before = clock.now().getTime();
    await second.start();
    const done = await second.client.waitForCompletion(id, { timeoutMs: 120_000 });
    expect(done).toMatchObject({ runtimeStatus: 'Completed', output: 'done' });
    expect(clock.now().getTime()).toBe(before); // no lease had to expire
    await second.stop();
    expect(JSON.parse(survived.map.get(WORKER_IDS) ?? 'null')).toEqual([]); // a clean stop leaves nothing to take over
  });

  it('keeps its id when the stop gave up on a step commit that leases an activity, so its next life releases the task at once', async () => {
    const clock = new VirtualClock();
    const store = new FailingStore();
    const storage = mapStorage();
    // The step's commit that schedules Slow and leases it to this worker is applied, its answer held past the stop.
    const commit = store.hangNext('commit', 0, {
      applied: 'when called',
      where: (writeSet) => writeSet.lease?.kind === 'orchestration' && writeSet.requests.some((r) => r.type === 'insertTask' && r.lease !== undefined),
    });
    let ran = 0;
    const first = await start({ store, clock, leaseStorage: storage, orchestrators: { CallsSlow: callsSlow }, activities: { Slow: () => `first ${++ran}` } });
    const id = await first.client.startNew('CallsSlow');
    await within(commit.called, "the step's commit");
    const stopping = first.stop({ graceMs: 0 });
    await clock.advance(0); // the grace is over: what runs is abandoned
    await within(stopping, 'the stop');
    await commit.release(); // the answer comes to a worker that has stopped
    expect(ran).toBe(0);
    expect(JSON.parse(storage.map.get(WORKER_IDS) ?? '[]')).toHaveLength(1); // not clean: the task's lease is the life's

    const before = clock.now().getTime();
    const second = await start({ store, clock, leaseStorage: storage, orchestrators: { CallsSlow: callsSlow }, activities: { Slow: () => 'second' } });
    expect(await second.client.waitForCompletion(id, SETTLED)).toMatchObject({ runtimeStatus: 'Completed', output: 'second' });
    expect(clock.now().getTime()).toBe(before); // released by the next life, not lapsed
    expect(ran).toBe(0);
  });

  it('takes over a claim that the store committed but the page never heard of, because it unloaded meanwhile', async () => {
    const clock = new VirtualClock();
    const store = new MemoryStore();
    const page = severable(store);
    const storage = mapStorage();
    const first = createRuntime({
      store: page.store, clock, logger: silentLogger, leaseStorage: storage, orchestrationLeaseMs: 60_000,
      orchestrators: { CallsSlow: callsSlow }, activities: { Slow: () => 'never runs here' },
    });
    const id = await first.client.startNew('CallsSlow');
    const claimedUnheard = page.cutAfter('claimOrchestration');
    await first.start();
    await claimedUnheard;
    void first.stop({ graceMs: 0 });
    expect(await store.claimOrchestration({ owner: 'probe', leaseMs: 1000, now: clock.now() })).toBeUndefined(); // leased

    const second = createRuntime({
      store, clock, logger: silentLogger, leaseStorage: mapStorage(storage.map), orchestrationLeaseMs: 60_000,
      orchestrators: { CallsSlow: callsSlow }, activities: { Slow: () => 'done' },
    });
    runtimes.push(second);
    const before = clock.now().getTime();
    await second.start();
    expect(await second.client.waitForCompletion(id, { timeoutMs: 120_000 })).toMatchObject({ runtimeStatus: 'Completed', output: 'done' });
    expect(clock.now().getTime()).toBe(before);
  });

  it('ignores a recorded value it cannot read and still runs', async () => {
    const storage = mapStorage([[WORKER_IDS, '{not json']]);
    const runtime = await start({ leaseStorage: storage, orchestrators: { CallsSlow: callsSlow }, activities: { Slow: () => 'ok' } });
    const id = await runtime.client.startNew('CallsSlow');
    expect(await runtime.client.waitForCompletion(id, SETTLED)).toMatchObject({ runtimeStatus: 'Completed', output: 'ok' });
  });
});

describe('createRuntime({ workerId })', () => {
  it('releases the leases its id held in an earlier life before it claims, so a restarted process resumes at once', async () => {
    const clock = new VirtualClock();
    const store = new MemoryStore();
    const process1 = severable(store);
    let started!: () => void;
    const activityStarted = new Promise<void>((resolve) => (started = resolve));
    const first = createRuntime({
      store: process1.store, clock, logger: silentLogger, workerId: 'node-1', activityLeaseMs: 60_000,
      orchestrators: { CallsSlow: callsSlow }, activities: { Slow: () => new Promise<string>(() => started()) },
    });
    await first.start();
    const id = await first.client.startNew('CallsSlow');
    await activityStarted;
    process1.cut(); // the process dies
    void first.stop({ graceMs: 0 });

    const restarted = createRuntime({
      store, clock, logger: silentLogger, workerId: 'node-1', activityLeaseMs: 60_000,
      orchestrators: { CallsSlow: callsSlow }, activities: { Slow: () => 'done' },
    });
    runtimes.push(restarted);
    const before = clock.now().getTime();
    await restarted.start();
    expect(await restarted.client.waitForCompletion(id, { timeoutMs: 120_000 })).toMatchObject({ runtimeStatus: 'Completed', output: 'done' });
    expect(clock.now().getTime()).toBe(before);
  });
});
