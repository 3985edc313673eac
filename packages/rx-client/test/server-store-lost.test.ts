import { DurableError, StoreClosedError, UnavailableError, type DurableClient } from '@durable-rx/runtime';
import { FIRST_ANSWER_GRACE_MS } from '@durable-rx/runtime/client-kit';
import { VirtualClock } from '@durable-rx/runtime/testing';
import { DatabaseUpgradingError, StorageError } from '@durable-rx/store-indexeddb';
import { firstValueFrom, merge, Subject, throwError } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { createRemoteClient } from '../src/index.js';
import { isRetryableForHooks } from '../src/remote-error.js';
import { KEY, openHarness, outcome, serverClient, within, type Harness } from './harness.js';

/**
 * A server whose store is closed or lost for good (`isStoreClosed`: code `store-closed`, or `storeClosed: true` on the
 * error). For a remote client it is the server that is unavailable, not this client: the error a watch, a wait or a
 * command gets carries the server's code, status and `storeClosed: true`, so a UI can say "server storage
 * unavailable", and the hooks' rule retries it (with their back-off: a restarted server is picked up), never this
 * client's own close.
 */

let harness: Harness | undefined;

afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

/**
 * The runtime's client with its store gone while `lost.error` is set: every watch fails with that error and every
 * command rejects with it, as a client over a lost store does. Clearing it is the server coming back.
 */
function losable(lost: { error?: DurableError | undefined }) {
  return (client: DurableClient): DurableClient => new Proxy(client, {
    get(target, key) {
      const value: unknown = Reflect.get(target, key);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        const { error } = lost;
        if (!error) return (value as (...a: unknown[]) => unknown).apply(target, args);
        return String(key).endsWith('$') ? throwError(() => error) : Promise.reject(error);
      };
    },
  });
}

const marksOf = (error: unknown) => {
  const e = error as (DurableError & { storeClosed?: unknown }) | undefined;
  return { code: e?.code, status: e?.status, storeClosed: e?.storeClosed };
};

describe('a server whose store is gone', () => {
  it.each([
    ['lost for good (IndexedDB upgraded by another tab)', () => new DatabaseUpgradingError('the database is being upgraded')],
    ['unusable (storeClosed on a storage error)', () => new StorageError('IndexedDB is not available here', { storeClosed: true })],
    ['closed', () => new StoreClosedError('The store is closed')],
  ])('gives a watch, a wait and a command the server\'s code, status and storeClosed when its store is %s', async (_, make) => {
    const lost: { error?: DurableError } = { error: make() };
    const h = (harness = await openHarness({}, losable(lost)));
    const client = createRemoteClient({ baseUrl: h.server.url, key: KEY });
    const states: string[] = [];
    const watching = client.connection$.subscribe(({ state }) => states.push(state));
    const expected = { code: lost.error!.code, status: lost.error!.status, storeClosed: true };
    expect(marksOf(await within(outcome(firstValueFrom(client.status$('a'))), 'the status watch failing'))).toEqual(expected);
    expect(marksOf(await within(outcome(firstValueFrom(client.customStatus$('a'))), 'the custom status watch failing'))).toEqual(expected);
    expect(marksOf(await within(outcome(firstValueFrom(client.instances$())), 'the list watch failing'))).toEqual(expected);
    // A wait goes on (this client is open), subscribing again, until its timeout and grace end it with no status: the
    // UnavailableError of no status read, the server's error its cause. On a clock of its own, moved past both once the
    // wait's first watch failed (it shares its subscription with the status$ made with it).
    const clock = new VirtualClock();
    const waiter = createRemoteClient({ baseUrl: h.server.url, key: KEY, clock });
    const waiting = outcome(waiter.waitForCompletion('a', { timeoutMs: 0 }));
    expect(marksOf(await within(outcome(firstValueFrom(waiter.status$('a'))), 'the wait\'s watch failing'))).toEqual(expected);
    await clock.advance(FIRST_ANSWER_GRACE_MS);
    const waited = await within(waiting, 'the wait ending');
    expect(waited).toBeInstanceOf(UnavailableError);
    expect(marksOf((waited as Error).cause)).toEqual(expected);
    waiter.close();
    expect(marksOf(await outcome(client.getStatus('a')))).toEqual(expected);
    expect(marksOf(await outcome(client.startNew('Echo', { input: 1 })))).toEqual(expected);
    // The connection carries no store: it never failed for it.
    expect(states).not.toContain('failed');
    expect(states).toContain('live');
    watching.unsubscribe();
    client.close();
  });

  it('is worth retrying by the hooks\' rule (the server may come back), and a retry after it is back gets the status', async () => {
    const lost: { error?: DurableError | undefined } = { error: new DatabaseUpgradingError('the database is being upgraded') };
    const h = (harness = await openHarness({}, losable(lost)));
    const client = createRemoteClient({ baseUrl: h.server.url, key: KEY });
    for (const source of [client.status$('a'), client.instances$()] as const) {
      const error = await within(outcome(firstValueFrom<unknown>(source)), 'the watch failing');
      expect(isRetryableForHooks(error)).toBe(true);
    }
    expect(isRetryableForHooks(await outcome(client.getStatus('a')))).toBe(true);
    // The server is back (restarted on a store that works): the next attempt is served.
    lost.error = undefined;
    await h.runtime.client.startNew('ShowInput', { instanceId: 'a', input: 'back' });
    expect(await within(firstValueFrom(client.customStatus$('a')), 'the status after the server came back')).toBe('back');
    client.close();
  });

  it('a real MemoryStore closed under the server: a live watch completes, later watches and commands get store-closed with storeClosed', async () => {
    const h = (harness = await openHarness());
    const client = createRemoteClient({ baseUrl: h.server.url, key: KEY });
    await h.runtime.client.startNew('ShowInput', { instanceId: 'live', input: 'Tokyo' });
    const values: unknown[] = [];
    const ended = new Promise<string>((resolve) => client.customStatus$('live').subscribe({
      next: (value) => values.push(value), error: (error: unknown) => resolve(`error ${String(error)}`), complete: () => resolve('complete'),
    }));
    await within(new Promise<void>((resolve) => {
      const poll = (): unknown => (values.length ? resolve() : setTimeout(poll, 10));
      poll();
    }), 'the live value');
    await h.runtime.store.close();
    // As the server's own client ends its watches when its store closes: complete, after the values it had.
    expect(await within(ended, 'the live watch ending')).toBe('complete');
    expect(values).toEqual(['Tokyo']);
    const expected = { code: 'store-closed', status: 503, storeClosed: true };
    const watched = await within(outcome(firstValueFrom(client.status$('a'))), 'the watch failing');
    expect(watched).toBeInstanceOf(StoreClosedError);
    expect(marksOf(watched)).toEqual(expected);
    expect(isRetryableForHooks(watched)).toBe(true);
    expect(marksOf(await outcome(client.getStatus('a')))).toEqual(expected);
    client.close();
  });

  it('fails a live watch with the error of a store lost while it is watched, marked storeClosed', async () => {
    const lostNow = new Subject<never>();
    // The server's watch of `live`: the runtime's, until the store is lost under it (as IndexedDB's changes$ fails).
    const server = serverClient((method, instanceId) =>
      method === 'status$' && instanceId === 'live' ? merge(harness!.runtime.client.status$('live'), lostNow) : undefined);
    const h = (harness = await openHarness({}, server.wrap));
    const client = createRemoteClient({ baseUrl: h.server.url, key: KEY });
    await h.runtime.client.startNew('ShowInput', { instanceId: 'live', input: 'Tokyo' });
    const values: unknown[] = [];
    const ended = new Promise<unknown>((resolve) => client.customStatus$('live').subscribe({
      next: (value) => values.push(value), error: resolve, complete: () => resolve('complete'),
    }));
    await within(new Promise<void>((resolve) => {
      const poll = (): unknown => (values.includes('Tokyo') ? resolve() : setTimeout(poll, 10));
      poll();
    }), 'the live value');
    lostNow.error(new DatabaseUpgradingError('the database is being upgraded'));
    const error = await within(ended, 'the live watch failing');
    expect(marksOf(error)).toEqual({ code: 'database-upgrading', status: 503, storeClosed: true });
    expect(isRetryableForHooks(error)).toBe(true);
    client.close();
  });

  it('is not this client\'s own close: that StoreClosedError says nothing of a server and is never retried', async () => {
    const h = (harness = await openHarness());
    const client = createRemoteClient({ baseUrl: h.server.url, key: KEY });
    client.close();
    const own = await outcome(firstValueFrom(client.status$('a')));
    expect(own).toBeInstanceOf(StoreClosedError);
    expect((own as { storeClosed?: unknown }).storeClosed).toBeUndefined();
    expect(isRetryableForHooks(own)).toBe(false);
    expect(isRetryableForHooks(await outcome(client.getStatus('a')))).toBe(false);
  });
});
