import { VirtualClock } from '@durable-rx/runtime/testing';
import { WEBHOOK_PATH } from '@durable-rx/runtime/client-kit';
import { filter, firstValueFrom } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { createRemoteClient, type ConnectionState } from '../src/index.js';
import { gatedHello, KEY, openHarness, ownedByEachTest, until, within } from './harness.js';

/**
 * The client read its stream's `session` event and sent its first subscription request, but the connection went away
 * on the server's side before that request arrived: the session held no subscription and had sent nothing but its
 * `session` event, so the server released it at once, and the request is answered 404. The client, whose side of the
 * connection is still open, takes the 404 as a lost session: it breaks the stream off, reconnects into a new session
 * and subscribes its watch there, which gets the value current then (one committed after the release), nothing
 * older, and the ones after it. The handler's clock never moves, so no resume window passes: only the release makes
 * the 404.
 */

const { cleanups } = ownedByEachTest();

describe('a first subscription request that finds its session released', () => {
  it('subscribes the watch again in a new session: the latest value, then the next, nothing stale, nothing stuck', async () => {
    const { runtime, open } = await gatedHello();
    cleanups.push(() => runtime.stop());
    const harness = await openHarness({ clock: new VirtualClock() }, () => runtime.client);
    cleanups.push(() => harness.close());
    await runtime.client.startNew('E1_HelloSequence', { instanceId: 'hello' });
    open('Tokyo');
    await within(firstValueFrom(runtime.client.customStatus$('hello').pipe(filter((v) => v === 'Tokyo'))), 'Tokyo committed');

    // The first stream's server side can be cut while the client's side stays open (a proxy that lost its upstream);
    // the first subscription request waits until the test lets it go.
    let cutUpstream!: () => void;
    let streams = 0;
    let letPostGo!: () => void;
    const postMayGo = new Promise<void>((resolve) => (letPostGo = resolve));
    let postHeld!: (session: string) => void;
    const firstPost = new Promise<string>((resolve) => (postHeld = resolve));
    let posts = 0;
    let heldAnswered: number | undefined;
    const client = createRemoteClient({
      // No watchdog: only the 404 breaks the first stream off (its server side sends nothing once cut).
      baseUrl: harness.server.url, key: KEY, reconnect: { initialDelayMs: 10, maxDelayMs: 50, timeoutMs: Infinity },
      fetch: async (input, init) => {
        const url = String(input);
        const method = init?.method ?? 'GET';
        if (method === 'POST' && url.endsWith('/subscriptions') && posts++ === 0) {
          postHeld(decodeURIComponent(/\/streams\/([^/]+)\/subscriptions$/.exec(url)![1]!));
          await postMayGo;
          const answer = await fetch(input, init);
          heldAnswered = answer.status;
          return answer;
        }
        if (method !== 'GET' || !url.endsWith('/streams') || streams++ > 0) return fetch(input, init);
        const response = await fetch(input, init);
        const upstream = response.body!.getReader();
        let cut = false;
        let body!: ReadableStreamDefaultController<Uint8Array>;
        const relayed = new ReadableStream<Uint8Array>({
          start: (controller) => void (body = controller),
          cancel: () => upstream.cancel(),
        });
        void (async () => {
          try {
            for (let chunk; !(chunk = await upstream.read()).done;) body.enqueue(chunk.value);
            if (!cut) body.close();
          } catch (error) {
            if (!cut) body.error(error);
          }
        })();
        // As fetch's own body does: the client's abort errors it.
        init?.signal?.addEventListener('abort', () => {
          try {
            body.error(init.signal!.reason);
          } catch {
            // closed already
          }
          void upstream.cancel().catch(() => undefined);
        });
        cutUpstream = () => {
          cut = true;
          void upstream.cancel().catch(() => undefined);
        };
        return new Response(relayed, { status: response.status, headers: response.headers });
      },
    });
    cleanups.push(() => client.close());
    const states: ConnectionState['state'][] = [];
    const watching = client.connection$.subscribe(({ state }) => states.push(state));
    cleanups.push(() => watching.unsubscribe());
    const values: unknown[] = [];
    const errors: unknown[] = [];
    const watch = client.customStatus$('hello').subscribe({ next: (value) => values.push(value), error: (e) => errors.push(e) });
    cleanups.push(() => watch.unsubscribe());

    const first = await within(firstPost, 'the first subscription request');
    cutUpstream();
    // The server saw the connection go and released the session at once (no resume window passes on its clock).
    const direct = () => fetch(`${harness.server.url}${WEBHOOK_PATH}/streams/${first}/subscriptions`, {
      method: 'POST', headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' }, body: '{}',
    });
    await until(async () => (await direct()).status === 404, 'the session released');
    open('Seattle');
    await within(firstValueFrom(runtime.client.customStatus$('hello').pipe(filter((v) => v === 'Seattle'))), 'Seattle committed');
    letPostGo();

    await until(() => values.includes('Seattle'), 'the latest value, in a new session');
    open('London');
    await until(() => values.includes('London'), 'the next value');
    expect(heldAnswered).toBe(404);
    expect(values).toEqual(['Seattle', 'London']);
    expect(errors).toEqual([]);
    expect(states).not.toContain('failed');
    const clientPosts = harness.requests.filter((r) => r.method === 'POST' && r.authorization === `Bearer ${KEY}` && r.path.endsWith('/subscriptions'));
    const reconnect = harness.requests.filter((r) => r.method === 'GET' && r.path.endsWith('/streams'))[1];
    // The reconnect named the released session, and the watch went to the new one.
    expect(reconnect?.lastEventId).toBe(`${first}.0`);
    const second = /\/streams\/([^/]+)\/subscriptions$/.exec(clientPosts.at(-1)!.path)![1]!;
    expect(second).not.toBe(first);
    expect(await harness.subscriptionsOf(second)).toBe(1);
  });
});
