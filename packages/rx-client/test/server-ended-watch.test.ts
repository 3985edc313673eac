import { InstanceNotFoundError, UnavailableError } from '@durable-rx/runtime';
import { EMPTY, filter, firstValueFrom, lastValueFrom, toArray } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { createRemoteClient, type ConnectionState } from '../src/index.js';
import { KEY, openHarness, outcome, serverClient, within, type Harness } from './harness.js';

/**
 * A watch the server ends before it sent the first value: a status watch always starts with the current snapshot, so
 * one ended without it tells nothing about the instance, and must not say it does not exist.
 */

let harness: Harness | undefined;

afterEach(async () => {
  await harness?.close();
});

describe('a watch the server ends before its first value', () => {
  it('errors status$ and customStatus$ with UnavailableError, which waitForCompletion rejects with, not InstanceNotFoundError', async () => {
    // The server's source for instance `ends` completes at once, without a snapshot (as a server's client closing mid-read may).
    const server = serverClient((_, instanceId) => (instanceId === 'ends' ? EMPTY : undefined));
    const h = (harness = await openHarness({}, server.wrap));
    const client = createRemoteClient({ baseUrl: h.server.url, key: KEY });
    const states: ConnectionState[] = [];
    const watching = client.connection$.subscribe((state) => states.push(state));
    await h.runtime.client.startNew('ShowInput', { instanceId: 'kept', input: 'shown' });
    const kept = client.customStatus$('kept').subscribe();
    for (const source of [client.status$('ends'), client.customStatus$('ends')]) {
      const error = await within(outcome(firstValueFrom(source)), 'the watch ending');
      expect(error).toBeInstanceOf(UnavailableError);
      expect(error).toMatchObject({ code: 'unavailable', status: 503 });
    }
    const waited = await within(outcome(client.waitForCompletion('ends', { timeoutMs: Infinity })), 'the wait ending');
    expect(waited).not.toBeInstanceOf(InstanceNotFoundError);
    expect(waited).toBeInstanceOf(UnavailableError);
    expect(waited).toMatchObject({ code: 'unavailable', status: 503 });
    // A history may have no events: one the server ends at once completes, empty.
    expect(await within(lastValueFrom(client.history$('ends').pipe(toArray())), 'the history ending')).toEqual([]);
    // The connection carried on for the other watches: never failed, and an instance it watches is still pushed.
    await h.runtime.client.raiseEvent('kept', 'Done');
    const done = await within(firstValueFrom(client.status$('kept').pipe(filter((s) => s?.runtimeStatus === 'Completed'))), 'kept completed');
    expect(done).toMatchObject({ instanceId: 'kept', customStatus: 'shown' });
    expect(states.some((s) => s.state === 'failed')).toBe(false);
    expect(server.live('ends')).toBe(0);
    kept.unsubscribe();
    watching.unsubscribe();
    client.close();
  });
});
