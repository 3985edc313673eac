import { filter, firstValueFrom } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { createRemoteClient, type ConnectionState } from '../src/index.js';
import { KEY, openHarness, within, type Harness } from './harness.js';

/**
 * A watch made while the connection is down (between a server restart and the stream's next answer): it waits for
 * the connection to be live and goes with it, rather than be sent to the session that is gone, whose 404 would break
 * off the connection being opened and add a reconnect delay.
 */

let harness: Harness | undefined;

afterEach(async () => {
  await harness?.close();
});

describe('a watch made while the connection is reconnecting', () => {
  it('is sent once the new connection is live, and does not break off the connection being opened', async () => {
    const h = (harness = await openHarness());
    /** Opened by the test: the next stream request waits for it before it reaches the server. */
    let gate: Promise<void> | undefined;
    let release!: () => void;
    /** Resolved when the held stream request has been made (the reconnect delay has passed). */
    let entered!: Promise<void>;
    let enter!: () => void;
    /** The stream requests the client made (those it gave up before they reached the server too). */
    let streams = 0;
    /** The subscription requests the client sent while its connection was not live. */
    let sentNotLive = 0;
    const states: ConnectionState[] = [];
    const fetch: typeof globalThis.fetch = async (input, init) => {
      const url = String(input);
      if (url.endsWith('/streams')) {
        streams++;
        if (gate) {
          enter();
          await gate;
        }
      }
      if (init?.method === 'POST' && url.endsWith('/subscriptions') && states.at(-1)?.state !== 'live') sentNotLive++;
      return globalThis.fetch(input, init);
    };
    const client = createRemoteClient({ baseUrl: h.server.url, key: KEY, fetch, reconnect: { initialDelayMs: 10 } });
    const watching = client.connection$.subscribe((state) => states.push(state));
    await h.runtime.client.startNew('ShowInput', { instanceId: 'tokyo', input: 'Tokyo' });
    await h.runtime.client.startNew('ShowInput', { instanceId: 'seattle', input: 'Seattle' });
    const first = client.customStatus$('tokyo').subscribe();
    await within(firstValueFrom(client.connection$.pipe(filter((s) => s.state === 'live'))), 'live');
    // The server restarts (it forgets the session), and the next stream request is held on its way.
    gate = new Promise<void>((resolve) => (release = resolve));
    entered = new Promise<void>((resolve) => (enter = resolve));
    const streamsBefore = streams;
    const reconnecting = states.length;
    h.restartHandler();
    // Once the reconnect's stream request is on its way (held), watch another instance.
    await within(entered, 'the reconnect');
    expect(states.at(-1)?.state).not.toBe('live');
    const seattle = firstValueFrom(client.customStatus$('seattle'));
    // Every change the watch makes at once is made by the next task (a subscription request leaves on a microtask).
    await new Promise((resolve) => setImmediate(resolve));
    expect(sentNotLive).toBe(0);
    gate = undefined;
    release();
    expect(await within(seattle, 'the watch made while reconnecting')).toBe('Seattle');
    // One stream request since the restart: the one held, never broken off by the new watch's request (which the
    // forgotten session would have answered 404), and no error shown while reconnecting.
    expect(streams - streamsBefore).toBe(1);
    expect(sentNotLive).toBe(0);
    expect(states.slice(reconnecting).filter((s) => 'error' in s)).toEqual([]);
    first.unsubscribe();
    watching.unsubscribe();
    client.close();
  });
});
