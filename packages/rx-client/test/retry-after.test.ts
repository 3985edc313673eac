import { createRuntime, MemoryStore, silentLogger } from '@durable-rx/runtime';
import { VirtualClock } from '@durable-rx/runtime/testing';
import { WEBHOOK_PATH } from '@durable-rx/runtime/client-kit';
import { createHttpHandler } from '@durable-rx/runtime/http';
import { filter, firstValueFrom } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { createRemoteClient } from '../src/index.js';
import { retryAfterMs } from '../src/retry-after.js';
import { KEY, openHarness, orchestrators, outcome, ownedByEachTest, serveForTest, until, within } from './harness.js';

const { cleanups } = ownedByEachTest();

describe('a stream refused with Retry-After', () => {
  it('is tried again no sooner than the server asked: a full server (maxStreams) is not asked again meanwhile', async () => {
    const harness = await openHarness({ maxStreams: 1, retryAfterSeconds: 10 });
    cleanups.push(() => harness.close());
    // Another client holds the server's one place: a session of its own, live.
    const occupant = new AbortController();
    cleanups.push(() => occupant.abort());
    const held = await fetch(`${harness.server.url}${WEBHOOK_PATH}/streams`, {
      headers: { authorization: `Bearer ${KEY}`, accept: 'text/event-stream' }, signal: occupant.signal,
    });
    const reader = held.body!.getReader();
    let text = '';
    while (!/data: (\{.*\})\n/.test(text)) text += new TextDecoder().decode((await reader.read()).value);
    const { session } = JSON.parse(/data: (\{.*\})\n/.exec(text)![1]!) as { session: string };

    const clock = new VirtualClock();
    // No watchdog timer: the one timer armed after the refusal is the reconnect.
    const client = createRemoteClient({ baseUrl: harness.server.url, key: KEY, clock, reconnect: { timeoutMs: Infinity } });
    cleanups.push(() => client.close());
    const streamRequests = () => harness.requests.filter((r) => r.method === 'GET' && r.path.endsWith('/streams')).length;
    const first = firstValueFrom(client.status$('later'));
    await clock.waitForTimer(); // refused with 503 and Retry-After: 10
    expect(streamRequests()).toBe(2);
    expect(clock.nextTimerAt!.getTime() - clock.now().getTime()).toBeGreaterThanOrEqual(10_000);

    // The place is free again; the client comes back when it was told to, and is served.
    const deleted = await fetch(`${harness.server.url}${WEBHOOK_PATH}/streams/${session}`, {
      method: 'DELETE', headers: { authorization: `Bearer ${KEY}` },
    });
    expect(deleted.status).toBe(204);
    await clock.advance(9_999);
    expect(streamRequests()).toBe(2);
    await clock.advance(1);
    expect(await within(first, 'the first value once served')).toBeUndefined();
    expect(streamRequests()).toBe(3);
  });

  it('reads the delay in seconds or the date it names, and nothing from a missing, past or malformed one', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(retryAfterMs('10', now)).toBe(10_000);
    expect(retryAfterMs(' 3 ', now)).toBe(3_000);
    expect(retryAfterMs('Thu, 01 Jan 2026 00:00:30 GMT', now)).toBe(30_000);
    for (const value of [null, '', '0', '-5', '1.5', 'soon', 'Wed, 31 Dec 2025 23:59:00 GMT']) expect(retryAfterMs(value, now)).toBe(0);
  });
});

describe('a stream refused by a server that is closing (a rolling deploy)', () => {
  it('is tried again after the client\'s own delay, not the 10 s a full server asks: another replica may serve it now', async () => {
    const runtime = createRuntime({ store: new MemoryStore(), orchestrators, logger: silentLogger });
    await runtime.start();
    cleanups.push(() => runtime.stop());
    // The replica going away: its handler closed before its server (as `close()` says), so what reaches it meanwhile is
    // refused; the client's next attempt may reach the replica that replaces it.
    const handler = createHttpHandler(runtime.client, { key: KEY, logger: silentLogger, reconnectDelayMs: 20 });
    const server = await serveForTest(handler);
    cleanups.push(() => server.close());
    const clock = new VirtualClock();
    const client = createRemoteClient({ baseUrl: server.url, key: KEY, clock, reconnect: { timeoutMs: Infinity } });
    cleanups.push(() => client.close());
    const values: unknown[] = [];
    const subscription = client.status$('deployed').subscribe((value) => values.push(value));
    cleanups.push(() => subscription.unsubscribe());
    await until(() => values.length === 1, 'the first value');

    handler.close(); // the stream ends; the client reconnects after its delay ...
    await clock.waitForTimer();
    const refused = outcome(firstValueFrom(client.connection$.pipe(filter((state) => state.state === 'reconnecting' && state.error?.message === 'The server is closing'))));
    await clock.advance(clock.nextTimerAt!.getTime() - clock.now().getTime());
    await within(refused, 'the closing server\'s 503'); // ... and is refused: the server is closing
    await clock.waitForTimer();
    const delay = clock.nextTimerAt!.getTime() - clock.now().getTime();
    // Its own delay, doubled once (the `retry` hint of 20 ms: 20-40 ms), not the full server's Retry-After.
    expect(delay).toBeLessThanOrEqual(40);
  });
});
