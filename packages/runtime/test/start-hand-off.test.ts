import { firstValueFrom } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { silentLogger, type Logger } from '../src/env/logger.js';
import { randomId } from '../src/env/new-id.js';
import { toInstanceStatus } from '../src/model/instance-status.js';
import type { WriteSet } from '../src/model/write-set.js';
import type { Runtime, RuntimeOptions } from '../src/runtime/create-runtime.js';
import { MemoryStore } from '../src/store/memory-store.js';
import type { Store } from '../src/store/store.js';
import { echo, sampleActivities, sampleOrchestrators } from '../src/testing/samples.js';
import { SETTLED } from '../src/testing/settled.js';
import { VirtualClock } from '../src/testing/virtual-clock.js';
import { Worker } from '../src/worker/worker.js';
import { startedRuntimes } from './started-runtimes.js';

function worker(store: Store, maxConcurrentOrchestrations = 1): Worker {
  return new Worker({
    store, orchestrators: new Map(), activities: new Map(), clock: new VirtualClock(), newId: randomId, logger: silentLogger,
    owner: 'w1', orchestrationLeaseMs: 30_000, activityLeaseMs: 300_000, maxConcurrentOrchestrations,
    maxConcurrentActivities: 1, cacheSize: 10, customStatusLimitBytes: 1000, storeCallTimeoutMs: 30_000,
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

const { start } = startedRuntimes();

function startRuntime(options: Partial<RuntimeOptions> = {}): Promise<Runtime> {
  return start({ orchestrators: sampleOrchestrators, activities: sampleActivities, ...options });
}

/** `inner` with its first leased start held open until `release` is called; `reached` resolves when it is held. */
function holdingLeasedStart(inner: MemoryStore): { store: Store; reached: Promise<void>; release: () => void } {
  let release!: () => void;
  let reach!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const reached = new Promise<void>((resolve) => (reach = resolve));
  let holding = true;
  const store = new Proxy(inner, {
    get: (target, key) => {
      if (key === 'commit') {
        return async (writeSet: WriteSet) => {
          if (holding && writeSet.requests.some((r) => r.type === 'createInstance' && r.lease !== undefined)) {
            holding = false;
            reach();
            await released;
          }
          return target.commit(writeSet);
        };
      }
      const value = Reflect.get(target, key, target) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { store, reached, release };
}

/** `inner` with its `getInstance` calls counted. */
function countingReads(inner: MemoryStore): { store: Store; reads: () => number } {
  let reads = 0;
  const store = new Proxy(inner, {
    get: (target, key) => {
      if (key === 'getInstance') {
        return (instanceId: string) => {
          reads++;
          return target.getInstance(instanceId);
        };
      }
      const value = Reflect.get(target, key, target) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { store, reads: () => reads };
}

/** Lets every pending promise callback run (MemoryStore and the worker settle in microtasks). */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('a runtime starting its own instances', () => {
  it('runs a start over a finished instance as claimed work: the store keeps it unleased, so it is not handed over', async () => {
    const warnings: string[] = [];
    const logger: Logger = { warn: (message) => warnings.push(message), error: () => {} };
    const runtime = await startRuntime({ logger });
    await runtime.client.startNew('E1_HelloSequence', { instanceId: 'x' });
    const first = await runtime.client.waitForCompletion('x', SETTLED);
    expect(first.runtimeStatus).toBe('Completed');
    await runtime.client.startNew('E1_HelloSequence', { instanceId: 'x' });
    const again = await runtime.client.waitForCompletion('x', SETTLED);
    expect(again).toMatchObject({ runtimeStatus: 'Completed', output: ['Hello Tokyo!', 'Hello Seattle!', 'Hello London!'] });
    // The worker did not run a step the store then refused.
    expect(runtime.metrics.leasesLost).toBe(0);
    expect(warnings).toEqual([]);
  });

  it('does not stop while a start is committing under the lease it handed out, and leaves that instance unleased', async () => {
    const inner = new MemoryStore();
    const { store, reached, release } = holdingLeasedStart(inner);
    const clock = new VirtualClock(); // stop's grace period never ends on its own
    const runtime = await startRuntime({ store, clock });
    const starting = runtime.client.startNew('E1_HelloSequence', { instanceId: 'a' });
    await reached;
    let stopped = false;
    const stopping = runtime.stop().then(() => {
      stopped = true;
    });
    await settle();
    expect(stopped).toBe(false);
    release();
    await starting;
    await stopping;
    // The lease the start was committed with is released: another worker claims the instance at once.
    const item = await inner.claimOrchestration({ owner: 'w2', leaseMs: 1000, now: clock.now() });
    expect(item?.state.instanceId).toBe('a');
    await inner.close();
  });

  it('runs a handed-out start when a wrapper around the store drops what commit reports, instead of leaving it leased', async () => {
    const inner = new MemoryStore();
    // A user's wrapper written before commit reported anything: it awaits the inner commit and resolves undefined.
    const store = new Proxy(inner, {
      get: (target, key) => {
        if (key === 'commit') return async (writeSet: WriteSet) => void (await target.commit(writeSet));
        const value = Reflect.get(target, key, target) as unknown;
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    const clock = new VirtualClock(); // the start's lease never expires on its own: only the hand-off can run it
    const runtime = await startRuntime({ store, clock });
    await runtime.client.startNew('E1_HelloSequence', { instanceId: 'a' });
    const done = await runtime.client.waitForCompletion('a', SETTLED);
    expect(done).toMatchObject({ runtimeStatus: 'Completed', output: ['Hello Tokyo!', 'Hello Seattle!', 'Hello London!'] });
    expect(runtime.metrics.leasesLost).toBe(0);
  });

  it('answers the reads issued as a start resolves from the state it committed, without a store read, each a copy of the caller\'s own', async () => {
    const inner = new MemoryStore();
    const { store, reads } = countingReads(inner);
    const runtime = await startRuntime({ store, orchestrators: { Echo: echo } });
    await runtime.client.startNew('Echo', { instanceId: 'a', input: { n: 1 } });
    const [status, first, waited] = await Promise.all([
      runtime.client.getStatus('a'), firstValueFrom(runtime.client.status$('a')), runtime.client.waitForCompletion('a', { timeoutMs: 0 }),
    ]);
    expect(reads()).toBe(0);
    // What the store holds (its first step has not begun): the same status, field for field.
    const stored = toInstanceStatus((await inner.getInstance('a'))!);
    expect(stored.runtimeStatus).toBe('Pending');
    for (const read of [status, first, waited]) expect(read).toStrictEqual(stored);
    // Each caller's own: changing one changes neither the others nor what the instance runs with.
    (status!.input as { n: number }).n = 2;
    status!.createdTime.setTime(0);
    expect(first?.input).toEqual({ n: 1 });
    expect(waited.createdTime).toEqual(stored.createdTime);
    expect(await runtime.client.waitForCompletion('a', SETTLED)).toMatchObject({ runtimeStatus: 'Completed', input: { n: 1 }, output: { n: 1 } });
    // Once the step has begun, reads go to the store.
    const before = reads();
    expect((await runtime.client.getStatus('a'))?.runtimeStatus).toBe('Completed');
    expect(reads()).toBe(before + 1);
  });

  it('gives the step slot back when a user-supplied newId throws while a start is built', async () => {
    let failNext = false;
    const runtime = await startRuntime({
      maxConcurrentOrchestrations: 1,
      newId: () => {
        if (!failNext) return randomId();
        failNext = false;
        throw new Error('no id today');
      },
    });
    failNext = true; // the next id is the start's own (its instance id is given)
    await expect(runtime.client.startNew('E1_HelloSequence', { instanceId: 'a' })).rejects.toThrow('no id today');
    // With its only slot lost, the worker would never run this one.
    await runtime.client.startNew('E1_HelloSequence', { instanceId: 'b' });
    expect((await runtime.client.waitForCompletion('b', SETTLED)).runtimeStatus).toBe('Completed');
  });
});
