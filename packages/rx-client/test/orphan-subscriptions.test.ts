import type { DurableClient, InstanceStatus } from '@durable-rx/runtime';
import { VirtualClock } from '@durable-rx/runtime/testing';
import { filter, firstValueFrom, throwError, type Observable, type Subscription } from 'rxjs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createRemoteClient, RemoteError, type RemoteClient } from '../src/index.js';
import { KEY, openHarness, outcome, recordInto, serverClient, within, type Harness } from './harness.js';

/**
 * Every subscription the client opens on the server has an owner that ends it: when a watch ends, however it ends,
 * the client unsubscribes it there, also when a subscribe request was sent again after its answer was lost.
 */

let harness: Harness | undefined;
const releases: (() => void)[] = [];

const subscriptions: Subscription[] = [];
const record = recordInto(subscriptions);

afterEach(async () => {
  for (const release of releases.splice(0)) release();
  for (const subscription of subscriptions.splice(0)) subscription.unsubscribe();
  await harness?.close();
});

/** Resolves with the first value of `source`, which stays subscribed until the test ends. */
function firstOf<T>(source: Observable<T>): Promise<T> {
  return within(new Promise<T>((resolve) => {
    const subscription = source.subscribe({ next: resolve });
    releases.push(() => subscription.unsubscribe());
  }), 'a first value');
}

/** Resolves once `source` has emitted; the subscription is returned, to end when the test says. */
async function started<T>(source: Observable<T>): Promise<Subscription> {
  let seen!: () => void;
  const first = new Promise<void>((resolve) => (seen = resolve));
  const subscription = source.subscribe(() => seen());
  releases.push(() => subscription.unsubscribe());
  await within(first, 'a first value');
  return subscription;
}

/** Every stream session the client's subscription requests went to, in order. */
function sessionsOf(h: Harness): string[] {
  return [...new Set(h.requests.filter((r) => r.path.endsWith('/subscriptions')).map((r) => r.path.split('/').at(-2)!))];
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

  it('unsubscribes what a request the server refused (a 4xx) would have unsubscribed, failing only the watches it added', async () => {
    const server = serverClient();
    const h = (harness = await openHarness({}, server.wrap));
    const client = createRemoteClient({ baseUrl: h.server.url, key: KEY });
    const kept = record<InstanceStatus | undefined>(client.status$('kept'));
    await within(kept.seen((s) => s === undefined), 'the first snapshot');
    const dropped = await started(client.status$('dropped'));
    expect(server.live('dropped')).toBe(1);
    // In one tick `dropped` ends and three watches start: the server refuses their one request (a 4xx retrying cannot
    // change, here 403 as from a gateway in front of it) and applies none of it, the unsubscription neither.
    h.refuseStreams(1, 403, '/subscriptions', 'forbidden');
    dropped.unsubscribe();
    const refused = Array.from({ length: 3 }, (_, i) => outcome(firstValueFrom(client.status$(`many-${i}`))));
    for (const error of await within(Promise.all(refused), 'the refused watches ending')) {
      expect(error).toMatchObject({ code: 'forbidden', status: 403 });
    }
    await vi.waitFor(() => expect(server.live('dropped')).toBe(0), { timeout: 30_000, interval: 10 });
    // The watch that was not refused carries on.
    await h.runtime.client.startNew('Echo', { instanceId: 'kept', input: 1 });
    await within(kept.seen((s) => s?.runtimeStatus === 'Completed'), 'kept completed');
    let held = 0;
    for (const session of sessionsOf(h)) held += (await h.subscriptionsOf(session)) ?? 0;
    expect(held).toBe(1); // kept, in one session
    client.close();
  });

  it('sends a request the server failed (500) again after the delay, leaving no other session holding subscriptions', async () => {
    // The server's first read of instance `boom` throws (a store read that fails): the request fails with 500 after the
    // server applied what came before it in the request.
    let thrown = false;
    const server = serverClient((_, instanceId) => {
      if (instanceId !== 'boom' || thrown) return undefined;
      thrown = true;
      throw new Error('the store read failed');
    });
    const h = (harness = await openHarness({}, server.wrap));
    const client = createRemoteClient({ baseUrl: h.server.url, key: KEY });
    const kept = record<InstanceStatus | undefined>(client.status$('kept'));
    await within(kept.seen((s) => s === undefined), 'the first snapshot');
    const gone = await started(client.status$('gone'));
    // One request: `gone` unsubscribed, `also` and `boom` subscribed.
    gone.unsubscribe();
    const also = record<InstanceStatus | undefined>(client.status$('also'));
    const boom = record<InstanceStatus | undefined>(client.status$('boom'));
    await within(boom.seen((s) => s === undefined), 'boom watched');
    await within(also.seen((s) => s === undefined), 'also watched');
    expect(thrown).toBe(true);
    expect(h.requests.filter((r) => r.path.endsWith('/subscriptions')).length).toBeGreaterThan(2); // it was sent again
    expect(server.live('gone')).toBe(0);
    const [current, ...others] = sessionsOf(h).reverse();
    expect(await h.subscriptionsOf(current!)).toBe(3); // kept, also, boom
    for (const other of others) expect(await h.subscriptionsOf(other)).toBeUndefined(); // gone (404)
    // Every watch carries on.
    await h.runtime.client.startNew('Echo', { instanceId: 'boom', input: 1 });
    await within(boom.seen((s) => s?.runtimeStatus === 'Completed'), 'boom completed');
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
