import { InstanceNotFoundError, StoreClosedError, UnavailableError } from '@durable-rx/runtime';
import { VirtualClock } from '@durable-rx/runtime/testing';
import { EMPTY, filter, firstValueFrom, lastValueFrom, Subject, takeUntil, throwError, toArray } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { FIRST_ANSWER_GRACE_MS } from '@durable-rx/runtime/client-kit';
import { createRemoteClient, type ConnectionState } from '../src/index.js';
import { KEY, openHarness, outcome, serverClient, until, within, type Harness } from './harness.js';

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
    // The wait goes on after such an end (this client is open), subscribing again, until its timeout and grace end it
    // with no status: on a clock of its own, moved past both.
    const clock = new VirtualClock();
    const waiter = createRemoteClient({ baseUrl: h.server.url, key: KEY, clock });
    const waiting = outcome(waiter.waitForCompletion('ends', { timeoutMs: 0 }));
    await clock.advance(FIRST_ANSWER_GRACE_MS);
    const waited = await within(waiting, 'the wait ending');
    waiter.close();
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

describe('a watch the server ends while this client stays open', () => {
  it('keeps waitForCompletion waiting, subscribed again, until the instance completes: no StoreClosedError from the server\'s end', async () => {
    // The server's first watch of `cut` ends when the test says (as when its handler's client closes: a `close` event,
    // no error); the second fails with the server's store closed (`storeClosed: true`); the third is the runtime's own.
    const cut = new Subject<void>();
    let watches = 0;
    const server = serverClient((method, instanceId) => {
      if (method !== 'status$' || instanceId !== 'cut') return undefined;
      watches++;
      if (watches === 1) return h.runtime.client.status$(instanceId).pipe(takeUntil(cut));
      if (watches === 2) return throwError(() => new StoreClosedError('The store is closed'));
      return undefined;
    });
    const h = (harness = await openHarness({}, server.wrap));
    const client = createRemoteClient({ baseUrl: h.server.url, key: KEY });
    await h.runtime.client.startNew('WaitForEvents', { instanceId: 'cut', input: 1 });
    await firstValueFrom(h.runtime.client.status$('cut').pipe(filter((s) => s?.runtimeStatus === 'Running')));
    const waiting = outcome(client.waitForCompletion('cut', { timeoutMs: SETTLED_WAIT_MS }));
    await until(() => server.live('cut') === 1, 'the server watching');
    cut.next();
    // Subscribed again after the end, and again after the store-closed failure: the third watch is live.
    await until(() => watches === 3 && server.live('cut') === 1, 'the wait subscribed again twice');
    await h.runtime.client.raiseEvent('cut', 'Item', 'last');
    expect(await within(waiting, 'the wait ending')).toMatchObject({ instanceId: 'cut', runtimeStatus: 'Completed', output: ['last'] });
    client.close();
  });
});

describe('a watch the server keeps ending while a long wait goes on', () => {
  it('subscribes again at most 10 s after each end, as the hooks do, not after a delay that doubles without end', async () => {
    // The server's first six watches of `outage` end before their first value (its store down for a while); the
    // seventh is the runtime's own. On a clock of its own, moved 10 s per end: a delay that kept doubling (16 s after
    // the fifth) would leave the wait deaf to the instance long after the server is back.
    let watches = 0;
    const server = serverClient((method, instanceId) => {
      if (method !== 'status$' || instanceId !== 'outage') return undefined;
      watches++;
      return watches <= 6 ? EMPTY : undefined;
    });
    const h = (harness = await openHarness({}, server.wrap));
    const clock = new VirtualClock();
    // No stream timeout: the clock moves far past it with no heartbeat on its time.
    const client = createRemoteClient({ baseUrl: h.server.url, key: KEY, clock, reconnect: { timeoutMs: Infinity } });
    await h.runtime.client.startNew('WaitForEvents', { instanceId: 'outage', input: 1 });
    await firstValueFrom(h.runtime.client.status$('outage').pipe(filter((s) => s?.runtimeStatus === 'Running')));
    const waiting = outcome(client.waitForCompletion('outage', { timeoutMs: 3_600_000 }));
    for (let ended = 1; ended <= 6; ended++) {
      await until(() => watches === ended && server.live('outage') === 0, `watch ${ended} ended`);
      await clock.advance(10_000);
    }
    await until(() => watches === 7 && server.live('outage') === 1, 'the wait subscribed again');
    await h.runtime.client.raiseEvent('outage', 'Item', 'last');
    expect(await within(waiting, 'the wait ending')).toMatchObject({ instanceId: 'outage', runtimeStatus: 'Completed' });
    client.close();
  });
});

/** A timeout that only a broken wait reaches: the test ends by the instance's completion. */
const SETTLED_WAIT_MS = 120_000;
