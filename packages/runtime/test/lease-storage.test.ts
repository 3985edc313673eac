import { afterEach, describe, expect, it } from 'vitest';
import {
  createRuntime, MemoryStore, silentLogger, StoreClosedError, type LeaseStorage, type Orchestrator, type Runtime, type Store,
} from '../src/index.js';
import { VirtualClock } from '../src/testing/virtual-clock.js';
import { SETTLED } from '../src/testing/settled.js';

const runtimes: Runtime[] = [];
afterEach(async () => {
  await Promise.all(runtimes.splice(0).map((r) => r.stop({ graceMs: 0 })));
});

const callsSlow: Orchestrator = function* (ctx) {
  return yield ctx.callActivity('Slow');
};

/** A Web-Storage-like map, as sessionStorage is to a tab. */
function mapStorage(entries: Iterable<[string, string]> = []): LeaseStorage & { readonly map: Map<string, string> } {
  const map = new Map(entries);
  return { map, getItem: (key) => map.get(key) ?? null, setItem: (key, value) => void map.set(key, value) };
}

/**
 * The store as one page sees it: after `cut()` (the page is gone) nothing that page's runtime does reaches the store,
 * so it cannot release its leases on the way out.
 */
function severable(store: Store): { readonly store: Store; cut(): void } {
  let cut = false;
  const proxy = new Proxy(store, {
    get(target, key, receiver) {
      const value: unknown = Reflect.get(target, key, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        if (cut) return Promise.reject(new StoreClosedError('page gone'));
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { store: proxy, cut: () => { cut = true; } };
}

describe('createRuntime({ leaseStorage })', () => {
  it('lets the next life of a page release the leases its last life held and resume their work at once', async () => {
    const clock = new VirtualClock();
    const store = new MemoryStore();
    const page = severable(store);
    const storage = mapStorage();
    let started!: () => void;
    let finishLate!: (value: string) => void;
    const activityStarted = new Promise<void>((resolve) => (started = resolve));
    const first = createRuntime({
      store: page.store, clock, logger: silentLogger, leaseStorage: storage, activityLeaseMs: 60_000,
      orchestrators: { CallsSlow: callsSlow },
      activities: { Slow: () => new Promise<string>((resolve) => { finishLate = resolve; started(); }) },
    });
    await first.start();
    const id = await first.client.startNew('CallsSlow');
    await activityStarted;
    expect(JSON.parse(storage.map.get('durable-rx:held-leases') ?? '[]')).toMatchObject([{ kind: 'activity' }]);

    // The page reloads: its runtime never gets to release anything; sessionStorage survives.
    page.cut();
    const survived = mapStorage(storage.map);
    finishLate('too late'); // what the old page still does never reaches the store
    await first.stop({ graceMs: Infinity });
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
    expect(JSON.parse(survived.map.get('durable-rx:held-leases') ?? 'null')).toEqual([]);
  });

  it('ignores a recorded value it cannot read and still runs', async () => {
    const storage = mapStorage([['durable-rx:held-leases', '{not json']]);
    const runtime = createRuntime({
      logger: silentLogger, leaseStorage: storage, orchestrators: { CallsSlow: callsSlow }, activities: { Slow: () => 'ok' },
    });
    runtimes.push(runtime);
    await runtime.start();
    const id = await runtime.client.startNew('CallsSlow');
    expect(await runtime.client.waitForCompletion(id, SETTLED)).toMatchObject({ runtimeStatus: 'Completed', output: 'ok' });
  });
});
