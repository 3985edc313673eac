import { Subject, filter, firstValueFrom } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { createClient } from '../src/index.js';
import type { InstanceState } from '../src/model/instance-status.js';
import { MemoryStore } from '../src/store/memory-store.js';
import type { Store } from '../src/store/store.js';
import { FaultInjector } from '../src/testing/fault-injection.js';
import { FailingStore } from './failing-store.js';
import { withoutInstanceHistory } from './without-instance-history.js';

const T0 = new Date('2026-01-01T00:00:00Z');
const at = (ms: number) => new Date(T0.getTime() + ms);
const NO_FAULTS = { errorBefore: 0, errorAfter: 0, delay: 0, leaseExpiry: 0 };

/** Creates instance `a` with its start message and claims it. */
async function claimedStart(store: MemoryStore) {
  const state: InstanceState = {
    instanceId: 'a', name: 'Orch', runtimeStatus: 'Pending', createdTime: T0, lastUpdatedTime: T0, executionId: 'exec-1',
    historyLength: 0, version: 1,
  };
  await store.commit({
    requests: [{
      type: 'createInstance', state, ifRunning: { kind: 'fail' },
      message: { id: 'm1', instanceId: 'a', event: { type: 'ExecutionStarted', eventId: -1, timestamp: T0.toISOString(), name: 'Orch', instanceId: 'a', executionId: 'exec-1' } },
    }],
  });
  const item = await store.claimOrchestration({ owner: 'w1', leaseMs: 30_000, now: T0 });
  if (!item) throw new Error('expected a work item');
  return item;
}

describe('FaultInjector', () => {
  it('lets the lease of a task a fused step stored leased expire right after the commit, as after a claim', async () => {
    const store = new MemoryStore();
    expect(store.capabilities.fusedSteps).toBe(true);
    const faulty = new FaultInjector(store, { random: () => 0, rates: { ...NO_FAULTS, leaseExpiry: 1 } });
    const handle = faulty.handle();
    const item = await claimedStart(store);
    const step = {
      requests: [
        { type: 'replaceState' as const, state: { ...item.state, runtimeStatus: 'Running' as const, version: item.state.version + 1, historyLength: 1 } },
        { type: 'appendHistory' as const, instanceId: 'a', from: 0, events: [item.messages[0]!.event] },
        { type: 'deleteMessages' as const, instanceId: 'a', messageIds: item.messages.map((m) => m.id) },
        {
          type: 'insertTask' as const,
          task: { id: 't1', instanceId: 'a', executionId: 'exec-1', name: 'Act', input: 1, taskScheduledId: 0, attempt: 1 },
          lease: { owner: 'w1', token: 'held', expiresAt: at(10_000) },
        },
      ],
    };
    // The step is committed without a write lease, so the only lease the injector can expire is the stored task's.
    await store.abandonOrchestration('a', item.lease.token);
    await handle.commit(step);
    // Without the injected expiry the task stays leased to w1 until 10 s; with it, another worker claims it at once.
    const taken = await store.claimActivity({ owner: 'w2', leaseMs: 1000, now: at(1) });
    expect(taken?.task.id).toBe('t1');
    expect(faulty.counts.leaseExpiry).toBe(1);
  });
});

describe('FaultyStore', () => {
  it('reads an instance with its history through the store\'s getInstanceHistory, with the faults of the other reads', async () => {
    const store = new MemoryStore();
    await claimedStart(store);
    const faults = new FaultInjector(store, { random: () => 0, rates: NO_FAULTS });
    const read = await faults.handle().getInstanceHistory?.('a');
    expect(read).toEqual(await store.getInstanceHistory('a'));
    expect(read).toMatchObject({ state: { instanceId: 'a', runtimeStatus: 'Pending' }, history: [] });
    expect(faults.counts.calls).toBe(1);
    await expect(faults.handle({ errorBefore: 1 }).getInstanceHistory?.('a')).rejects.toMatchObject({ code: 'injected-fault', committed: false });
    await expect(faults.handle({ errorAfter: 1 }).getInstanceHistory?.('a')).rejects.toMatchObject({ code: 'injected-fault', committed: true });
    expect(faults.counts).toMatchObject({ calls: 3, errorBefore: 1, errorAfter: 1 });
  });

  it('lists ended instances through the store\'s listEnded, with the faults of the other reads', async () => {
    // A retention sweep over the handle lists in end order, as it does over the store itself.
    const store = new MemoryStore();
    const item = await claimedStart(store);
    await store.commit({ requests: [{ type: 'replaceState', state: { ...item.state, runtimeStatus: 'Completed', lastUpdatedTime: at(1000), version: item.state.version + 1 } }] });
    const faults = new FaultInjector(store, { random: () => 0, rates: NO_FAULTS });
    const query = { runtimeStatus: 'Completed', endedTo: at(60_000), limit: 10 } as const;
    const listed = await faults.handle().listEnded?.(query);
    expect(listed?.map((state) => state.instanceId)).toEqual(['a']);
    expect(listed).toEqual(await store.listEnded(query));
    expect(faults.counts.calls).toBe(1);
    await expect(faults.handle({ errorBefore: 1 }).listEnded?.(query)).rejects.toMatchObject({ code: 'injected-fault', committed: false });
    expect(faults.counts).toMatchObject({ calls: 2, errorBefore: 1 });
  });

  it('has each optional Store method exactly when its store has it, so a client takes the path it takes on that store', async () => {
    const plain = withoutInstanceHistory(new MemoryStore());
    const perInstance: Store = Object.assign(Object.create(plain) as Store, {
      instanceChanges$: (instanceId: string) => plain.changes$.pipe(filter((change) => change.instanceId === instanceId)),
    });
    const resync = new Subject<void>();
    const resyncing: Store = Object.assign(Object.create(plain) as Store, { resync$: resync.asObservable() });
    const createdOrderOnly: Store = Object.assign(Object.create(plain) as Store, { listEnded: undefined });
    for (const store of [new MemoryStore(), plain, perInstance, resyncing, createdOrderOnly] as Store[]) {
      const handle = new FaultInjector(store, { random: () => 0, rates: NO_FAULTS }).handle();
      expect(typeof handle.getInstanceHistory).toBe(typeof store.getInstanceHistory);
      expect(typeof handle.listEnded).toBe(typeof store.listEnded);
      expect(typeof handle.instanceChanges$).toBe(typeof store.instanceChanges$);
      expect(typeof handle.resync$).toBe(typeof store.resync$);
    }
    // The store's resync signal reaches a live list through the handle, until the handle's process crashes.
    const handle = new FaultInjector(resyncing, { random: () => 0, rates: NO_FAULTS }).handle();
    let signals = 0;
    const counting = handle.resync$?.subscribe(() => signals++);
    resync.next();
    handle.crash();
    resync.next();
    counting?.unsubscribe();
    expect(signals).toBe(1);
    // Without getInstanceHistory the client reads the history, then the state again: it answers as on the store itself.
    const client = createClient({ store: new FaultInjector(perInstance, { random: () => 0, rates: NO_FAULTS }).handle() });
    await client.startNew('Any', { instanceId: 'x', input: 1 });
    expect(await client.getStatus('x', { showHistory: true })).toMatchObject({ instanceId: 'x', runtimeStatus: 'Pending', input: 1, history: [] });
    expect(await firstValueFrom(client.status$('x'))).toMatchObject({ instanceId: 'x', runtimeStatus: 'Pending' });
  });
});

describe('FailingStore', () => {
  it('has every method of the MemoryStore it wraps, the optional ones too, so a worker takes the paths it takes on a MemoryStore', () => {
    const failing = new FailingStore() as unknown as Record<string, unknown>;
    const missing = Object.getOwnPropertyNames(MemoryStore.prototype)
      .filter((name) => name !== 'constructor' && typeof Object.getOwnPropertyDescriptor(MemoryStore.prototype, name)?.value === 'function')
      .filter((name) => typeof failing[name] !== 'function');
    expect(missing).toEqual([]);
  });
});
