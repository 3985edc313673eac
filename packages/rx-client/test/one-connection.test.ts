import type { HistoryEvent, InstanceStatus } from '@durable-rx/runtime';
import { filter, firstValueFrom, ReplaySubject, timeout, toArray, take } from 'rxjs';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { MAX_SUBSCRIPTIONS_PER_SESSION } from '@durable-rx/runtime/client-kit';
import { VirtualClock } from '@durable-rx/runtime/testing';
import { InvalidArgumentError } from '@durable-rx/runtime';
import { createRemoteClient, type ConnectionState } from '../src/index.js';
import { KEY, openHarness, ownedByEachTest, type Harness } from './harness.js';

/** Every observable of one remote client shares one streaming connection (one server session). */

let harness: Harness;
const { subscriptions, record, cleanups } = ownedByEachTest();

beforeEach(async () => {
  const opened = (harness = await openHarness());
  cleanups.push(() => opened.close());
});


const sessionRequests = () => harness.requests.filter((r) => r.method === 'GET' && r.path.endsWith('/streams'));

describe('one connection per client', () => {
  it('watches 10 instances, a list and a history over a single connection, each delivering every committed value', async () => {
    const client = createRemoteClient({ baseUrl: harness.server.url, key: KEY });
    const local = harness.runtime.client;
    const ids = Array.from({ length: 10 }, (_, i) => `one-${i}`);
    const remote = ids.map((id) => record<unknown>(client.customStatus$(id)));
    const list = record<InstanceStatus[]>(client.instances$({ instanceIdPrefix: 'one-' }));
    const history = record<HistoryEvent>(client.history$('one-0'));
    await Promise.all(remote.map((r) => r.seen((v) => v === undefined)));
    for (const id of ids) await local.startNew('E1_HelloSequence', { instanceId: id });
    await Promise.all(remote.map((r) => r.seen((v) => v === 'London')));
    await list.seen((l) => l.length === ids.length && l.every((s) => s.runtimeStatus === 'Completed'));
    await history.seen((e) => e.type === 'ExecutionCompleted');
    for (const r of remote) expect(r.values).toEqual([undefined, 'Tokyo', 'Seattle', 'London']);
    expect(sessionRequests()).toHaveLength(1);
    const full = (await local.getStatus('one-0', { showHistory: true, showHistoryOutput: true }))!.history!;
    expect(history.values).toEqual(full.slice(0, history.values.length));
  });

  it('reports its connection: connecting, live, reconnecting while the server is gone, live again', async () => {
    const client = createRemoteClient({ baseUrl: harness.server.url, key: KEY, reconnect: { initialDelayMs: 10 } });
    const states = record<ConnectionState>(client.connection$);
    expect(states.values).toEqual([{ state: 'idle' }]);
    const watched = record<unknown>(client.customStatus$('x'));
    await watched.seen((v) => v === undefined);
    await states.seen((s) => s.state === 'live');
    harness.server.server.closeAllConnections();
    await states.seen((s) => s.state === 'reconnecting');
    await firstValueFrom(client.connection$.pipe(filter((s) => s.state === 'live')));
    expect(states.values.slice(0, 3).map((s) => s.state)).toEqual(['idle', 'connecting', 'live']);
    for (const s of subscriptions.splice(0)) s.unsubscribe();
    expect(await firstValueFrom(client.connection$.pipe(filter((s) => s.state === 'idle')))).toEqual({ state: 'idle' });
  });

  it('fails every watcher with the typed error and reports failed when the key is wrong', async () => {
    const client = createRemoteClient({ baseUrl: harness.server.url, key: 'wrong' });
    const errors = await Promise.all([firstValueFrom(client.status$('a')), firstValueFrom(client.instances$())].map((p) => p.catch((e: unknown) => e)));
    for (const error of errors) expect(error).toMatchObject({ code: 'unauthorized', status: 401 });
    expect(await firstValueFrom(client.connection$)).toMatchObject({ state: 'failed', error: { code: 'unauthorized' } });
    expect(sessionRequests()).toHaveLength(1);
  });

  it('completes a watcher when the server ends its subscription, and keeps the others', async () => {
    const client = createRemoteClient({ baseUrl: harness.server.url, key: KEY });
    const both = firstValueFrom(client.customStatus$('c').pipe(take(4), toArray()));
    const other = record<unknown>(client.customStatus$('d'));
    await other.seen((v) => v === undefined);
    await harness.runtime.client.startNew('E1_HelloSequence', { instanceId: 'c' });
    expect(await both).toEqual([undefined, 'Tokyo', 'Seattle', 'London']);
    await harness.runtime.client.startNew('E1_HelloSequence', { instanceId: 'd' });
    await other.seen((v) => v === 'London');
    expect(sessionRequests()).toHaveLength(1);
  });
});

describe('closing the connection when the server ends the last watch', () => {
  it('goes idle, closes the stream and deletes the server session once the server ends the last watch', async () => {
    const client = createRemoteClient({ baseUrl: harness.server.url, key: KEY });
    const values = firstValueFrom(client.status$('last').pipe(toArray()));
    await firstValueFrom(client.connection$.pipe(filter((s) => s.state === 'live')));
    // The server's client closes: its observables complete, so the server ends the subscription and the client's completes.
    harness.runtime.client.close();
    expect(await values).toEqual([undefined]);
    // Without the idle check after the server's close the connection stays open with no watch: a clear error, not a
    // test timeout.
    const idle = client.connection$.pipe(filter((s) => s.state === 'idle'), timeout({ first: 30_000 }));
    expect(await firstValueFrom(idle)).toEqual({ state: 'idle' });
    const [stream] = sessionRequests();
    if (!stream!.signal.aborted) await new Promise((resolve) => stream!.signal.addEventListener('abort', resolve, { once: true }));
    await vi.waitFor(() => {
      expect(harness.requests.some((r) => r.method === 'DELETE' && r.path.includes('/streams/'))).toBe(true);
    }, { timeout: 10_000 });
  });
});

describe('keeping the connection from one watch to the next', () => {
  const deletes = () => harness.requests.filter((r) => r.method === 'DELETE' && r.path.includes('/streams/'));

  it('reuses one connection for waits and first values awaited one after another', async () => {
    const ids = ['seq-0', 'seq-1', 'seq-2'];
    for (const id of ids) await harness.runtime.client.startNew('E1_HelloSequence', { instanceId: id });
    for (const id of ids) await harness.runtime.client.waitForCompletion(id, { timeoutMs: 30_000 });
    const client = createRemoteClient({ baseUrl: harness.server.url, key: KEY });
    // Each wait ends (unsubscribing the last watch) a few microtasks before the loop watches the next instance.
    for (const id of ids) expect(await client.waitForCompletion(id)).toMatchObject({ instanceId: id, runtimeStatus: 'Completed' });
    for (const id of ids) expect(await firstValueFrom(client.status$(id))).toMatchObject({ instanceId: id });
    expect(sessionRequests()).toHaveLength(1);
    expect(deletes()).toHaveLength(0);
    // Once nothing is watched after that, the connection closes by itself and the session is deleted.
    await firstValueFrom(client.connection$.pipe(filter((s) => s.state === 'idle'), timeout({ first: 30_000 })));
    await vi.waitFor(() => expect(deletes()).toHaveLength(1), { timeout: 10_000 });
    expect(sessionRequests()).toHaveLength(1);
  });

  it('closes the connection on the client clock after the last watch, and close() leaves no timer', async () => {
    await harness.runtime.client.startNew('E1_HelloSequence', { instanceId: 'linger' });
    await harness.runtime.client.waitForCompletion('linger', { timeoutMs: 30_000 });
    const clock = new VirtualClock();
    const client = createRemoteClient({ baseUrl: harness.server.url, key: KEY, clock });
    await client.waitForCompletion('linger');
    expect(await firstValueFrom(client.connection$)).toEqual({ state: 'live' }); // kept until the clock moves
    await clock.advance(0);
    await firstValueFrom(client.connection$.pipe(filter((s) => s.state === 'idle'), timeout({ first: 30_000 })));
    await vi.waitFor(() => expect(deletes()).toHaveLength(1), { timeout: 10_000 });
    // The session's DELETE is timed as every request: its deadline goes once it is answered.
    await vi.waitFor(() => expect(clock.pendingTimers).toBe(0), { timeout: 10_000 });

    // The same end of the last watch, then close() before the clock moves: nothing is left armed.
    await client.waitForCompletion('linger');
    expect(clock.pendingTimers).toBe(2); // the close after the last watch, and the connection's watchdog
    client.close();
    // The watchdog goes when the aborted stream has ended; a close timer left behind would stay for ever.
    await vi.waitFor(() => expect(clock.pendingTimers).toBe(0), { timeout: 10_000 });
    expect(sessionRequests()).toHaveLength(2);
  });
});

/**
 * A remote client (closed after the test) whose next subscription request, once `holdNext()` is called, is held as on a
 * slow network: `reached` resolves when that request is made, `release()` lets it go.
 */
function slowSubscriptions() {
  let hold: Promise<void> | undefined;
  let made: (() => void) | undefined;
  const slowFetch: typeof fetch = async (input, init) => {
    if (hold && String(input).endsWith('/subscriptions')) {
      const gate = hold;
      hold = undefined;
      made?.();
      await gate;
    }
    return fetch(input, init);
  };
  const client = createRemoteClient({ baseUrl: harness.server.url, key: KEY, fetch: slowFetch });
  cleanups.push(() => client.close());
  const holdNext = () => {
    let release!: () => void;
    hold = new Promise<void>((resolve) => (release = resolve));
    const reached = new Promise<void>((resolve) => (made = resolve));
    return { reached, release };
  };
  return { client, holdNext };
}

describe('many watches ended while a subscription request is on its way', () => {
  it('sends more unsubscribes than one request may list over several requests, so a new watch gets its value and live ones keep theirs', async () => {
    const { client, holdNext } = slowSubscriptions();
    const kept = record<InstanceStatus | undefined>(client.status$('kept'));
    await kept.seen((s) => s === undefined);
    const { reached, release } = holdNext();
    record(client.status$('slow'));
    await reached;
    // A paging dashboard: one row more than a request may list watched and unwatched while that request waits.
    for (let i = 0; i <= MAX_SUBSCRIPTIONS_PER_SESSION; i++) client.status$(`row-${i}`).subscribe().unsubscribe();
    const added = record<InstanceStatus | undefined>(client.status$('added'));
    const errors: unknown[] = [];
    subscriptions.push(client.status$('added').subscribe({ error: (error: unknown) => errors.push(error) }));
    release();
    await added.seen((s) => s === undefined);
    await harness.runtime.client.startNew('E1_HelloSequence', { instanceId: 'kept' });
    await kept.seen((s) => s?.runtimeStatus === 'Completed');
    expect(errors).toEqual([]);
  });
});

describe('a full session swapping its watches while a subscription request is on its way', () => {
  it('sends the new watches once the unsubscribes before them, more than one request may list, are sent, so the session has room', async () => {
    const { client, holdNext } = slowSubscriptions();
    const firstValues: Promise<void>[] = [];
    const old = Array.from({ length: MAX_SUBSCRIPTIONS_PER_SESSION }, (_, n) => {
      let seen!: () => void;
      firstValues.push(new Promise<void>((resolve) => (seen = resolve)));
      return client.status$(`old-${n}`).subscribe(() => seen());
    });
    await Promise.all(firstValues); // the session is full
    const { reached, release } = holdNext();
    old[0]!.unsubscribe(); // this change's request is held
    await reached;
    // Two rows watched and unwatched before the server heard of them, then every other old watch swapped for a new one.
    client.status$('never-1').subscribe().unsubscribe();
    client.status$('never-2').subscribe().unsubscribe();
    for (const watch of old.slice(1)) watch.unsubscribe();
    const errors: unknown[] = [];
    const fresh = Array.from({ length: MAX_SUBSCRIPTIONS_PER_SESSION }, (_, n) => firstValueFrom(client.status$(`new-${n}`)).catch((error: unknown) => void errors.push(error)));
    release();
    await Promise.all(fresh);
    expect(errors).toEqual([]);
  });
});

describe('more watches at once than a session holds', () => {
  it('serves the watches a session holds and fails only the one beyond them, not every watch of the request', async () => {
    const client = createRemoteClient({ baseUrl: harness.server.url, key: KEY });
    cleanups.push(() => client.close());
    // A list of one row more than a session holds mounted in one render, each watching on: every watch is sent by the
    // same flush.
    const outcomes = await Promise.all(Array.from({ length: MAX_SUBSCRIPTIONS_PER_SESSION + 1 }, (_, n) => new Promise<string | undefined>((resolve) => {
      subscriptions.push(client.status$(`row-${n}`).subscribe({
        next: (status) => resolve(status === undefined ? 'watched' : 'unexpected'),
        error: (error: unknown) => resolve((error as { code?: string }).code),
      }));
    })));
    expect(outcomes.filter((o) => o === 'watched')).toHaveLength(MAX_SUBSCRIPTIONS_PER_SESSION);
    expect(outcomes.filter((o) => o !== 'watched')).toEqual(['invalid-argument']);
  });
});

describe('more new watches than the room a session has left', () => {
  it('serves those that fit, fails only the rest with InvalidArgumentError, and keeps the session and its watches', async () => {
    const client = createRemoteClient({ baseUrl: harness.server.url, key: KEY });
    cleanups.push(() => client.close());
    const states = record<ConnectionState>(client.connection$);
    /** Watches the status of `id` on: resolves with 'watched' at its first value, or with the error it fails with. */
    const watch = (id: string) => new Promise<unknown>((resolve) => {
      subscriptions.push(client.status$(id).subscribe({
        next: (status) => resolve(status === undefined ? 'watched' : status), error: resolve,
      }));
    });
    // A list of 500 rows watched, then grown by 600 in one render: every new watch goes in one request.
    const held = 500;
    const kept = record<InstanceStatus | undefined>(client.status$('old-0'));
    const old = Array.from({ length: held - 1 }, (_, n) => `old-${n + 1}`);
    expect(await Promise.all(old.map(watch))).toEqual(old.map(() => 'watched'));
    await kept.seen((s) => s === undefined);
    const outcomes = await Promise.all(Array.from({ length: 600 }, (_, n) => watch(`new-${n}`)));
    const room = MAX_SUBSCRIPTIONS_PER_SESSION - held; // 500: the first 500, in the order they were made
    expect(outcomes.slice(0, room)).toEqual(outcomes.slice(0, room).map(() => 'watched'));
    const refused = outcomes.slice(room);
    expect(refused).toHaveLength(100);
    for (const error of refused) {
      expect(error).toBeInstanceOf(InvalidArgumentError);
      expect(error).toMatchObject({ code: 'invalid-argument', message: `A session holds at most ${MAX_SUBSCRIPTIONS_PER_SESSION} subscriptions` });
    }
    // The watches of before carry on, in the same session: the connection was never broken off.
    await harness.runtime.client.startNew('E1_HelloSequence', { instanceId: 'old-0' });
    await kept.seen((s) => s?.runtimeStatus === 'Completed');
    expect(states.values.map((s) => s.state)).toEqual(['idle', 'connecting', 'live']);
    expect(sessionRequests()).toHaveLength(1);
  });
});
