import type { OrchestrationMessage, Store } from '@durable-rx/runtime/store-kit';
import { afterEach, describe, expect, it } from 'vitest';
import { adapters, claim, commitOf, create, message, newInstance, T0, uniqueName, type AdapterName } from './fixtures.js';

// A write set's messages are stored before its instances are read where the database numbers them (DexieStore), and
// the plan decides afterwards which are delivered. These are the ways a message is not delivered: none of them may
// leave the message behind, where the instance's next claim would find it; and a message a step sends to its own
// instance must survive the step's deletion of the messages it consumed.
describe.each(Object.keys(adapters) as AdapterName[])('%s: messages a commit does not deliver', (adapter) => {
  const opened: Store[] = [];
  const open = () => {
    const store = adapters[adapter](uniqueName('undelivered'));
    opened.push(store);
    return store;
  };
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((s) => s.close()));
  });

  const event = (instanceId: string, name: string, executionId?: string): OrchestrationMessage => ({
    ...message(instanceId, { type: 'EventRaised', eventId: -1, timestamp: T0.toISOString(), name }),
    ...(executionId === undefined ? {} : { executionId }),
  });

  /** Claims `id` (the only claimable instance) and returns the names of its messages' events. */
  const claimedEvents = async (store: Store) => (await claim(store)).messages.map((m) => ('name' in m.event ? `${m.event.type}:${m.event.name}` : m.event.type));

  /** Claims the only claimable instance and commits it to `runtimeStatus`, consuming the messages the claim brought. */
  const settle = async (store: Store, runtimeStatus: 'Running' | 'Completed') => {
    const item = await claim(store);
    await store.commit(commitOf(item.state, item.lease.token, {
      consumedMessageIds: item.messages.map((m) => m.id),
      state: { ...item.state, runtimeStatus, version: item.state.version + 1 },
    }));
  };

  it('a start over a running instance that notifies instead leaves only the notification', async () => {
    const store = open();
    await create(store, newInstance('running'));
    await settle(store, 'Running');
    const { state, message: start } = newInstance('running');
    await store.commit({
      requests: [{ type: 'createInstance', state, message: start, ifRunning: { kind: 'notify', message: event('running', 'refused') } }],
    });
    expect(await claimedEvents(store)).toEqual(['EventRaised:refused']);
  });

  it('a message to a missing instance is dropped, and a later start of that id finds only its own', async () => {
    const store = open();
    await store.commit({ requests: [{ type: 'insertMessage', message: event('later', 'early'), ifMissing: 'drop' }] });
    await create(store, newInstance('later'));
    expect(await claimedEvents(store)).toEqual(['ExecutionStarted:Orch']);
  });

  it('a message for another execution is dropped', async () => {
    const store = open();
    await create(store, newInstance('exec'));
    await store.commit({ requests: [{ type: 'insertMessage', message: event('exec', 'stale', 'exec-0'), ifMissing: 'drop' }] });
    expect(await claimedEvents(store)).toEqual(['ExecutionStarted:Orch']);
  });

  it('a step that consumes every pending message and sends one to its own instance keeps that one', async () => {
    const store = open();
    await create(store, newInstance('self'));
    await store.commit({ requests: [{ type: 'insertMessage', message: event('self', 'second'), ifMissing: 'fail' }] });
    const item = await claim(store);
    expect(item.messages).toHaveLength(2);
    await store.commit(commitOf(item.state, item.lease.token, {
      consumedMessageIds: item.messages.map((m) => m.id),
      state: { ...item.state, runtimeStatus: 'Running', version: item.state.version + 1 },
      messages: [event('self', 'to-myself')],
    }));
    expect(await claimedEvents(store)).toEqual(['EventRaised:to-myself']);
  });

  it('a start over a terminal instance leaves only the new start', async () => {
    const store = open();
    await create(store, newInstance('again'));
    await settle(store, 'Completed');
    // An event that arrives after completion is stored (and ignored by the engine); the new execution drops it.
    await store.commit({ requests: [{ type: 'insertMessage', message: event('again', 'late'), ifMissing: 'drop' }] });
    const { state, message: start } = newInstance('again');
    await store.commit({
      requests: [
        { type: 'insertMessage', message: event('again', 'before'), ifMissing: 'drop' },
        { type: 'createInstance', state: { ...state, executionId: 'exec-2' }, message: { ...start, executionId: 'exec-2' }, ifRunning: { kind: 'fail' } },
        { type: 'insertMessage', message: event('again', 'after'), ifMissing: 'drop' },
      ],
    });
    expect(await claimedEvents(store)).toEqual(['ExecutionStarted:Orch', 'EventRaised:after']);
  });
});
