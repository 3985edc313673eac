import { describe, expect, it } from 'vitest';
import type { InstanceState } from '../src/model/instance-status.js';
import { MemoryStore } from '../src/store/memory-store.js';
import { FaultInjector } from '../src/testing/fault-injection.js';

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
