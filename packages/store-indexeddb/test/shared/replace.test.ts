import { afterEach, describe, expect, it } from 'vitest';
import type { HistoryEvent, Store } from '@durable-rx/runtime';
import { adapters, claim, commitOf, message, newInstance, started, T0, uniqueName, type AdapterName } from './fixtures.js';

const raised = (name: string): HistoryEvent => ({ type: 'EventRaised', eventId: -1, timestamp: T0.toISOString(), name });

// Writes that replace a range (history, an instance's messages) within one transaction: the deletion must happen
// before the new rows are written, not after.
describe.each(Object.keys(adapters) as AdapterName[])('replacing in one transaction: %s', (adapter) => {
  const opened: Store[] = [];
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((s) => s.close()));
  });
  const open = () => {
    const store = adapters[adapter](uniqueName('replace'));
    opened.push(store);
    return store;
  };

  it('replaces the history (continue-as-new, rewind) with exactly the new events', async () => {
    const store = open();
    await store.createInstance(newInstance('a'));
    let item = await claim(store);
    await store.commitOrchestration(commitOf(item.state, item.lease.token, {
      consumedMessageIds: item.messages.map((m) => m.id),
      state: { ...item.state, runtimeStatus: 'Running', version: 2, historyLength: 3 },
      history: [started('a'), raised('one'), raised('two')],
    }));
    await store.sendMessage(message('a', { type: 'EventRaised', eventId: -1, timestamp: T0.toISOString(), name: 'go' }));
    item = await claim(store);
    const replacement = [started('a'), raised('new')];
    await store.commitOrchestration(commitOf(item.state, item.lease.token, {
      consumedMessageIds: item.messages.map((m) => m.id),
      state: { ...item.state, executionId: 'exec-2', version: 3, historyLength: 2 },
      history: replacement, replaceHistory: true,
    }));
    expect(await store.getHistory('a')).toEqual(replacement);
  });

  it('creates over a terminal instance with pending messages: only the new start message is left', async () => {
    const store = open();
    await store.createInstance(newInstance('a'));
    const item = await claim(store);
    await store.commitOrchestration(commitOf(item.state, item.lease.token, {
      consumedMessageIds: item.messages.map((m) => m.id),
      state: { ...item.state, runtimeStatus: 'Completed', version: 2, historyLength: 1 },
      history: [started('a')],
    }));
    // Messages that reached the finished instance and were never processed.
    await store.sendMessage(message('a', { type: 'EventRaised', eventId: -1, timestamp: T0.toISOString(), name: 'late-1' }));
    await store.sendMessage(message('a', { type: 'EventRaised', eventId: -1, timestamp: T0.toISOString(), name: 'late-2' }));
    await store.createInstance(newInstance('a', 'again'));
    const next = await claim(store);
    expect(next.messages.map((m) => m.event)).toMatchObject([{ type: 'ExecutionStarted', input: 'again' }]);
    expect(await store.getHistory('a')).toEqual([]);
  });
});
