import { filter, firstValueFrom } from 'rxjs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { silentLogger } from '../src/env/logger.js';
import type { Orchestrator } from '../src/engine/orchestration-context.js';
import { createRuntime, type Runtime } from '../src/runtime/create-runtime.js';
import { MemoryStore } from '../src/store/memory-store.js';
import { SETTLED } from '../src/testing/settled.js';
import { createClient } from '../src/client/create-client.js';
import type { DurableClient } from '../src/client/durable-client.js';
import { MAX_PURGE_SET, planTreePurge } from '../src/store/plan-tree-purge.js';
import type { HistoryEvent } from '../src/model/history-event.js';
import type { InstanceState } from '../src/model/instance-status.js';
import type { PurgeMember, PurgeSetResult, Store } from '../src/store/store.js';

// A root that calls two children one after the other; each calls a grandchild of one fixed id (the root's id with
// `-g`), so the second child's call starts a new instance over the first one's finished grandchild.
const orchestrators: Record<string, Orchestrator> = {
  Root: function* (ctx) {
    yield ctx.callSubOrchestrator('Child', 'quick', `${ctx.instanceId}-a`);
    return yield ctx.callSubOrchestrator('Child', ctx.getInput(), `${ctx.instanceId}-b`);
  },
  Child: function* (ctx) {
    return yield ctx.callSubOrchestrator('Grandchild', ctx.getInput(), `${ctx.parentInstanceId}-g`);
  },
  Grandchild: function* (ctx) {
    return ctx.getInput() === 'wait' ? yield ctx.waitForExternalEvent('never') : 'done';
  },
};

const runtimes: Runtime[] = [];
afterEach(async () => {
  await Promise.all(runtimes.splice(0).map((runtime) => runtime.stop({ graceMs: 0 })));
});

async function started(): Promise<Runtime> {
  const runtime = createRuntime({ store: new MemoryStore(), orchestrators, logger: silentLogger });
  runtimes.push(runtime);
  await runtime.start();
  return runtime;
}

/** Fans out to `input` children (`<id>-<i>`), each done at once, then waits for `go`. */
const fanWait: Record<string, Orchestrator> = {
  FanWait: function* (ctx) {
    const n = ctx.getInput() as number;
    yield ctx.Task.all(Array.from({ length: n }, (_, i) => ctx.callSubOrchestrator('Leaf', undefined, `${ctx.instanceId}-${i}`)));
    return yield ctx.waitForExternalEvent('go');
  },
  Leaf: function* () {
    return 'leaf';
  },
};

/** Waits until the current execution of `id` (a FanWait) has heard all `n` of its children complete. */
async function fannedOut(client: DurableClient, id: string, n: number): Promise<void> {
  await vi.waitFor(async () => {
    const history = (await client.getStatus(id, { showHistory: true }))?.history ?? [];
    expect(history.filter((e) => e.type === 'SubOrchestrationInstanceCompleted')).toHaveLength(n);
  }, { timeout: 30_000 });
}

/** Starts a FanWait `id` over `n` children, lets it complete, and returns that first execution's id. */
async function fanWaitCompleted(client: DurableClient, store: Store, id: string, n: number): Promise<string> {
  await client.startNew('FanWait', { instanceId: id, input: n });
  await fannedOut(client, id, n);
  await client.raiseEvent(id, 'go', 'first');
  expect((await client.waitForCompletion(id, SETTLED)).runtimeStatus).toBe('Completed');
  return (await store.getInstance(id))!.executionId;
}

describe('purgeInstanceHistory with recursive', () => {
  it('deletes a sub-orchestration whose id an earlier member of the tree called too, under the member that holds it', async () => {
    const { client } = await started();
    await client.startNew('Root', { instanceId: 'twice', input: 'quick' });
    expect((await client.waitForCompletion('twice', SETTLED)).runtimeStatus).toBe('Completed');
    expect((await client.getStatus('twice-g'))?.parentInstanceId).toBe('twice-b');
    expect(await client.purgeInstanceHistory('twice', { recursive: true })).toEqual({ instancesDeleted: 4 });
    for (const id of ['twice', 'twice-a', 'twice-b', 'twice-g']) expect(await client.getStatus(id)).toBeUndefined();
  });

  it('refuses (409, nothing deleted) while such a sub-orchestration still runs', async () => {
    const { client } = await started();
    await client.startNew('Root', { instanceId: 'busy', input: 'wait' });
    await firstValueFrom(client.status$('busy-g').pipe(filter((s) => s?.runtimeStatus === 'Running' && s.parentInstanceId === 'busy-b')));
    // The terminated child's failure answers the root's call, which fails the root.
    await client.terminate('busy-b', 'stop');
    expect((await client.waitForCompletion('busy', SETTLED)).runtimeStatus).toBe('Failed');
    await expect(client.purgeInstanceHistory('busy', { recursive: true })).rejects.toMatchObject({ code: 'instance-not-terminal', status: 409 });
    for (const id of ['busy', 'busy-a', 'busy-b']) expect(await client.getStatus(id)).toBeDefined();
    expect((await client.getStatus('busy-g'))?.runtimeStatus).toBe('Running');
  });
});

describe('purgeInstanceHistory with recursive, racing a start', () => {
  it('leaves alone an instance started over a member\'s id after the tree was read', async () => {
    // Just before the store deletes the tree, another caller starts and ends an instance over a member's id: the set's
    // condition on that member fails, nothing is deleted, and the purge reads the tree again without it.
    let before: (() => Promise<void>) | undefined;
    class Racing extends MemoryStore {
      override async purgeInstanceSet(members: readonly PurgeMember[]): Promise<PurgeSetResult> {
        const run = before;
        before = undefined;
        if (run) await run();
        return super.purgeInstanceSet(members);
      }
    }
    const runtime = createRuntime({ store: new Racing(), orchestrators, logger: silentLogger });
    runtimes.push(runtime);
    await runtime.start();
    const { client } = runtime;
    await client.startNew('Root', { instanceId: 'race', input: 'quick' });
    expect((await client.waitForCompletion('race', SETTLED)).runtimeStatus).toBe('Completed');
    before = async () => {
      await client.startNew('Grandchild', { instanceId: 'race-b', input: 'wait' });
      await client.terminate('race-b', 'not the tree\'s');
    };
    // The tree as it is when the deletion commits: race-b is another instance now, and the history that named its
    // sub-orchestration race-g went with its old execution, so race-g is left too (as after a start over race-b made
    // before the purge began).
    expect(await client.purgeInstanceHistory('race', { recursive: true })).toEqual({ instancesDeleted: 2 });
    expect(await client.getStatus('race-b')).toMatchObject({ runtimeStatus: 'Terminated', output: 'not the tree\'s' });
    expect(await client.getStatus('race-g')).toMatchObject({ runtimeStatus: 'Completed', parentInstanceId: 'race-b' });
    for (const id of ['race', 'race-a']) expect(await client.getStatus(id)).toBeUndefined();
  });
});

describe('purgeInstanceHistory with recursive, in sets', () => {
  // A root that fans out to more sub-orchestrations than one set of the store holds.
  const fanOut: Record<string, Orchestrator> = {
    Fan: function* (ctx) {
      const n = ctx.getInput() as number;
      return yield ctx.Task.all(Array.from({ length: n }, (_, i) => ctx.callSubOrchestrator('Leaf', undefined, `${ctx.instanceId}-${i}`)));
    },
    Leaf: function* () {
      return 'leaf';
    },
  };

  /** A MemoryStore that records each set it is asked to purge, and can be told to fail a call first. */
  class Recording extends MemoryStore {
    readonly sets: string[][] = [];
    failNext: ((members: readonly PurgeMember[]) => Promise<PurgeSetResult> | undefined) | undefined;
    override async purgeInstanceSet(members: readonly PurgeMember[]): Promise<PurgeSetResult> {
      this.sets.push(members.map((m) => m.instanceId));
      const failed = this.failNext?.(members);
      return failed ?? super.purgeInstanceSet(members);
    }
  }

  async function fanned(store: Recording, id: string, n: number): Promise<Runtime> {
    const runtime = createRuntime({ store, orchestrators: fanOut, logger: silentLogger });
    runtimes.push(runtime);
    await runtime.start();
    await runtime.client.startNew('Fan', { instanceId: id, input: n });
    expect((await runtime.client.waitForCompletion(id, SETTLED)).runtimeStatus).toBe('Completed');
    // No worker changes a member while the purge runs.
    await runtime.stop();
    return runtime;
  }

  it(`deletes a tree of more than ${MAX_PURGE_SET} instances in sets of at most ${MAX_PURGE_SET}, the deepest first and the named instance in the last`, async () => {
    const store = new Recording();
    await fanned(store, 'big', MAX_PURGE_SET + 10);
    const client = createClient({ store });
    expect(await client.purgeInstanceHistory('big', { recursive: true })).toEqual({ instancesDeleted: MAX_PURGE_SET + 11 });
    expect(store.sets.map((s) => s.length)).toEqual([MAX_PURGE_SET, 11]);
    expect(store.sets[1]!.at(-1)).toBe('big');
    expect(store.sets.flat().filter((id) => id === 'big')).toHaveLength(1);
    expect((await client.listInstances()).instances).toEqual([]);
  });

  it('leaves the named instance when a purge is cut short between sets, and a repeat deletes the rest', async () => {
    const store = new Recording();
    await fanned(store, 'cut', MAX_PURGE_SET + 5);
    const client = createClient({ store });
    store.failNext = () => (store.sets.length === 2 ? Promise.reject(new Error('connection lost')) : undefined);
    await expect(client.purgeInstanceHistory('cut', { recursive: true })).rejects.toThrow('connection lost');
    expect(await client.getStatus('cut')).toBeDefined();
    store.failNext = undefined;
    expect(await client.purgeInstanceHistory('cut', { recursive: true })).toEqual({ instancesDeleted: 6 });
    expect((await client.listInstances()).instances).toEqual([]);
  });

  it('gives up with 503, deleting nothing, when a member changes every time the purge reads the tree again', async () => {
    const store = new Recording();
    await fanned(store, 'churn', 3);
    const client = createClient({ store });
    store.failNext = (members) => Promise.resolve({ instancesDeleted: 0, changed: members[0]!.instanceId });
    await expect(client.purgeInstanceHistory('churn', { recursive: true })).rejects.toMatchObject({ code: 'unavailable', status: 503 });
    expect(store.sets.length).toBeGreaterThan(1);
    for (const id of ['churn', 'churn-0', 'churn-1', 'churn-2']) expect(await client.getStatus(id)).toBeDefined();
  });

  it('deletes none of the children of an execution started over the named instance between its state read and its history read', async () => {
    // The named instance fans out to more children than one set holds and waits for an event; its first execution is
    // let go and completes. When the purge reads its history, the instance has been restarted: the new execution's
    // children are all finished, and it waits. The history read is not the first execution's, so the tree is read
    // again: the instance is Running (409) and none of the new execution's children is deleted.
    const n = MAX_PURGE_SET + 5;
    let beforeHistory: (() => Promise<void>) | undefined;
    class Restarting extends MemoryStore {
      override async getInstanceHistory(
        instanceId: string, options?: { readonly fromIndex?: number },
      ): Promise<{ readonly state: InstanceState | undefined; readonly history: HistoryEvent[] }> {
        const run = beforeHistory;
        beforeHistory = undefined;
        if (run) await run();
        return super.getInstanceHistory(instanceId, options);
      }
    }
    const store = new Restarting();
    const runtime = createRuntime({ store, orchestrators: fanWait, logger: silentLogger });
    runtimes.push(runtime);
    await runtime.start();
    const { client } = runtime;
    const childrenDone = (): Promise<void> => fannedOut(client, 'again', n);
    const first = await fanWaitCompleted(client, store, 'again', n);
    beforeHistory = async () => {
      await client.restart('again');
      expect((await store.getInstance('again'))?.executionId).not.toBe(first);
      await childrenDone();
    };
    await expect(client.purgeInstanceHistory('again', { recursive: true })).rejects.toMatchObject({ code: 'instance-not-terminal', status: 409 });
    expect(beforeHistory).toBeUndefined();
    expect((await client.getStatus('again'))?.runtimeStatus).toBe('Running');
    for (let i = 0; i < n; i++) expect(await client.getStatus(`again-${i}`)).toMatchObject({ runtimeStatus: 'Completed', parentInstanceId: 'again' });
  }, 60_000);

  it('deletes none of the children of an execution started over the named instance between its history read and its children\'s reads', async () => {
    // As above, but the restart comes after the purge read the first execution's history and before it reads the
    // children that history names: their instances (the same ids, called again) are the new execution's, which the
    // purge does not take, though each names the instance as its parent.
    const n = MAX_PURGE_SET + 5;
    const store = new MemoryStore();
    const runtime = createRuntime({ store, orchestrators: fanWait, logger: silentLogger });
    runtimes.push(runtime);
    await runtime.start();
    const { client } = runtime;
    const childrenDone = (): Promise<void> => fannedOut(client, 'late', n);
    const first = await fanWaitCompleted(client, store, 'late', n);
    // The purging client's reads of the children wait for the restart, which the first of them starts.
    let restart: (() => Promise<void>) | undefined = async () => {
      await client.restart('late');
      expect((await store.getInstance('late'))?.executionId).not.toBe(first);
      await childrenDone();
    };
    let restarted: Promise<void> | undefined;
    const view: Store = new Proxy(store, {
      get: (target, key) => {
        if (key === 'getInstance') {
          return async (id: string) => {
            if (id.startsWith('late-')) {
              restarted ??= restart!();
              restart = undefined;
              await restarted;
            }
            return target.getInstance(id);
          };
        }
        const value = Reflect.get(target, key, target) as unknown;
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
    await expect(createClient({ store: view }).purgeInstanceHistory('late', { recursive: true }))
      .rejects.toMatchObject({ code: 'instance-not-terminal', status: 409 });
    expect(restart).toBeUndefined();
    expect((await client.getStatus('late'))?.runtimeStatus).toBe('Running');
    for (let i = 0; i < n; i++) expect(await client.getStatus(`late-${i}`)).toMatchObject({ runtimeStatus: 'Completed', parentInstanceId: 'late' });
  }, 60_000);
});

describe('planTreePurge', () => {
  const created = (instanceId: string, eventId: number): HistoryEvent =>
    ({ type: 'SubOrchestrationInstanceCreated', eventId, timestamp: '2026-01-01T00:00:00.000Z', name: 'Leaf', instanceId });
  const state = (instanceId: string, executionId: string, more: Partial<InstanceState> = {}): InstanceState =>
    ({ instanceId, executionId, version: 3, name: 'Any', runtimeStatus: 'Completed', historyLength: 3, ...more }) as InstanceState;

  it('takes a sub-orchestration only when its parent call names the execution whose history named it', () => {
    const root = state('root', 'e1');
    const plan = planTreePurge('root', {
      states: new Map([
        ['root', root],
        ['own', state('own', 'c1', { parentInstanceId: 'root', parentCall: { executionId: 'e1', taskScheduledId: 0 } })],
        ['newer', state('newer', 'c2', { parentInstanceId: 'root', parentCall: { executionId: 'e2', taskScheduledId: 1 } })],
        // A link recorded before executions were named in it: the parent's id is all there is to go by.
        ['unnamed', state('unnamed', 'c3', { parentInstanceId: 'root', parentCall: { taskScheduledId: 2 } })],
      ]),
      histories: new Map([['root', [created('own', 0), created('newer', 1), created('unnamed', 2)]], ['own', []], ['unnamed', []]]),
    });
    expect(plan).toEqual({
      kind: 'purge',
      members: [
        { instanceId: 'unnamed', executionId: 'c3', version: 3 },
        { instanceId: 'own', executionId: 'c1', version: 3 },
        { instanceId: 'root', executionId: 'e1', version: 3 },
      ],
    });
  });
});
