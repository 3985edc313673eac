import { filter, firstValueFrom, Observable } from 'rxjs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createClient } from '../src/client/create-client.js';
import { MAX_TREE_WALKS } from '../src/client/local-client.js';
import { terminateAccepted } from '../src/client/terminate-accepted.js';
import { childSettled } from '../src/client/terminated-tree.js';
import type { Orchestrator } from '../src/engine/orchestration-context.js';
import { silentLogger } from '../src/env/logger.js';
import { createRuntime, type Runtime } from '../src/runtime/create-runtime.js';
import { MemoryStore } from '../src/store/memory-store.js';
import type { StatusChange, Store } from '../src/store/store.js';
import { VirtualClock } from '../src/testing/virtual-clock.js';

/**
 * A recursive terminate the HTTP API answers once the named instance is terminated (`terminateAccepted`) leaves the
 * client walking its tree in the background: applying the terminates it handed on where no worker holds a child, and
 * following each child until it ends. Those walks are the client's: at most MAX_TREE_WALKS at once (a terminate
 * accepted beyond them leaves its tree to the workers, which end it durably), and `close()` ends them all.
 */

const runtimes: Runtime[] = [];
afterEach(async () => {
  await Promise.all(runtimes.splice(0).map((runtime) => runtime.stop({ graceMs: 0 })));
});

const tree: Record<string, Orchestrator> = {
  Root: function* (ctx) {
    return yield ctx.callSubOrchestrator('Leaf', undefined, `${ctx.instanceId}-leaf`);
  },
  Leaf: function* (ctx) {
    return yield ctx.waitForExternalEvent('never');
  },
};

describe('the tree walks of accepted recursive terminates', () => {
  it(`are at most ${MAX_TREE_WALKS} at once; the trees beyond are ended by a worker, and close() ends the walks`, async () => {
    const n = MAX_TREE_WALKS + 4;
    const store = new MemoryStore();
    const first = createRuntime({ store, orchestrators: tree, logger: silentLogger });
    runtimes.push(first); // stopped below; stopped again (a no-op) after a failure before that
    await first.start();
    for (let i = 0; i < n; i++) await first.client.startNew('Root', { instanceId: `t${i}` });
    for (let i = 0; i < n; i++) {
      await firstValueFrom(first.client.status$(`t${i}-leaf`).pipe(filter((s) => s?.runtimeStatus === 'Running')));
    }
    await first.stop();

    // A client with no worker, over a view of the store that refuses to apply a terminate handed on to a child (as
    // when a worker holds it), counts the instances whose changes it is following and notes each store call made once
    // the client is closed; its clock never moves, so no walk ends by its deadline.
    let closed = false;
    const callsAfterClose: string[] = [];
    const followed = new Map<string, number>();
    const follow = (id: string, by: number): void => void followed.set(id, (followed.get(id) ?? 0) + by);
    const view: Store = new Proxy(store, {
      get: (target, key) => {
        if (key === 'commit') {
          return (writeSet: Parameters<Store['commit']>[0]) => (writeSet.lease?.kind === 'unclaimed' && writeSet.lease.takes !== undefined
            ? Promise.reject(new Error('held by a worker')) : target.commit(writeSet));
        }
        if (key === 'instanceChanges$') {
          return (id: string) => new Observable<StatusChange>((subscriber) => {
            follow(id, 1);
            const subscription = target.changes$.pipe(filter((change) => change.instanceId === id)).subscribe(subscriber);
            return () => {
              follow(id, -1);
              subscription.unsubscribe();
            };
          });
        }
        const value = Reflect.get(target, key, target) as unknown;
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          if (closed) callsAfterClose.push(`${String(key)}(${JSON.stringify(args[0])})`);
          return (value as (...args: unknown[]) => unknown).apply(target, args);
        };
      },
    });
    const clock = new VirtualClock();
    const client = createClient({ store: view, clock });
    const leavesFollowed = (): number => [...followed].filter(([id, count]) => id.endsWith('-leaf') && count > 0).length;

    for (let i = 0; i < n; i++) await terminateAccepted(client, `t${i}`, 'stop', { recursive: true });
    for (let i = 0; i < n; i++) expect((await client.getStatus(`t${i}`))?.runtimeStatus).toBe('Terminated');
    await vi.waitFor(() => expect(leavesFollowed()).toBe(MAX_TREE_WALKS), { timeout: 10_000 });
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(leavesFollowed()).toBe(MAX_TREE_WALKS);

    // The client's close ends every walk where it is: nothing followed, no deadline left on its clock, and no walk
    // goes on to the next level of its tree (a read of each leaf's history, for the children it handed on) or
    // reads anything else from the store once the client is closed.
    closed = true;
    client.close();
    await vi.waitFor(() => expect(leavesFollowed()).toBe(0), { timeout: 10_000 });
    await vi.waitFor(() => expect(clock.pendingTimers).toBe(0), { timeout: 10_000 });
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(callsAfterClose).toEqual([]);

    // Every tree ends: a worker applies the terminates handed on, those of the trees no walk took up included.
    const second = createRuntime({ store, orchestrators: tree, logger: silentLogger });
    runtimes.push(second);
    await second.start();
    for (let i = 0; i < n; i++) {
      expect(await second.client.waitForCompletion(`t${i}-leaf`, { timeoutMs: 30_000 })).toMatchObject({ runtimeStatus: 'Terminated', output: 'stop' });
    }
  });
});

describe('childSettled', () => {
  it('holds for a child gone, taken by another parent\'s instance, or terminal, and not for an active child of the parent', () => {
    expect(childSettled(undefined, 'p')).toBe(true);
    expect(childSettled({ parentInstanceId: 'other', runtimeStatus: 'Running' }, 'p')).toBe(true);
    expect(childSettled({ runtimeStatus: 'Running' }, 'p')).toBe(true);
    for (const runtimeStatus of ['Completed', 'Failed', 'Terminated'] as const) expect(childSettled({ parentInstanceId: 'p', runtimeStatus }, 'p')).toBe(true);
    for (const runtimeStatus of ['Pending', 'Running', 'Suspended', 'ContinuedAsNew'] as const) {
      expect(childSettled({ parentInstanceId: 'p', runtimeStatus }, 'p')).toBe(false);
    }
  });
});
