import { describe, expect, it } from 'vitest';
import { silentLogger } from '../src/env/logger.js';
import { randomId } from '../src/env/new-id.js';
import { MemoryStore } from '../src/store/memory-store.js';
import type { Store } from '../src/store/store.js';
import { VirtualClock } from '../src/testing/virtual-clock.js';
import { Worker } from '../src/worker/worker.js';

function worker(store: Store, maxConcurrentOrchestrations = 1): Worker {
  return new Worker({
    store, orchestrators: new Map(), activities: new Map(), clock: new VirtualClock(), newId: randomId, logger: silentLogger,
    owner: 'w1', orchestrationLeaseMs: 30_000, activityLeaseMs: 300_000, maxConcurrentOrchestrations,
    maxConcurrentActivities: 1, cacheSize: 10, customStatusLimitBytes: 1000,
  });
}

describe('Worker.startHandOff', () => {
  it('leases a start to the worker only while it runs, reserving a step slot until the start is cancelled', async () => {
    const store = new MemoryStore();
    const w = worker(store);
    const now = new Date('2026-01-01T00:00:00.000Z');
    expect(w.startHandOff.lease(now)).toBeUndefined(); // not started: the start is claimed later, as any other
    w.start();
    const lease = w.startHandOff.lease(now);
    expect(lease).toMatchObject({ owner: 'w1', expiresAt: new Date(now.getTime() + 30_000) });
    // Its one slot is reserved: no second lease until the first start is given up.
    expect(w.startHandOff.lease(now)).toBeUndefined();
    w.startHandOff.cancelled();
    expect(w.startHandOff.lease(now)?.token).not.toBe(lease?.token);
    w.startHandOff.cancelled();
    await w.stop();
    expect(w.startHandOff.lease(now)).toBeUndefined();
    await store.close();
  });

  it('leases nothing on a store that cannot store leased starts', async () => {
    const store = new MemoryStore();
    const plain: Store = Object.assign(Object.create(store) as Store, { capabilities: { ...store.capabilities, fusedSteps: false } });
    const w = worker(plain);
    w.start();
    expect(w.startHandOff.lease(new Date())).toBeUndefined();
    await w.stop();
    await store.close();
  });
});
