import { describe, expect, it } from 'vitest';
import { createClient } from '../src/client/create-client.js';
import { decideStart } from '../src/engine/decide-step.js';
import { describeStoreConformance } from '../src/testing/index.js';
import { MemoryStore } from '../src/store/memory-store.js';

describeStoreConformance('MemoryStore', () => new MemoryStore(), { frozenInput: true });

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

describe('MemoryStore keeps what it is given', () => {
  const now = new Date('2026-01-01T00:00:00Z');

  async function startedAndClaimed(store: MemoryStore): Promise<string> {
    await store.commit(decideStart({ instanceId: 'k', name: 'Orch', input: undefined, now, newId: () => 'id-1' }));
    const claimed = await store.claimOrchestration({ owner: 'w', leaseMs: 60_000, now });
    await store.commit({
      lease: { kind: 'orchestration', instanceId: 'k', token: claimed!.lease.token },
      requests: [
        { type: 'replaceState', state: { ...claimed!.state, runtimeStatus: 'Running', version: claimed!.state.version + 1 } },
        { type: 'deleteMessages', instanceId: 'k', messageIds: [claimed!.messages[0]!.id] },
      ],
    });
    return claimed!.state.executionId;
  }

  it('copies a message whose event is frozen but whose payload is not: a later change to the payload is not stored', async () => {
    const store = new MemoryStore();
    await startedAndClaimed(store);
    const input = { city: 'Tokyo' };
    const event = Object.freeze({ type: 'EventRaised' as const, eventId: -1, timestamp: now.toISOString(), name: 'next', input });
    await store.commit({ requests: [{ type: 'insertMessage', message: Object.freeze({ id: 'm-1', instanceId: 'k', event }), ifMissing: 'fail' }] });
    input.city = 'mutated';
    const claimed = await store.claimOrchestration({ owner: 'w', leaseMs: 60_000, now });
    expect(claimed!.messages.map((m) => m.event)).toEqual([expect.objectContaining({ input: { city: 'Tokyo' } })]);
  });

  it('copies a frozen payload that is not a plain object or array: a frozen Map can still be changed', async () => {
    const store = new MemoryStore();
    await startedAndClaimed(store);
    const input = Object.freeze(new Map<string, string>());
    const event = Object.freeze({ type: 'EventRaised' as const, eventId: -1, timestamp: now.toISOString(), name: 'next', input });
    await store.commit({ requests: [{ type: 'insertMessage', message: Object.freeze({ id: 'm-1', instanceId: 'k', event }), ifMissing: 'fail' }] });
    input.set('city', 'mutated');
    const claimed = await store.claimOrchestration({ owner: 'w', leaseMs: 60_000, now });
    const stored = claimed!.messages[0]!.event as { readonly input?: unknown };
    expect(stored.input).not.toBe(input);
  });

  it('copies a frozen payload with a getter: each read of an accessor may give another value', async () => {
    const store = new MemoryStore();
    await startedAndClaimed(store);
    let city = 'Tokyo';
    const input = Object.freeze(Object.defineProperty({}, 'city', { enumerable: true, get: () => city }));
    const items = Object.freeze([Object.freeze(Object.defineProperty([], 0, { enumerable: true, get: () => city }))]);
    const event = Object.freeze({ type: 'EventRaised' as const, eventId: -1, timestamp: now.toISOString(), name: 'next', input });
    const other = Object.freeze({ ...event, name: 'items', input: items });
    await store.commit({
      requests: [
        { type: 'insertMessage', message: Object.freeze({ id: 'm-1', instanceId: 'k', event }), ifMissing: 'fail' },
        { type: 'insertMessage', message: Object.freeze({ id: 'm-2', instanceId: 'k', event: other }), ifMissing: 'fail' },
      ],
    });
    city = 'mutated';
    const claimed = await store.claimOrchestration({ owner: 'w', leaseMs: 60_000, now });
    const inputs = claimed!.messages.map((m) => (m.event as { readonly input?: unknown }).input);
    expect(inputs).toEqual([{ city: 'Tokyo' }, [['Tokyo']]]);
    expect(Object.getOwnPropertyDescriptor(inputs[0], 'city')).toMatchObject({ value: 'Tokyo' });
  });

  it('keeps a deeply frozen history event as it is, and copies one that is not frozen', async () => {
    const store = new MemoryStore();
    await startedAndClaimed(store);
    await store.commit({ requests: [{ type: 'insertMessage', message: { id: 'm-1', instanceId: 'k', event: { type: 'EventRaised', eventId: -1, timestamp: now.toISOString(), name: 'n' } }, ifMissing: 'fail' }] });
    const claimed = await store.claimOrchestration({ owner: 'w', leaseMs: 60_000, now });
    const frozen = Object.freeze({ type: 'OrchestratorStarted' as const, eventId: -1, timestamp: now.toISOString() });
    const open = { type: 'OrchestratorCompleted' as const, eventId: -1, timestamp: now.toISOString() };
    await store.commit({
      lease: { kind: 'orchestration', instanceId: 'k', token: claimed!.lease.token },
      requests: [
        { type: 'replaceState', state: { ...claimed!.state, historyLength: 2, version: claimed!.state.version + 1 } },
        { type: 'appendHistory', instanceId: 'k', from: 0, events: [frozen, open] },
        { type: 'deleteMessages', instanceId: 'k', messageIds: [claimed!.messages[0]!.id] },
      ],
    });
    open.timestamp = 'mutated';
    const history = await store.getHistory('k');
    expect(history[0]).toBe(frozen);
    expect(history[1]).not.toBe(open);
    expect(history[1]).toEqual({ type: 'OrchestratorCompleted', eventId: -1, timestamp: now.toISOString() });
    expect(Object.isFrozen(history[1])).toBe(true);
  });
});

describe('MemoryStore keeps the keys of keyed raises apart from the instance', () => {
  it('writes no state for a keyed raise, publishes no snapshot for it, and hands out states without the keys', async () => {
    const store = new MemoryStore();
    const now = new Date('2026-01-01T00:00:00Z');
    await store.commit(decideStart({ instanceId: 'big', name: 'Orch', input: { rows: Array.from({ length: 1000 }, (_, i) => i) }, now, newId: () => 'id-1' }));
    const before = await store.getInstance('big');
    const snapshots: unknown[] = [];
    const subscription = store.changes$.subscribe((change) => snapshots.push(change));
    const client = createClient({ store });
    for (let i = 0; i < 3; i++) await client.raiseEvent('big', 'go', i, { idempotencyKey: `k${i}` });
    await client.raiseEvent('big', 'go', 'repeat', { idempotencyKey: 'k0' });
    await client.signalWithStart('Orch', { instanceId: 'big', eventName: 'go', eventData: 'signal', idempotencyKey: 'k1' });
    subscription.unsubscribe();
    expect(snapshots).toEqual([]);
    expect(await store.getInstance('big')).toEqual(before);
    const claimed = await store.claimOrchestration({ owner: 'w', leaseMs: 60_000, now });
    expect(claimed!.state).not.toHaveProperty('raisedEventKeys');
    expect(claimed!.messages.slice(1).map((m) => (m.event as { input?: unknown }).input)).toEqual([0, 1, 2]);
  });
});

