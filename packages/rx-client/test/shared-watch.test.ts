import type { InstanceStatus } from '@durable-rx/runtime';
import { UnavailableError } from '@durable-rx/runtime';
import { BehaviorSubject, EMPTY, firstValueFrom, throwError, type Observable, type Subscription } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { SETTLED } from '../../../test-support/settled.js';
import { createRemoteClient, RemoteError } from '../src/index.js';
import { KEY, openHarness, outcome, ownedByEachTest, serverClient, within, type Harness } from './harness.js';

/**
 * The observables of one client that watch the same instance (`status$`, `customStatus$`, `waitForCompletion`: what
 * `useStatus`, `useCustomStatus` and `useHistory` subscribe to), or the same list, made before their subscription
 * request is sent share one subscription on the server, which the last of them releases; one made later takes its own.
 * Each gets what a subscription of its own gave it: a first status the server read after it subscribed, then every
 * committed value in order.
 */

let harness: Harness | undefined;
const { subscriptions, record, cleanups } = ownedByEachTest();

afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

/** The stream session the client's latest subscription request went to. */
function sessionOf(h: Harness): string {
  return h.requests.findLast((r) => r.path.endsWith('/subscriptions'))!.path.split('/').at(-2)!;
}

/** Subscribes to `source` and resolves with the subscription once its first value has arrived. */
async function started(source: Observable<unknown>): Promise<Subscription> {
  let seen!: () => void;
  const first = new Promise<void>((resolve) => (seen = resolve));
  const subscription = source.subscribe(() => seen());
  subscriptions.push(subscription);
  await within(first, 'a first value');
  return subscription;
}

const received = (n: number) => (v: unknown) => JSON.stringify(v) === JSON.stringify({ received: n });

describe('one server subscription per watched instance', () => {
  it('serves status$, customStatus$ and waitForCompletion of one instance from one server subscription, each with every value', async () => {
    const h = (harness = await openHarness());
    const client = createRemoteClient({ baseUrl: h.server.url, key: KEY });
    cleanups.push(() => client.close());
    const statuses = record<InstanceStatus | undefined>(client.status$('shared'));
    const custom = record<unknown>(client.customStatus$('shared'));
    const again = record<unknown>(client.customStatus$('shared'));
    await Promise.all([statuses.seen((s) => s === undefined), custom.seen((v) => v === undefined), again.seen((v) => v === undefined)]);
    expect(await h.subscriptionsOf(sessionOf(h))).toBe(1);
    await h.runtime.client.startNew('E1_HelloSequence', { instanceId: 'shared' });
    const completed = client.waitForCompletion('shared', SETTLED);
    expect(await within(completed, 'the wait')).toMatchObject({ runtimeStatus: 'Completed', customStatus: 'London' });
    await statuses.seen((s) => s?.runtimeStatus === 'Completed');
    await custom.seen((v) => v === 'London');
    await again.seen((v) => v === 'London');
    expect(custom.values).toEqual([undefined, 'Tokyo', 'Seattle', 'London']);
    expect(again.values).toEqual([undefined, 'Tokyo', 'Seattle', 'London']);
    for (let i = 1; i < statuses.values.length; i++) {
      expect(JSON.stringify(statuses.values[i])).not.toBe(JSON.stringify(statuses.values[i - 1]));
    }
    await started(client.customStatus$('probe')); // requested after the wait (its own subscription) ended
    expect(await h.subscriptionsOf(sessionOf(h))).toBe(2); // shared, probe
    // A watcher that comes later takes a subscription of its own, and starts with the current status.
    const late = record<unknown>(client.customStatus$('shared'));
    expect(await within(late.seen(() => true), 'a late value')).toBe('London');
    expect(await h.subscriptionsOf(sessionOf(h))).toBe(3);
  });

  it('shares a list watch with the same filter, and gives each history and each other filter its own', async () => {
    const h = (harness = await openHarness());
    const client = createRemoteClient({ baseUrl: h.server.url, key: KEY });
    cleanups.push(() => client.close());
    await h.runtime.client.startNew('E1_HelloSequence', { instanceId: 'list-1' });
    await h.runtime.client.waitForCompletion('list-1', SETTLED);
    const lists = [
      record<InstanceStatus[]>(client.instances$({ instanceIdPrefix: 'list-' })),
      record<InstanceStatus[]>(client.instances$({ instanceIdPrefix: 'list-' })),
      record<InstanceStatus[]>(client.instances$({ instanceIdPrefix: 'list-', runtimeStatus: ['Completed'] })),
    ];
    const histories = [record(client.history$('list-1')), record(client.history$('list-1'))];
    for (const list of lists) await list.seen((l) => l.length === 1);
    for (const history of histories) await history.seen((e) => (e as { type: string }).type === 'ExecutionCompleted');
    expect(await h.subscriptionsOf(sessionOf(h))).toBe(4);
    expect(histories[1]!.values).toEqual(histories[0]!.values);
  });

  it('unsubscribes it when the last of its watchers ends, and subscribes again for a new one', async () => {
    const h = (harness = await openHarness());
    const client = createRemoteClient({ baseUrl: h.server.url, key: KEY });
    cleanups.push(() => client.close());
    await h.runtime.client.startNew('ShowInput', { instanceId: 'held', input: 'shown' });
    await started(client.customStatus$('other')); // keeps the connection and its session
    // Made in one task: one subscription.
    const [statuses, custom] = await Promise.all([started(client.status$('held')), started(client.customStatus$('held'))]);
    expect(await h.subscriptionsOf(sessionOf(h))).toBe(2);
    statuses.unsubscribe();
    await started(client.customStatus$('probe-1')); // requested after every change made before it
    expect(await h.subscriptionsOf(sessionOf(h))).toBe(3); // other, held (for `custom`), probe-1
    custom.unsubscribe();
    await started(client.customStatus$('probe-2'));
    expect(await h.subscriptionsOf(sessionOf(h))).toBe(3); // other, probe-1, probe-2: held is released
    const renewed = record<InstanceStatus | undefined>(client.status$('held'));
    const renewedCustom = record<unknown>(client.customStatus$('held'));
    await renewed.seen((s) => s?.customStatus === 'shown');
    expect(await within(renewedCustom.seen(() => true), 'a value')).toBe('shown');
    expect(await h.subscriptionsOf(sessionOf(h))).toBe(4);
    await h.runtime.client.raiseEvent('held', 'Done');
    await renewed.seen((s) => s?.runtimeStatus === 'Completed');
    expect(renewedCustom.values).toEqual(['shown']);
  });

  it('gives a watcher that joins a status the server read after it subscribed, not one sent before', async () => {
    const h = (harness = await openHarness());
    // The stream drops what the server sends for the first subscription once `dropping`: values on their way, which
    // have not arrived when the command's answer does.
    const subs: string[] = [];
    const unsubscribed: string[] = [];
    let dropping = false;
    const client = createRemoteClient({
      baseUrl: h.server.url, key: KEY,
      fetch: async (input, init) => {
        if (String(input).endsWith('/subscriptions')) {
          const asked = JSON.parse(String(init!.body)) as { subscribe: { sub: string }[]; unsubscribe?: string[] };
          for (const { sub } of asked.subscribe) subs.push(sub);
          unsubscribed.push(...(asked.unsubscribe ?? []));
        }
        const response = await fetch(input, init);
        return String(input).endsWith('/streams')
          ? dropEvents(response, (event) => dropping && event.includes(`"sub":${JSON.stringify(subs[0])}`))
          : response;
      },
    });
    cleanups.push(() => client.close());
    await h.runtime.client.startNew('ShowInput', { instanceId: 'raw', input: 'shown' });
    const first = record<InstanceStatus | undefined>(client.status$('raw'));
    await first.seen((s) => s?.runtimeStatus === 'Running' && s.customStatus === 'shown');
    dropping = true;
    await client.terminate('raw'); // resolves once the instance is Terminated
    // What a subscription of its own gave: the status after the terminate, not the Running one the first watcher has.
    expect(await within(firstValueFrom(client.status$('raw')), 'a status')).toMatchObject({ runtimeStatus: 'Terminated' });
    expect(await within(outcome(client.waitForCompletion('raw')), 'the wait')).toMatchObject({ runtimeStatus: 'Terminated' });
    // Each went out as a subscription of its own, none in place of the first watcher's: that one was never
    // unsubscribed while its watcher was there (a re-send for a joiner would have unsubscribed it).
    expect(new Set(subs).size).toBe(subs.length);
    expect(subs.length).toBe(3);
    expect(unsubscribed).not.toContain(subs[0]);
  });

  it('gives a watcher that comes while values are on their way its own subscription, and those already there all of them', async () => {
    const h = (harness = await openHarness());
    // The stream holds back every event from `hold()` to `release()`: values on their way while the watcher joins.
    const stream = heldEvents();
    const client = createRemoteClient({
      baseUrl: h.server.url, key: KEY,
      fetch: async (input, init) => {
        const response = await fetch(input, init);
        return String(input).endsWith('/streams') ? stream.through(response) : response;
      },
    });
    cleanups.push(() => client.close());
    const local = h.runtime.client;
    await local.startNew('WaitForEvents', { instanceId: 'late', input: 3 });
    const first = record<InstanceStatus | undefined>(client.status$('late'));
    await first.seen((s) => s?.runtimeStatus === 'Running');
    stream.hold();
    const committed = record<unknown>(local.customStatus$('late'));
    await local.raiseEvent('late', 'Item', 1);
    await committed.seen(received(1)); // its value for the first watcher is held back ...
    await client.terminate('late'); // ... and so is this one
    const joined = record<InstanceStatus | undefined>(client.status$('late'));
    stream.release();
    await within(joined.seen((s) => s?.runtimeStatus === 'Terminated'), 'the terminated status');
    await within(first.seen((s) => s?.runtimeStatus === 'Terminated'), 'the terminated status');
    expect(joined.values[0]).toMatchObject({ runtimeStatus: 'Terminated', customStatus: { received: 1 } });
    // The first watcher is told every value, in order, as its own subscription told it.
    // (From its first Running status: a server under load may read the instance Pending before the worker's first step.)
    const shown = first.values.map((s) => [s?.runtimeStatus, s?.customStatus]);
    expect(shown.slice(shown.findIndex(([status]) => status === 'Running'))).toEqual([
      ['Running', undefined], ['Running', { received: 1 }], ['Terminated', { received: 1 }],
    ]);
    expect(await h.subscriptionsOf(sessionOf(h))).toBe(2);
  });

  // 34 MiB through real sockets: 11 s on an idle machine, 56 s with six busy loops on the test's core (near the
  // 120 s default), so the test and its wait for the 32 MiB to drain get more.
  it('loses no committed value for the watchers already there when one comes while the server holds their session', { timeout: 300_000 }, async () => {
    // The server's status of 'slow', as the test commits it.
    let statuses!: BehaviorSubject<unknown>;
    const server = serverClient((method, instanceId) => (method === 'status$' && instanceId === 'slow' ? statuses : undefined));
    // A resume buffer that holds the 34 MiB the held session falls behind by (the default, 4 MiB, holds 3 of these
    // values: the session would end, and the watchers start over from the latest value).
    const h = (harness = await openHarness({ resumeBufferBytes: 40 << 20 }, server.wrap));
    const local = h.runtime.client;
    await local.startNew('ShowInput', { instanceId: 'slow', input: 'shown' });
    const running = (await local.getStatus('slow'))!;
    statuses = new BehaviorSubject<unknown>({ ...running, customStatus: { n: 0 } });
    // The client reads its event stream only while `paused` is not set; it is told when a subscription request is answered.
    let paused: Promise<void> | undefined;
    let resume = (): void => {};
    let answered = (): void => {};
    const client = createRemoteClient({
      baseUrl: h.server.url, key: KEY,
      fetch: async (input, init) => {
        const response = await fetch(input, init);
        if (String(input).endsWith('/subscriptions')) answered();
        if (!String(input).endsWith('/streams')) return response;
        const reader = response.body!.getReader();
        return new Response(new ReadableStream<Uint8Array>({
          async pull(controller) {
            await paused;
            const { done, value } = await reader.read();
            if (done) controller.close();
            else controller.enqueue(value);
          },
          cancel: (reason) => reader.cancel(reason),
        }, { highWaterMark: 0 }), response);
      },
    });
    cleanups.push(() => client.close());
    const first = record<{ n: number }>(client.customStatus$('slow') as Observable<{ n: number }>);
    await within(first.seen((v) => v.n === 0), 'the first value');
    paused = new Promise((resolve) => (resume = resolve));
    // 32 MiB the client does not read fill the socket's buffers and the server's 4 MiB backlog: the server holds the
    // session, which reads its feeds no more; the two small values after them wait in the feed.
    for (let n = 1; n <= 32; n++) statuses.next({ ...running, customStatus: { n, pad: 'x'.repeat(1 << 20) } });
    for (let n = 33; n <= 34; n++) statuses.next({ ...running, customStatus: { n } });
    const sent = new Promise<void>((resolve) => (answered = resolve));
    const joined = record<{ n: number }>(client.customStatus$('slow') as Observable<{ n: number }>);
    await within(sent, 'the subscription request answered');
    paused = undefined;
    resume();
    await within(first.seen((v) => v.n === 34), 'the latest value', 240_000);
    // Every committed value, in order: none skipped for the watcher that came.
    expect(first.values.map((v) => v.n)).toEqual(Array.from({ length: 35 }, (_, n) => n));
    // Its first value read after it subscribed.
    expect(await within(joined.seen(() => true), 'a value')).toEqual({ n: 34 });
  });

  it('carries every watcher on without loss or repeats when the connection drops and when the server forgets the session', async () => {
    const h = (harness = await openHarness());
    const client = createRemoteClient({ baseUrl: h.server.url, key: KEY, reconnect: { initialDelayMs: 10 } });
    cleanups.push(() => client.close());
    const local = h.runtime.client;
    await local.startNew('WaitForEvents', { instanceId: 'again', input: 4 });
    const custom = record<unknown>(client.customStatus$('again'));
    const statuses = record<InstanceStatus | undefined>(client.status$('again'));
    const committed = record<unknown>(local.customStatus$('again'));
    await custom.seen((v) => v === undefined);
    await statuses.seen((s) => s?.runtimeStatus === 'Running');
    for (let i = 1; i <= 4; i++) {
      if (i === 3) h.restartHandler(); // the server forgets the session: the client opens a new one
      else h.server.server.closeAllConnections(); // the stream is cut: the client resumes its session
      await local.raiseEvent('again', 'Item', i);
      await committed.seen(received(i));
      await custom.seen(received(i));
      await statuses.seen((s) => received(i)(s?.customStatus));
    }
    await statuses.seen((s) => s?.runtimeStatus === 'Completed');
    expect(custom.values).toEqual([undefined, ...[1, 2, 3, 4].map((n) => ({ received: n }))]);
    for (let i = 1; i < statuses.values.length; i++) {
      expect(JSON.stringify(statuses.values[i])).not.toBe(JSON.stringify(statuses.values[i - 1]));
    }
    expect(await h.subscriptionsOf(sessionOf(h))).toBe(1);
  });

  it('fails every watcher of a subscription the server fails, or ends before its first value, as it failed one of its own', async () => {
    const server = serverClient((_, instanceId) =>
      instanceId === 'broken' ? throwError(() => new Error('the store read failed')) : instanceId === 'ends' ? EMPTY : undefined);
    const h = (harness = await openHarness({}, server.wrap));
    const client = createRemoteClient({ baseUrl: h.server.url, key: KEY });
    cleanups.push(() => client.close());
    const errors = await Promise.all(['broken', 'ends'].flatMap((id) =>
      [client.status$(id), client.customStatus$(id)].map((source) => within(outcome(firstValueFrom(source)), 'the watch failing'))));
    for (const error of errors.slice(0, 2)) expect(error).toBeInstanceOf(RemoteError);
    for (const error of errors.slice(0, 2)) expect(error).toMatchObject({ code: 'internal' });
    for (const error of errors.slice(2)) expect(error).toBeInstanceOf(UnavailableError);
    expect(server.live('broken') + server.live('ends')).toBe(0);
  });

  it('completes every watcher when the client closes', async () => {
    const h = (harness = await openHarness());
    const client = createRemoteClient({ baseUrl: h.server.url, key: KEY });
    const ends = [client.status$('closing'), client.customStatus$('closing')].map((source) =>
      new Promise<string>((resolve) => subscriptions.push(source.subscribe({ next: () => resolve('value'), complete: () => resolve('complete') }))));
    expect(await within(Promise.all(ends), 'values')).toEqual(['value', 'value']);
    const completed = [client.status$('closing'), client.customStatus$('closing')].map((source) =>
      new Promise<string>((resolve) => subscriptions.push(source.subscribe({ complete: () => resolve('complete'), error: () => resolve('error') }))));
    client.close();
    expect(await Promise.all(completed)).toEqual(['complete', 'complete']);
  });
});

/** A client's event stream (the latest it opened), whose bytes can be held back, then let through in order. */
function heldEvents() {
  let held: Uint8Array[] | undefined;
  let stream: TransformStreamDefaultController<Uint8Array> | undefined;
  return {
    through: (response: Response): Response => new Response(response.body!.pipeThrough(new TransformStream<Uint8Array, Uint8Array>({
      start: (controller) => void (stream = controller),
      transform: (chunk, controller) => (held ? void held.push(chunk) : controller.enqueue(chunk)),
    })), response),
    hold: () => void (held = []),
    release: () => {
      for (const chunk of held ?? []) stream!.enqueue(chunk);
      held = undefined;
    },
  };
}

/** `response` (an event stream) without the events `drop` picks. */
function dropEvents(response: Response, drop: (event: string) => boolean): Response {
  const decoder = new TextDecoder();
  const encoder = new TextEncoder();
  let buffer = '';
  const body = response.body!.pipeThrough(new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      buffer += decoder.decode(chunk, { stream: true });
      for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
        const event = buffer.slice(0, end + 2);
        buffer = buffer.slice(end + 2);
        if (!drop(event)) controller.enqueue(encoder.encode(event));
      }
    },
  }));
  return new Response(body, { status: response.status, headers: response.headers });
}
