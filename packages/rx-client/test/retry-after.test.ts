import { VirtualClock } from '@durable-rx/runtime/testing';
import { WEBHOOK_PATH } from '@durable-rx/runtime/client-kit';
import { firstValueFrom } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { createRemoteClient } from '../src/index.js';
import { retryAfterMs } from '../src/retry-after.js';
import { KEY, openHarness, ownedByEachTest, within } from './harness.js';

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
