import type { HistoryEvent, InstanceStatus } from '@durable-rx/runtime';
import { filter, firstValueFrom, ReplaySubject } from 'rxjs';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { createRemoteClient } from '../src/index.js';
import { KEY, openHarness, ownedByEachTest, within, type Harness } from './harness.js';

/**
 * Reconnection: the server drops the streams (all TCP connections closed) or forgets them (handler restarted), and
 * the remote observables carry on without losing or repeating anything.
 */

let harness: Harness;
const { subscriptions, record, cleanups } = ownedByEachTest();

beforeEach(async () => {
  const opened = (harness = await openHarness());
  cleanups.push(() => opened.close());
});


const received = (n: number) => (v: unknown) => JSON.stringify(v) === JSON.stringify({ received: n });

describe('reconnect', () => {
  it('delivers every committed custom status exactly once while the server keeps dropping the connection', async () => {
    const client = createRemoteClient({ baseUrl: harness.server.url, key: KEY, reconnect: { initialDelayMs: 10 } });
    const local = harness.runtime.client;
    const custom = record<unknown>(client.customStatus$('drops'));
    await custom.seen((v) => v === undefined);
    await local.startNew('WaitForEvents', { instanceId: 'drops', input: 6 });
    const committed = record<unknown>(local.customStatus$('drops'));
    for (let i = 1; i <= 6; i += 2) {
      harness.server.server.closeAllConnections(); // the stream is cut ...
      await local.raiseEvent('drops', 'Item', i); // ... while the instance commits two custom statuses
      await committed.seen(received(i));
      await local.raiseEvent('drops', 'Item', i + 1);
      await committed.seen(received(i + 1));
      await custom.seen(received(i + 1));
    }
    expect(custom.values).toEqual([undefined, ...[1, 2, 3, 4, 5, 6].map((n) => ({ received: n }))]);
    const streamRequests = harness.requests.filter((r) => r.path.endsWith('/streams'));
    expect(streamRequests.length).toBeGreaterThan(1);
    expect(streamRequests.slice(1).every((r) => r.lastEventId !== null)).toBe(true);
  });

  it('delivers every status snapshot of the local status$ across drops, in order, without duplicates', async () => {
    const client = createRemoteClient({ baseUrl: harness.server.url, key: KEY, reconnect: { initialDelayMs: 10 } });
    const local = harness.runtime.client;
    const reference = record<InstanceStatus | undefined>(local.status$('snap'));
    const remote = record<InstanceStatus | undefined>(client.status$('snap'));
    await remote.seen((s) => s === undefined);
    await local.startNew('WaitForEvents', { instanceId: 'snap', input: 3 });
    for (let i = 1; i <= 3; i++) {
      harness.server.server.closeAllConnections();
      await local.raiseEvent('snap', 'Item', i);
      await remote.seen((s) => received(i)(s?.customStatus));
    }
    await remote.seen((s) => s?.runtimeStatus === 'Completed');
    await reference.seen((s) => s?.runtimeStatus === 'Completed');
    expect(remote.values).toEqual(reference.values);
  });

  it('carries on without duplicates when the server forgot the stream (restart), history included', async () => {
    const client = createRemoteClient({ baseUrl: harness.server.url, key: KEY, reconnect: { initialDelayMs: 10 } });
    const local = harness.runtime.client;
    await local.startNew('WaitForEvents', { instanceId: 'restart', input: 2 });
    await local.raiseEvent('restart', 'Item', 'a');
    await firstValueFrom(local.status$('restart').pipe(filter((s) => received(1)(s?.customStatus))));
    const statuses = record<InstanceStatus | undefined>(client.status$('restart'));
    const history = record<HistoryEvent>(client.history$('restart'));
    await statuses.seen((s) => received(1)(s?.customStatus));
    await history.seen((e) => e.type === 'EventRaised');
    const lengthBefore = statuses.values.length;

    harness.restartHandler(); // streams end; the new handler knows none of their sessions
    await local.raiseEvent('restart', 'Item', 'b');
    await statuses.seen((s) => s?.runtimeStatus === 'Completed');
    await history.seen((e) => e.type === 'ExecutionCompleted');
    await history.seen((e) => e.type === 'OrchestratorCompleted' && history.values.some((x) => x.type === 'ExecutionCompleted'));

    for (let i = 1; i < statuses.values.length; i++) {
      expect(JSON.stringify(statuses.values[i])).not.toBe(JSON.stringify(statuses.values[i - 1]));
    }
    expect(statuses.values.length).toBeGreaterThan(lengthBefore);
    const full = (await local.getStatus('restart', { showHistory: true, showHistoryOutput: true }))!.history!;
    expect(history.values).toEqual(full);
    const sessions = new Set(harness.requests.filter((r) => r.path.endsWith('/streams')).map((r) => r.lastEventId));
    expect(sessions.size).toBeGreaterThan(1); // it did reconnect with a Last-Event-ID
  });

  it('keeps watching when a subscribe reached the server but its answer was lost, and sends it again', async () => {
    // The first subscription request goes to the server, which applies it; its answer is lost on the way back, as
    // when the connection drops before the response arrives: the client's fetch fails as it would then.
    let changes = 0;
    let answered!: (status: number) => void;
    const resent = new Promise<number>((resolve) => (answered = resolve));
    const client = createRemoteClient({
      baseUrl: harness.server.url, key: KEY, reconnect: { initialDelayMs: 10 },
      fetch: async (input, init) => {
        const response = await fetch(input, init);
        if (!String(input).endsWith('/subscriptions')) return response;
        if (++changes === 1) {
          await response.arrayBuffer(); // applied by the server ...
          throw new TypeError('fetch failed: the connection was reset'); // ... and the answer lost
        }
        answered(response.status);
        return response;
      },
    });
    const local = harness.runtime.client;
    await local.startNew('WaitForEvents', { instanceId: 'lost', input: 2 });
    await local.raiseEvent('lost', 'Item', 'a');
    await firstValueFrom(local.status$('lost').pipe(filter((s) => received(1)(s?.customStatus))));
    const errors: unknown[] = [];
    const statuses = record<InstanceStatus | undefined>(client.status$('lost'));
    const history = record<HistoryEvent>(client.history$('lost'));
    subscriptions.push(client.status$('lost').subscribe({ error: (error: unknown) => errors.push(error) }));
    await statuses.seen((s) => received(1)(s?.customStatus));
    await history.seen((e) => e.type === 'EventRaised');
    expect(await resent).toBe(200); // sent again to the resumed session: a success, which changes nothing
    await local.raiseEvent('lost', 'Item', 'b');
    await statuses.seen((s) => s?.runtimeStatus === 'Completed');
    await history.seen((e) => e.type === 'OrchestratorCompleted' && history.values.some((x) => x.type === 'ExecutionCompleted'));

    expect(errors).toEqual([]);
    expect(changes).toBe(2);
    for (let i = 1; i < statuses.values.length; i++) {
      expect(JSON.stringify(statuses.values[i])).not.toBe(JSON.stringify(statuses.values[i - 1]));
    }
    const full = (await local.getStatus('lost', { showHistory: true, showHistoryOutput: true }))!.history!;
    expect(history.values).toEqual(full); // every event once: the resent subscribe replayed nothing
  });

  it('gives up a subscription request with the stream it was sent for, and sends it to the next session', async () => {
    // The server never answers the subscription request; then its stream ends and the new handler knows no session.
    const client = createRemoteClient({ baseUrl: harness.server.url, key: KEY, reconnect: { initialDelayMs: 10 } });
    harness.holdRequests('/subscriptions');
    const statuses = record<InstanceStatus | undefined>(client.status$('held'));
    await vi.waitFor(() => expect(harness.requests.some((r) => r.path.endsWith('/subscriptions'))).toBe(true), { timeout: 30_000, interval: 10 });
    harness.holdRequests(undefined);
    harness.restartHandler();
    await within(statuses.seen((s) => s === undefined), 'the first snapshot, from the new session');
    const held = harness.requests.find((r) => r.path.endsWith('/subscriptions'))!;
    expect(held.signal.aborted).toBe(true); // not left on its way
    await harness.runtime.client.startNew('Echo', { instanceId: 'held', input: 1 });
    await within(statuses.seen((s) => s?.runtimeStatus === 'Completed'), 'held completed');
    client.close();
  });

  it('keeps a live query current across drops', async () => {
    const client = createRemoteClient({ baseUrl: harness.server.url, key: KEY, reconnect: { initialDelayMs: 10 } });
    const lists = record<InstanceStatus[]>(client.instances$({ instanceIdPrefix: 'l-' }));
    await lists.seen((l) => l.length === 0);
    harness.server.server.closeAllConnections();
    await harness.runtime.client.startNew('Echo', { instanceId: 'l-1', input: 1 });
    await lists.seen((l) => l.length === 1 && l[0]!.runtimeStatus === 'Completed');
    for (let i = 1; i < lists.values.length; i++) {
      expect(JSON.stringify(lists.values[i])).not.toBe(JSON.stringify(lists.values[i - 1]));
    }
  });
});
