import { describe, expect, it } from 'vitest';
import { decideStart } from '../src/engine/decide-step.js';
import { describeStoreConformance } from '../src/testing/index.js';
import { MemoryStore } from '../src/store/memory-store.js';

describeStoreConformance('MemoryStore', () => new MemoryStore());

describe('MemoryStore history reads', () => {
  it('hands out history events that nobody can change, so the stored history stays as committed', async () => {
    const store = new MemoryStore();
    const now = new Date('2026-01-01T00:00:00Z');
    await store.commit(decideStart({ instanceId: 'h', name: 'Orch', input: { city: 'Tokyo' }, now, newId: () => 'id-1' }));
    const claimed = await store.claimOrchestration({ owner: 'w', leaseMs: 60_000, now });
    expect(claimed).toBeDefined();
    const started = claimed!.messages[0]!.event;
    await store.commit({
      lease: { kind: 'orchestration', instanceId: 'h', token: claimed!.lease.token },
      requests: [
        { type: 'replaceState', state: { ...claimed!.state, runtimeStatus: 'Running', historyLength: 1, version: claimed!.state.version + 1 } },
        { type: 'appendHistory', instanceId: 'h', from: 0, events: [started] },
        { type: 'deleteMessages', instanceId: 'h', messageIds: [claimed!.messages[0]!.id] },
      ],
    });
    const history = await store.getHistory('h');
    const event = history[0] as { input?: { city: string } };
    expect(() => {
      event.input!.city = 'mutated';
    }).toThrow(TypeError);
    history.push(history[0]!); // the array is the caller's own
    expect(await store.getHistory('h')).toEqual([expect.objectContaining({ type: 'ExecutionStarted', input: { city: 'Tokyo' } })]);
  });
});
