import { VirtualClock } from '@durable-rx/runtime/testing';
import { WEBHOOK_PATH } from '@durable-rx/runtime/client-kit';
import { filter, firstValueFrom } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { createRemoteClient } from '../src/index.js';
import { KEY, openHarness, ownedByEachTest, until, within, type Harness } from './harness.js';

/**
 * A watch that ends while its stream's answer is on its way: the server opened a session for it (and wrote its
 * `session` event), but the client lets the answer go unread, so it never learns the session's id and cannot delete
 * it. The server releases such a session (no subscription, nothing sent but its `session` event) as soon as its
 * connection goes: it no longer holds a place among `maxStreams` for the resume window (30 s by default). Before, ten
 * views opened and closed that way on a slow network filled a server of `maxStreams: 10` for half a minute, every
 * other client refused with 503. The handler's clock here never moves, so no resume window passes.
 */

const { cleanups } = ownedByEachTest();

/** Whether the server serves a new stream now (200), its place freed; the stream is let go at once. */
async function serves(harness: Harness): Promise<boolean> {
  const controller = new AbortController();
  const response = await fetch(`${harness.server.url}${WEBHOOK_PATH}/streams`, {
    headers: { authorization: `Bearer ${KEY}`, accept: 'text/event-stream' }, signal: controller.signal,
  });
  controller.abort();
  return response.status === 200;
}

/**
 * A client whose event stream answers wait, once they arrived (headers read: the server holds the session), until
 * the test lets them go on: `held()` resolves when one arrived.
 */
function clientHoldingAnswers(harness: Harness) {
  let hold = false;
  let arrived!: () => void;
  let release!: () => void;
  let held = new Promise<void>((resolve) => (arrived = resolve));
  let gate = new Promise<void>((resolve) => (release = resolve));
  const client = createRemoteClient({
    baseUrl: harness.server.url, key: KEY, reconnect: { initialDelayMs: 10, maxDelayMs: 50 },
    fetch: async (input, init) => {
      const response = await fetch(input, init);
      if (hold && String(input).endsWith('/streams') && (init?.method ?? 'GET') === 'GET') {
        arrived();
        await gate;
      }
      return response;
    },
  });
  cleanups.push(() => client.close());
  return {
    client,
    /** Holds the answers of the stream requests made from now on. */
    holdNext() {
      hold = true;
      held = new Promise<void>((resolve) => (arrived = resolve));
      gate = new Promise<void>((resolve) => (release = resolve));
    },
    held: () => held,
    /** Lets the held answer go on (to a client that gave it up) and holds no more. */
    letGo() {
      hold = false;
      release();
    },
  };
}

describe('a session whose client let its answer go unread', () => {
  it('holds no place among maxStreams once the watch ended before the client read the session event', async () => {
    const harness = await openHarness({ maxStreams: 1, clock: new VirtualClock() });
    cleanups.push(() => harness.close());
    const { client, holdNext, held, letGo } = clientHoldingAnswers(harness);
    holdNext();
    const watch = client.status$('away').subscribe();
    await within(held(), 'the stream answered');
    watch.unsubscribe();
    await within(firstValueFrom(client.connection$.pipe(filter(({ state }) => state === 'idle'))), 'idle');
    letGo();
    await until(() => serves(harness), 'the place freed');
    // Freed by the server as the connection went, not by a DELETE: the client never knew the session's id.
    expect(harness.requests.filter((r) => r.method === 'DELETE')).toEqual([]);
    // The next watch is served at once, not refused for the resume window.
    expect(await within(firstValueFrom(client.status$('away')), 'the next watch\'s value')).toBeUndefined();
  });

  it('holds none either when the watch ended while a reconnect into a new session was being answered', async () => {
    const harness = await openHarness({ maxStreams: 1, clock: new VirtualClock() });
    cleanups.push(() => harness.close());
    const { client, holdNext, held, letGo } = clientHoldingAnswers(harness);
    const watch = client.status$('away').subscribe();
    await within(firstValueFrom(client.connection$.pipe(filter(({ state }) => state === 'live'))), 'live');
    // The server restarts (its sessions forgotten): the reconnect gets a new session, whose answer is held.
    holdNext();
    harness.restartHandler();
    await within(held(), 'the reconnect answered');
    watch.unsubscribe();
    await within(firstValueFrom(client.connection$.pipe(filter(({ state }) => state === 'idle'))), 'idle');
    letGo();
    await until(() => serves(harness), 'the place freed');
    expect(await within(firstValueFrom(client.status$('away')), 'the next watch\'s value')).toBeUndefined();
  });
});
