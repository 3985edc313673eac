import { filter, firstValueFrom } from 'rxjs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createClient } from '../src/client/create-client.js';
import { COMMAND_APPLIED_TIMEOUT_MS, MAX_QUEUED_TREE_WALK_BYTES, MAX_TREE_WALKS } from '../src/client/local-client.js';
import { terminateAccepted } from '../src/client/terminate-accepted.js';
import { awaitTerminatedTree, childSettled } from '../src/client/terminated-tree.js';
import type { Orchestrator } from '../src/engine/orchestration-context.js';
import { silentLogger } from '../src/env/logger.js';
import { LeaseLostError } from '../src/model/errors/lease-lost-error.js';
import { createRuntime, type Runtime } from '../src/runtime/create-runtime.js';
import { MemoryStore } from '../src/store/memory-store.js';
import type { Store } from '../src/store/store.js';
import { VirtualClock } from '../src/testing/virtual-clock.js';

/**
 * A recursive terminate the HTTP API answers once the named instance is terminated (`terminateAccepted`) leaves the
 * client walking its tree in the background: applying the terminates it handed on where no worker holds a child, and
 * following each child until it ends. Those walks are the client's: at most MAX_TREE_WALKS at once, a terminate
 * accepted beyond them queued until one ends, and `close()` ends the running ones and drops the queued ones.
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

/** A store holding `n` trees `t<i>` -> `t<i>-leaf`, each leaf Running, its worker stopped. */
async function trees(n: number): Promise<MemoryStore> {
  const store = new MemoryStore();
  const runtime = createRuntime({ store, orchestrators: tree, logger: silentLogger });
  runtimes.push(runtime); // stopped below; stopped again (a no-op) after a failure before that
  await runtime.start();
  for (let i = 0; i < n; i++) await runtime.client.startNew('Root', { instanceId: `t${i}` });
  for (let i = 0; i < n; i++) {
    await firstValueFrom(runtime.client.status$(`t${i}-leaf`).pipe(filter((s) => s?.runtimeStatus === 'Running')));
  }
  await runtime.stop();
  return store;
}

/** Whether a commit is a client's own terminate of a child that takes the message handed on to it. */
const takesHandedOn = (writeSet: Parameters<Store['commit']>[0]): boolean =>
  writeSet.lease?.kind === 'unclaimed' && writeSet.lease.takes !== undefined;

describe('the tree walks of accepted recursive terminates', () => {
  it(`are at most ${MAX_TREE_WALKS} at once, the others queued; close() ends the running walks and drops the queued ones`, async () => {
    const n = MAX_TREE_WALKS + 4;
    const store = await trees(n);

    // A client with no worker, over a view of the store that holds each commit applying a terminate handed on to a
    // child (the walks under way then are the running ones) and notes each store call made once the client is closed;
    // its clock never moves, so no walk ends by its deadline.
    let closed = false;
    const callsAfterClose: string[] = [];
    const held: { readonly id: string; readonly go: () => void }[] = [];
    const view = intercepted(store, (key, args, call) => {
      if (closed) callsAfterClose.push(`${String(key)}(${JSON.stringify(args[0])})`);
      const writeSet = args[0] as Parameters<Store['commit']>[0];
      if (key !== 'commit' || !takesHandedOn(writeSet)) return call();
      return new Promise<void>((go) => held.push({ id: writeSet.lease?.kind === 'unclaimed' ? writeSet.lease.instanceId : '', go })).then(call);
    });
    const clock = new VirtualClock();
    const client = createClient({ store: view, clock });

    for (let i = 0; i < n; i++) await terminateAccepted(client, `t${i}`, 'stop', { recursive: true });
    for (let i = 0; i < n; i++) expect((await client.getStatus(`t${i}`))?.runtimeStatus).toBe('Terminated');
    await vi.waitFor(() => expect(held).toHaveLength(MAX_TREE_WALKS), { timeout: 10_000 });
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(held.map(({ id }) => id).sort()).toEqual(Array.from({ length: MAX_TREE_WALKS }, (_, i) => `t${i}-leaf`).sort());

    // The client's close ends every walk where it is and drops the queued ones: the commits under way answer after it
    // and lead to nothing more, no deadline is left on its clock, and no queued walk starts (a read of its leaf): no
    // store call once the client is closed.
    closed = true;
    client.close();
    held.splice(0).forEach(({ go }) => go());
    await vi.waitFor(() => expect(clock.pendingTimers).toBe(0), { timeout: 10_000 });
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(callsAfterClose).toEqual([]);

    // Every tree ends: a worker applies the terminates handed on, those of the trees whose walks were dropped included.
    const second = createRuntime({ store, orchestrators: tree, logger: silentLogger });
    runtimes.push(second);
    await second.start();
    for (let i = 0; i < n; i++) {
      expect(await second.client.waitForCompletion(`t${i}-leaf`, { timeoutMs: 30_000 })).toMatchObject({ runtimeStatus: 'Terminated', output: 'stop' });
    }
  });

  it('take no place for a tree a worker terminated: the worker hands the terminate on, and the client reads nothing of the tree', async () => {
    const store = new MemoryStore();
    const runtime = createRuntime({ store, orchestrators: tree, logger: silentLogger });
    runtimes.push(runtime);
    await runtime.start();
    await runtime.client.startNew('Root', { instanceId: 'w' });
    await firstValueFrom(runtime.client.status$('w-leaf').pipe(filter((s) => s?.runtimeStatus === 'Running')));
    // A client over a view of the store that refuses its own commit of the terminate (as when a worker holds the
    // instance): the terminate goes to the runtime's worker as a message, and the worker applies it and hands it on.
    const calls: string[] = [];
    const view = intercepted(store, (key, args, call) => {
      calls.push(`${String(key)}(${typeof args[0] === 'string' ? args[0] : '...'})`);
      if (key === 'commit' && (args[0] as Parameters<Store['commit']>[0]).lease?.kind === 'unclaimed') return Promise.reject(new LeaseLostError('held'));
      return call();
    });
    const client = createClient({ store: view, clock: new VirtualClock() });
    try {
      await terminateAccepted(client, 'w', 'stop', { recursive: true });
      expect((await store.getInstance('w'))?.runtimeStatus).toBe('Terminated');
      expect(await runtime.client.waitForCompletion('w-leaf', { timeoutMs: 30_000 })).toMatchObject({ runtimeStatus: 'Terminated', output: 'stop' });
      await new Promise((resolve) => setTimeout(resolve, 0));
      // No walk: neither a read of the root's history for the children the worker handed on to, nor of the leaf.
      expect(calls.filter((call) => call.startsWith('getInstanceHistory') || call.includes('(w-leaf)'))).toEqual([]);
    } finally {
      client.close();
    }
  });

  // The walk reads the leaf's state before applying the terminate handed on to it, then (a started child's recursive
  // terminate names its children from it) the leaf's history, just before the commit: the client closes during each.
  it.each([
    ['a read of a child they would terminate', 'getInstance'],
    ["the read of a child's history its terminate needs", 'getHistory'],
  ] as const)('end where they are when the client closes during %s: no commit after close()', async (_, heldCall) => {
    const store = await trees(1);
    // A client with no worker over a view of the store that holds that read of the leaf until the test lets it go,
    // and notes each store call made once the client is closed.
    let closed = false;
    const callsAfterClose: string[] = [];
    const held: (() => void)[] = [];
    const view = intercepted(store, (key, args, call) => {
      if (closed) callsAfterClose.push(`${String(key)}(${JSON.stringify(args[0])})`);
      return key === heldCall && args[0] === 't0-leaf' ? new Promise<void>((resolve) => held.push(resolve)).then(call) : call();
    });
    const client = createClient({ store: view, clock: new VirtualClock() });
    await terminateAccepted(client, 't0', 'stop', { recursive: true });
    expect((await store.getInstance('t0'))?.runtimeStatus).toBe('Terminated');
    await vi.waitFor(() => expect(held).toHaveLength(1), { timeout: 10_000 });
    closed = true;
    client.close();
    held.splice(0).forEach((go) => go());
    await new Promise((resolve) => setTimeout(resolve, 0));
    await new Promise((resolve) => setTimeout(resolve, 0));
    // The leaf's terminate is left queued for a worker: the closed client applied nothing.
    expect(callsAfterClose).toEqual([]);
    expect((await store.getInstance('t0-leaf'))?.runtimeStatus).toBe('Running');
  });
});

describe('the queued tree walks', () => {
  it(`start as running ones end: with no worker anywhere, every tree of ${MAX_TREE_WALKS + 8} accepted recursive terminates ends, but those past the queue's bound`, async () => {
    const n = MAX_TREE_WALKS + 8;
    // Two terminates queued behind the running walks hold a reason too large for the queue's memory bound: a text (2
    // bytes a character), and 32,768 one-element arrays (128 KB of JSON, but some 6 MB of heap once parsed and copied:
    // 200 bytes an array). Neither is queued, and their trees are left to the workers; the queue takes the next one.
    const unqueued = new Set([MAX_TREE_WALKS + 2, MAX_TREE_WALKS + 4]);
    const store = await trees(n);
    // A client with no worker over a view of the store that holds each commit applying a terminate handed on to a
    // child until the test lets them go: the walks under way then are the running ones, the others wait behind them.
    const held: (() => void)[] = [];
    const view = intercepted(store, (key, args, call) => (key === 'commit' && takesHandedOn(args[0] as Parameters<Store['commit']>[0])
      ? new Promise<void>((resolve) => held.push(resolve)).then(call) : call()));
    const clock = new VirtualClock();
    const client = createClient({ store: view, clock });
    const reasonOf = (i: number): unknown => (i === MAX_TREE_WALKS + 2 ? 'x'.repeat(MAX_QUEUED_TREE_WALK_BYTES / 2)
      : i === MAX_TREE_WALKS + 4 ? Array.from({ length: 2 ** 15 }, () => [0]) : 'stop');
    try {
      for (let i = 0; i < n; i++) await terminateAccepted(client, `t${i}`, reasonOf(i), { recursive: true });
      await vi.waitFor(() => expect(held).toHaveLength(MAX_TREE_WALKS), { timeout: 10_000 });
      await new Promise((resolve) => setTimeout(resolve, 0));
      expect(held).toHaveLength(MAX_TREE_WALKS);

      // Each commit let go as it comes: the queued walks take their turns, and every leaf of theirs ends, its
      // terminate taken; the leaves of the terminates not queued run on, their terminates left queued for a worker.
      const release = (): void => void held.splice(0).forEach((go) => go());
      await vi.waitFor(async () => {
        release();
        for (let i = 0; i < n; i++) {
          if (!unqueued.has(i)) expect(await store.getInstance(`t${i}-leaf`)).toMatchObject({ runtimeStatus: 'Terminated', output: 'stop' });
        }
      }, { timeout: 10_000 });
      await vi.waitFor(() => expect(clock.pendingTimers).toBe(0), { timeout: 10_000 });
      expect(held).toHaveLength(0);
      for (const i of unqueued) expect((await store.getInstance(`t${i}-leaf`))?.runtimeStatus).toBe('Running');
      // What a worker could claim: the other roots' answers from their leaves, and the terminates of the leaves left to it.
      const claimable: string[] = [];
      for (let item; (item = await store.claimOrchestration({ owner: 'w', leaseMs: 60_000, now: new Date() }));) claimable.push(item.state.instanceId);
      expect(claimable.sort()).toEqual(Array.from({ length: n }, (_, i) => (unqueued.has(i) ? `t${i}-leaf` : `t${i}`)).sort());
    } finally {
      client.close();
    }
  });
});

describe('a tree walk\'s terminates', () => {
  it('are stamped as a worker stamps them: a grandchild\'s with the time its parent was terminated, not the root\'s', async () => {
    const deep: Record<string, Orchestrator> = {
      Root: function* (ctx) {
        return yield ctx.callSubOrchestrator('Mid', undefined, `${ctx.instanceId}-mid`);
      },
      Mid: function* (ctx) {
        return yield ctx.callSubOrchestrator('Leaf', undefined, `${ctx.instanceId}-leaf`);
      },
      Leaf: tree.Leaf!,
    };
    const store = new MemoryStore();
    const runtime = createRuntime({ store, orchestrators: deep, logger: silentLogger });
    runtimes.push(runtime);
    await runtime.start();
    await runtime.client.startNew('Root', { instanceId: 'd' });
    await firstValueFrom(runtime.client.status$('d-mid-leaf').pipe(filter((s) => s?.runtimeStatus === 'Running')));
    await runtime.stop();
    // A client with no worker, over a view of the store that holds its read of the middle instance (before it applies
    // the terminate handed on to it) until the test has moved the clock on by a second: the middle one ends a second
    // after the root.
    const held: (() => void)[] = [];
    const view = intercepted(store, (key, args, call) => (key === 'getInstance' && args[0] === 'd-mid'
      ? new Promise<void>((go) => held.push(go)).then(call) : call()));
    const clock = new VirtualClock();
    const client = createClient({ store: view, clock });
    try {
      const terminatedAt = async (id: string): Promise<string | undefined> =>
        (await store.getHistory(id)).find((e) => e.type === 'ExecutionTerminated')?.timestamp;
      await terminateAccepted(client, 'd', 'stop', { recursive: true });
      await vi.waitFor(() => expect(held).toHaveLength(1), { timeout: 10_000 });
      await clock.advance(1000);
      held.splice(0).forEach((go) => go());
      await vi.waitFor(async () => expect((await store.getInstance('d-mid-leaf'))?.runtimeStatus).toBe('Terminated'), { timeout: 10_000 });
      const root = await terminatedAt('d');
      const mid = await terminatedAt('d-mid');
      // The middle one's terminate was handed on by the root's commit; the leaf's by the middle one's, a second later.
      expect(mid).toBe(root);
      expect(new Date((await terminatedAt('d-mid-leaf'))!).getTime() - new Date(root!).getTime()).toBe(1000);
      expect(await terminatedAt('d-mid-leaf')).toBe((await store.getInstance('d-mid'))!.lastUpdatedTime.toISOString());
    } finally {
      client.close();
    }
  });
});

describe('a tree walk whose store call never answers', () => {
  it(`gives its place up at its deadline, with storeCallTimeoutMs: Infinity: ${MAX_TREE_WALKS} stuck walks do not stop the queue`, async () => {
    const n = MAX_TREE_WALKS + 1;
    const store = await trees(n);
    // A client with no worker and no bound on its store calls, over a view of the store whose reads of the first
    // MAX_TREE_WALKS leaves never answer: their walks are stuck in a read, the last tree's walk is queued behind them.
    const stuck: string[] = [];
    const view = intercepted(store, (key, args, call) => {
      const id = args[0];
      if (key === 'getInstance' && typeof id === 'string' && id.endsWith('-leaf') && id !== `t${n - 1}-leaf`) {
        stuck.push(id);
        return new Promise<never>(() => undefined);
      }
      return call();
    });
    const clock = new VirtualClock();
    const client = createClient({ store: view, clock, storeCallTimeoutMs: Infinity });
    try {
      for (let i = 0; i < n; i++) await terminateAccepted(client, `t${i}`, 'stop', { recursive: true });
      await vi.waitFor(() => expect(stuck).toHaveLength(MAX_TREE_WALKS), { timeout: 10_000 });
      expect((await store.getInstance(`t${n - 1}-leaf`))?.runtimeStatus).toBe('Running');

      // The walks' deadline passes: the stuck ones end where they are, and the queued walk ends its tree.
      await clock.advance(COMMAND_APPLIED_TIMEOUT_MS);
      await vi.waitFor(async () => {
        expect(await store.getInstance(`t${n - 1}-leaf`)).toMatchObject({ runtimeStatus: 'Terminated', output: 'stop' });
      }, { timeout: 10_000 });
      // The stuck leaves' terminates stay queued for a worker.
      for (let i = 0; i < MAX_TREE_WALKS; i++) expect((await store.getInstance(`t${i}-leaf`))?.runtimeStatus).toBe('Running');
    } finally {
      client.close();
    }
  });
});

describe('awaitTerminatedTree', () => {
  it('ends where it is once over: no read of the next parent\'s children, no child of the level settled', async () => {
    let over = false;
    const asked: string[] = [];
    const settled: string[] = [];
    const children: Record<string, string[]> = { root: ['a', 'b'], a: ['a1'], b: ['b1'] };
    await awaitTerminatedTree('root', (parentId) => {
      asked.push(parentId);
      if (parentId === 'a') over = true; // the wait's time is up while a's children are read
      return children[parentId] ?? [];
    }, async (id) => void settled.push(id), () => over);
    expect(asked).toEqual(['root', 'a']);
    expect(settled).toEqual(['a', 'b']);
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

/**
 * A view of `store` whose every method call goes through `intercept`, with the method's name, its arguments and the
 * call to the store itself (`call`), which `intercept` makes, holds back, replaces or refuses.
 */
function intercepted(store: Store, intercept: (key: string | symbol, args: unknown[], call: () => unknown) => unknown): Store {
  return new Proxy(store, {
    get: (target, key) => {
      const value = Reflect.get(target, key, target) as unknown;
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => intercept(key, args, () => (value as (...args: unknown[]) => unknown).apply(target, args));
    },
  });
}
