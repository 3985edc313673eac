import { WEBHOOK_PATH } from '@durable-rx/runtime/client-kit';
import { VirtualClock } from '@durable-rx/runtime/testing';
import type { InstanceStatus } from '@durable-rx/runtime';
import { filter, firstValueFrom, lastValueFrom, ReplaySubject, take, toArray } from 'rxjs';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createRemoteClient, type RemoteClientOptions } from '../src/index.js';
import { KEY, openHarness, outcome, within, type Harness } from './harness.js';
import { SETTLED } from '../../../test-support/settled.js';

let harness: Harness;

beforeEach(async () => {
  harness = await openHarness();
});

afterEach(async () => {
  await harness.close();
});

/**
 * A client of the harness's server whose `fetch` logs `sent <method> <path>` when a request leaves and
 * `answered <method> <path>` when its answer's headers are in; with `gated`, subscription requests leave only once
 * `open()` was called (or are refused when aborted first). `hold()` closes the gate again (for the requests made from
 * then on), whether or not it was `gated`.
 */
function loggedClient(options: Partial<RemoteClientOptions> = {}, gated = false) {
  const log: string[] = [];
  let open!: () => void;
  let gate: Promise<void> | undefined;
  const hold = (): void => void (gate = new Promise<void>((resolve) => (open = resolve)));
  if (gated) hold();
  const client = createRemoteClient({
    baseUrl: harness.server.url,
    key: KEY,
    ...options,
    fetch: async (input, init) => {
      const what = `${init?.method ?? 'GET'} ${new URL(String(input)).pathname.slice(WEBHOOK_PATH.length)}`;
      const held = what.endsWith('/subscriptions') && gate;
      if (held) {
        await new Promise<void>((resolve, reject) => {
          void held.then(resolve);
          init?.signal?.addEventListener('abort', () => reject(init.signal!.reason));
        });
      }
      log.push(`sent ${what}`);
      const response = await fetch(input, init);
      log.push(`answered ${what}`);
      return response;
    },
  });
  const sent = (what: string): boolean => log.includes(`sent ${what}`);
  /** The index in `log` of the last answer to a subscription request. */
  const lastAnswered = (): number => log.findLastIndex((line) => /^answered POST \/streams\/[^/]+\/subscriptions$/.test(line));
  return { client, log, open: () => open(), hold, sent, lastAnswered };
}

describe('a command sent after a watch was subscribed', () => {
  it('leaves only once the server has answered the watch\u2019s subscription, whatever the command', async () => {
    const { client, log, open, sent } = loggedClient({}, true);
    const statuses = lastValueFrom(client.status$('order').pipe(take(3), toArray()));
    const commands = [
      client.startNew('WaitForEvents', { instanceId: 'order', input: 1 }),
      client.raiseEvent('other', 'Item', 1),
      client.suspend('other'),
      client.resume('other'),
      client.rewind('other'),
      client.restart('other'),
      client.terminate('other'),
      client.purgeInstanceHistory('other'),
      client.purgeInstanceHistoryBy({ createdTimeFrom: new Date(0) }),
    ].map(outcome);
    // A read does not wait: it changes nothing a watch could miss. By the time its whole round trip is over, a command
    // that did not wait would have been sent long ago (each is sent in the call that makes it).
    expect(await client.getStatus('order')).toBeUndefined();
    expect(log.filter((line) => line.startsWith('sent ') && !line.endsWith('/streams') && !line.endsWith('/instances/order')))
      .toEqual([]);
    open();
    const results = await within(Promise.all(commands), 'the commands');
    expect(results[0]).toBe('order');
    const answered = log.findIndex((line) => /^answered POST \/streams\/[^/]+\/subscriptions$/.test(line));
    expect(answered).toBeGreaterThan(-1);
    for (const path of ['POST /orchestrators/WaitForEvents/order', 'POST /instances/other/raiseEvent/Item', 'DELETE /instances']) {
      expect(log.indexOf(`sent ${path}`)).toBeGreaterThan(answered);
    }
    expect(sent('POST /instances/other/terminate')).toBe(true);
    // The watch saw what the start committed: no instance yet, then Pending, then Running.
    expect((await within(statuses, 'the statuses')).map((s) => s?.runtimeStatus)).toEqual([undefined, 'Pending', 'Running']);
    client.close();
  });

  it('leaves at once when no watch waits for its subscription: none made, one ended, or one the server answered', async () => {
    const { client, sent } = loggedClient();
    const first = client.startNew('Echo', { instanceId: 'a', input: 1 });
    expect(sent('POST /orchestrators/Echo/a')).toBe(true);
    await first;
    // Subscribed and unsubscribed before its request left: nothing to wait for.
    client.status$('b').subscribe().unsubscribe();
    const second = client.startNew('Echo', { instanceId: 'b', input: 1 });
    expect(sent('POST /orchestrators/Echo/b')).toBe(true);
    await second;
    // A watch whose subscription the server answered (the first command after it waited for that answer).
    const watching = client.status$('c').subscribe();
    await client.startNew('WaitForEvents', { instanceId: 'c', input: 1 });
    const third = client.raiseEvent('c', 'Item', 1);
    expect(sent('POST /instances/c/raiseEvent/Item')).toBe(true);
    await third;
    watching.unsubscribe();
    client.close();
  });

  it('waits for the watches made before it only: one that ends lets go the commands made before the next', async () => {
    const { client, log, open, sent } = loggedClient({}, true);
    const first = client.status$('first').subscribe({ error: () => {} });
    const one = client.startNew('Echo', { instanceId: 'one', input: 1 });
    const second = client.status$('second').subscribe({ error: () => {} });
    const two = client.startNew('Echo', { instanceId: 'two', input: 1 });
    // A watch made after both commands, which ends: neither waited for it, and both still wait for the first.
    client.status$('third').subscribe().unsubscribe();
    // A round trip: a command let go would have been sent long before its end.
    expect(await client.getStatus('one')).toBeUndefined();
    expect(sent('POST /orchestrators/Echo/one')).toBe(false);
    expect(sent('POST /orchestrators/Echo/two')).toBe(false);
    // The first watch ends: the command made before the second goes; the one after it still waits for it.
    first.unsubscribe();
    expect(await within(one, 'the first start')).toBe('one');
    expect(sent('POST /orchestrators/Echo/two')).toBe(false);
    open();
    expect(await within(two, 'the second start')).toBe('two');
    const answered = log.findIndex((line) => /^answered POST \/streams\/[^/]+\/subscriptions$/.test(line));
    expect(answered).toBeGreaterThan(-1);
    expect(log.indexOf('sent POST /orchestrators/Echo/two')).toBeGreaterThan(answered);
    second.unsubscribe();
    client.close();
  });

  it('is not held by a watch the server refuses', async () => {
    // No deadline: only the refusal can let the command go.
    const { client } = loggedClient({ timeoutMs: Infinity });
    harness.refuseStreams(1, 403, '/subscriptions', 'forbidden');
    const watch = outcome(firstValueFrom(client.status$('refused')));
    const started = client.startNew('Echo', { instanceId: 'refused', input: 1 });
    expect(await within(started, 'the start')).toBe('refused');
    expect(await within(watch, 'the watch\u2019s end')).toMatchObject({ status: 403 });
    client.close();
  });

  it('is not held by a stream that fails: it goes when the connection attempt fails, not after the reconnect delay', async () => {
    // The next attempt an hour away, and no deadline: only the failed attempt can let the command go.
    const { client, sent } = loggedClient({ timeoutMs: Infinity, reconnect: { initialDelayMs: 3_600_000, maxDelayMs: 3_600_000 } });
    harness.refuseStreams(1, 503);
    const states: string[] = [];
    const connection = client.connection$.subscribe(({ state }) => states.push(state));
    const watching = client.status$('down').subscribe({ error: () => {} });
    expect(await within(client.startNew('Echo', { instanceId: 'down', input: 1 }), 'the start')).toBe('down');
    expect(sent('POST /orchestrators/Echo/down')).toBe(true);
    expect(states).toEqual(['idle', 'connecting', 'reconnecting']);
    watching.unsubscribe();
    connection.unsubscribe();
    client.close();
  });

  it('is not held while the stream is down: a command made during the reconnect delay goes at once, and waits again once live', async () => {
    // The clock never moves on its own: the wait's bound (20 s) cannot pass, and the next attempt comes only when told.
    const clock = new VirtualClock();
    const { client, log, sent } = loggedClient({
      clock, timeoutMs: 20_000, reconnect: { initialDelayMs: 1000, maxDelayMs: 1000, timeoutMs: Infinity },
    });
    harness.refuseStreams(1, 503);
    const watching = client.status$('down').subscribe({ error: () => {} });
    await within(firstValueFrom(client.connection$.pipe(filter(({ state }) => state === 'reconnecting'))), 'the failed attempt');
    // The watch's subscription is not answered (no session), yet the command leaves in the call that makes it.
    const started = client.startNew('Echo', { instanceId: 'down', input: 1 });
    expect(sent('POST /orchestrators/Echo/down')).toBe(true);
    expect(await within(started, 'the start')).toBe('down');
    // The next attempt resumes: live, the watch subscribed in its session.
    await clock.advance(1000);
    await within(firstValueFrom(client.connection$.pipe(filter(({ state }) => state === 'live'))), 'the next session');
    // A watch made now, and a command after it: the command waits for its subscription again.
    const later = client.status$('later').subscribe({ error: () => {} });
    const second = client.startNew('Echo', { instanceId: 'later', input: 1 });
    expect(sent('POST /orchestrators/Echo/later')).toBe(false);
    expect(await within(second, 'the second start')).toBe('later');
    const answered = log.findLastIndex((line) => /^answered POST \/streams\/[^/]+\/subscriptions$/.test(line));
    expect(log.indexOf('sent POST /orchestrators/Echo/later')).toBeGreaterThan(answered);
    later.unsubscribe();
    watching.unsubscribe();
    client.close();
  });

  it('is not held with no deadline while the next attempt of the stream hangs', async () => {
    // No deadline for the command nor for the stream: before the fix, nothing could let the command go.
    const clock = new VirtualClock();
    const { client, sent } = loggedClient({
      clock, timeoutMs: Infinity, reconnect: { initialDelayMs: 1000, maxDelayMs: 1000, timeoutMs: Infinity },
    });
    harness.refuseStreams(1, 503);
    const watching = client.status$('hung').subscribe({ error: () => {} });
    await within(firstValueFrom(client.connection$.pipe(filter(({ state }) => state === 'reconnecting'))), 'the failed attempt');
    harness.holdRequests('/streams');
    await clock.advance(1000);
    await vi.waitFor(() => expect(harness.requests.filter(({ path }) => path.endsWith('/streams'))).toHaveLength(2), { timeout: 30_000 });
    const started = client.startNew('Echo', { instanceId: 'hung', input: 1 });
    expect(sent('POST /orchestrators/Echo/hung')).toBe(true);
    expect(await within(started, 'the start')).toBe('hung');
    watching.unsubscribe();
    client.close();
  });

  it('waits for a watch made in the same tick on a live stream, whose subscription request leaves on a later microtask', async () => {
    const { client, log, sent, lastAnswered } = loggedClient({ timeoutMs: Infinity, reconnect: { timeoutMs: Infinity } });
    // The stream is live and its session holds a watch: the next watch's subscription goes in a request of its own.
    const anchor = new ReplaySubject<unknown>();
    const anchored = client.status$('anchor').subscribe(anchor);
    await within(firstValueFrom(anchor), 'the first watch\u2019s first value');
    // Its subscription answered too (the server may send the first value before its answer): no command waits for it.
    await vi.waitFor(() => expect(lastAnswered()).toBeGreaterThan(-1), { timeout: 60_000 });
    const answered = lastAnswered();
    // In one tick: the watch, then the command. Neither request has left when the call returns.
    const statuses = lastValueFrom(client.status$('tick').pipe(take(3), toArray()));
    const started = client.startNew('WaitForEvents', { instanceId: 'tick', input: 1 });
    expect(sent('POST /orchestrators/WaitForEvents/tick')).toBe(false);
    expect(await within(started, 'the start')).toBe('tick');
    // The command left after the answer to the watch's subscription, a request made after the call.
    expect(lastAnswered()).toBeGreaterThan(answered);
    expect(log.indexOf('sent POST /orchestrators/WaitForEvents/tick')).toBeGreaterThan(lastAnswered());
    expect((await within(statuses, 'the statuses')).map((s) => s?.runtimeStatus)).toEqual([undefined, 'Pending', 'Running']);
    anchored.unsubscribe();
    client.close();
  });

  /**
   * A client with no deadline for commands nor for its stream, watching the status of `id` (its subscription answered),
   * whose stream then reconnects into a new session (the server lost the old one) and is live there, with the watch's
   * subscription to that session held until `open()`.
   */
  async function liveInNewSession(id: string) {
    const logged = loggedClient({ timeoutMs: Infinity, reconnect: { initialDelayMs: 10, timeoutMs: Infinity } });
    const states: string[] = [];
    const connection = logged.client.connection$.subscribe(({ state }) => states.push(state));
    const values = new ReplaySubject<InstanceStatus | undefined>();
    const watching = logged.client.status$(id).subscribe({ next: (value) => values.next(value), error: () => {} });
    await within(firstValueFrom(values), 'the first value');
    await vi.waitFor(() => expect(logged.lastAnswered()).toBeGreaterThan(-1), { timeout: 60_000 });
    const statuses = lastValueFrom(values.pipe(take(3), toArray()));
    logged.hold();
    harness.restartHandler(); // the stream ends; the new handler knows no session
    await vi.waitFor(() => expect(states.slice(3)).toEqual(['reconnecting', 'live']), { timeout: 60_000 });
    const subscribed = () => new Set(harness.requests.filter(({ path }) => path.endsWith('/subscriptions')).map(({ path }) => path)).size;
    expect(subscribed()).toBe(1); // the new session's request is held
    const release = () => (watching.unsubscribe(), connection.unsubscribe(), logged.client.close());
    return { ...logged, states, statuses, subscribed, release };
  }

  it('waits again, once live in a new session (the server lost the old one), for the watches sent to it again', async () => {
    const { client, log, open, sent, lastAnswered, statuses, subscribed, release } = await liveInNewSession('again');
    const started = client.startNew('WaitForEvents', { instanceId: 'again', input: 1 });
    // A round trip: a command that did not wait would have been sent long before its end.
    expect(await client.getStatus('again')).toBeUndefined();
    expect(sent('POST /orchestrators/WaitForEvents/again')).toBe(false);
    open();
    expect(await within(started, 'the start')).toBe('again');
    expect(subscribed()).toBe(2);
    expect(log.indexOf('sent POST /orchestrators/WaitForEvents/again')).toBeGreaterThan(lastAnswered());
    // The new session's first value (no instance) was seen already; then what the start committed, none missed.
    expect((await within(statuses, 'the statuses')).map((s) => s?.runtimeStatus)).toEqual([undefined, 'Pending', 'Running']);
    release();
  });

  it('is not held by the watches sent again to a new session when that stream fails too', async () => {
    const { client, sent, lastAnswered, states, release } = await liveInNewSession('failing');
    const answered = lastAnswered();
    const started = client.startNew('Echo', { instanceId: 'failing', input: 1 });
    expect(await client.getStatus('failing')).toBeUndefined();
    expect(sent('POST /orchestrators/Echo/failing')).toBe(false);
    // Only the stream's end can let it go now: the subscription is held, and nothing has a deadline.
    harness.server.server.closeAllConnections();
    expect(await within(started, 'the start')).toBe('failing');
    expect(states.slice(5, 6)).toEqual(['reconnecting']);
    expect(lastAnswered()).toBe(answered);
    release();
  });

  it('waits for an unanswered subscription at most its timeoutMs, then goes', async () => {
    const clock = new VirtualClock();
    // No watchdog on the stream: the wait's own bound is all that ends it.
    const { client, sent } = loggedClient({ clock, timeoutMs: 5000, reconnect: { timeoutMs: Infinity } }, true);
    const watching = client.status$('slow').subscribe({ error: () => {} });
    const started = outcome(client.startNew('Echo', { instanceId: 'slow', input: 1 }));
    await vi.waitFor(() => expect(clock.pendingTimers).toBe(1), { timeout: SETTLED.timeoutMs }); // the wait's bound, nothing else
    expect(sent('POST /orchestrators/Echo/slow')).toBe(false);
    await clock.advance(5000);
    await vi.waitFor(() => expect(sent('POST /orchestrators/Echo/slow')).toBe(true), { timeout: SETTLED.timeoutMs });
    expect(await within(started, 'the start')).toBe('slow');
    watching.unsubscribe();
    client.close();
  });
});
