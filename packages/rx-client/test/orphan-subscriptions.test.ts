import type { DurableClient } from '@durable-rx/runtime';
import { VirtualClock } from '@durable-rx/runtime/testing';
import { filter, firstValueFrom, throwError, type Observable } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { createRemoteClient, RemoteError, type RemoteClient } from '../src/index.js';
import { KEY, openHarness, within, type Harness } from './harness.js';

/**
 * Every subscription the client opens on the server has an owner that ends it: when a watch ends, however it ends,
 * the client unsubscribes it there, also when a subscribe request was sent again after its answer was lost.
 */

let harness: Harness | undefined;
const releases: (() => void)[] = [];

afterEach(async () => {
  for (const release of releases.splice(0)) release();
  await harness?.close();
});

/** Resolves with the first value of `source`, which stays subscribed until the test ends. */
function firstOf<T>(source: Observable<T>): Promise<T> {
  return within(new Promise<T>((resolve) => {
    const subscription = source.subscribe({ next: resolve });
    releases.push(() => subscription.unsubscribe());
  }), 'a first value');
}

/** The stream session the client's subscription requests went to. */
function sessionOf(h: Harness): string {
  return h.requests.find((r) => r.path.endsWith('/subscriptions'))!.path.split('/').at(-2)!;
}

function reconnecting(client: RemoteClient): Promise<unknown> {
  return within(firstValueFrom(client.connection$.pipe(filter((s) => s.state === 'reconnecting'))), 'the connection broken off');
}

/**
 * A `fetch` whose `lost`-th subscription request reaches the server, which applies it, and whose answer is then lost
 * (the client's fetch fails, as when the connection drops before the response arrives).
 */
function losingAnswer(lost: number, onRequest: (n: number) => void = () => undefined): typeof fetch {
  let n = 0;
  return async (input, init) => {
    if (!String(input).endsWith('/subscriptions')) return fetch(input, init);
    const count = ++n;
    onRequest(count);
    const response = await fetch(input, init);
    if (count !== lost) return response;
    await response.arrayBuffer(); // applied by the server ...
    throw new TypeError('fetch failed: the connection was reset'); // ... and the answer lost
  };
}

describe('server-side subscriptions', () => {
  it('unsubscribes a subscription whose subscribe answer was lost when its watch ends before it is sent again', async () => {
    const h = (harness = await openHarness());
    const clock = new VirtualClock();
    const client = createRemoteClient({
      baseUrl: h.server.url, key: KEY, clock, reconnect: { initialDelayMs: 1000 }, fetch: losingAnswer(2),
    });
    await firstOf(client.status$('kept'));
    const dropped = client.status$('dropped').subscribe();
    await reconnecting(client); // the second request's answer was lost: it will be sent again after the delay ...
    dropped.unsubscribe(); // ... but its watch ends first
    await clock.advance(1000);
    await firstOf(client.status$('third')); // requested after every change made before it
    expect(await h.subscriptionsOf(sessionOf(h))).toBe(2); // kept and third; dropped is not left behind
    client.close();
  });

  it('unsubscribes a subscription sent again after its answer was lost that the server had closed meanwhile', async () => {
    // The server's feed of instance `flaky` fails once (a store read that fails), so the server closes the first
    // subscription to it at once; a later one works.
    let failed = false;
    const h = (harness = await openHarness({}, (client) => new Proxy(client, {
      get(target, key) {
        if (key === 'status$') {
          return (id: string) => (id === 'flaky' && !failed && (failed = true) ? throwError(() => new Error('the store read failed')) : target.status$(id));
        }
        const value: unknown = Reflect.get(target, key);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    }) as DurableClient));
    // The client reads its stream through a relay that passes one event per read, so the order in which it acts on
    // them is fixed: while `holding`, the first connection passes nothing more; the second passes its `session` event,
    // then the subscriptions' events only once the client has sent the subscription again.
    let holding = false;
    let resent!: () => void;
    const sentAgain = new Promise<void>((resolve) => (resent = resolve));
    let streams = 0;
    const fetchThrough = losingAnswer(2, (n) => n === 3 && resent());
    const clock = new VirtualClock();
    const client = createRemoteClient({
      baseUrl: h.server.url, key: KEY, clock, reconnect: { initialDelayMs: 1000 },
      fetch: async (input, init) => {
        const response = await fetchThrough(input, init);
        if (!String(input).endsWith('/streams')) return response;
        const stream = ++streams;
        return relayed(response, init!.signal!, (event) => {
          if (stream === 1) return holding ? new Promise<void>(() => undefined) : undefined;
          return event.includes('"sub"') ? sentAgain : undefined; // the retry hint and `session` pass
        });
      },
    });
    await firstOf(client.status$('kept'));
    holding = true;
    let flakyError: unknown;
    const flaky = client.status$('flaky').subscribe({ error: (error: unknown) => (flakyError = error) });
    releases.push(() => flaky.unsubscribe());
    await reconnecting(client); // the server closed `flaky` (its `close` event held back), and the answer was lost
    await clock.advance(1000); // the client resumes the session and sends `flaky` again, then hears of its close
    await within(sentAgain, 'the subscription sent again');
    await firstOf(client.status$('third')); // requested after every change made before it
    expect(flakyError).toBeInstanceOf(RemoteError);
    expect(flakyError).toMatchObject({ code: 'internal' });
    expect(await h.subscriptionsOf(sessionOf(h))).toBe(2); // kept and third; the `flaky` sent again is not left behind
    client.close();
  });
});

/**
 * `response` with its event stream passed on one event per read; before each event, `gate(event)` may return a promise
 * to wait for. The stream fails when `signal` aborts (the client broke the connection off), also while it waits.
 */
function relayed(response: Response, signal: AbortSignal, gate: (event: string) => Promise<void> | undefined): Response {
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  const encoder = new TextEncoder();
  let buffer = '';
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      signal.addEventListener('abort', () => {
        controller.error(signal.reason);
        void reader.cancel().catch(() => undefined);
      });
    },
    async pull(controller) {
      for (;;) {
        const end = buffer.indexOf('\n\n');
        if (end >= 0) {
          const event = buffer.slice(0, end + 2);
          buffer = buffer.slice(end + 2);
          await gate(event);
          if (!signal.aborted) controller.enqueue(encoder.encode(event));
          return;
        }
        const { done, value } = await reader.read();
        if (done) return controller.close();
        buffer += decoder.decode(value, { stream: true });
      }
    },
  });
  return new Response(body, { status: response.status, headers: response.headers });
}
