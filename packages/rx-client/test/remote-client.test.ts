import {
  createClient, InstanceAlreadyExistsError, InstanceNotFoundError, InstanceNotRunningError, InstanceNotTerminalError,
  InvalidArgumentError, isDurableError, MemoryStore, PayloadTooLargeError, silentLogger, StoreClosedError, systemClock,
  UnavailableError, type Clock, type DurableClient, type InstanceStatus,
} from '@durable-rx/runtime';
import { createHttpHandler } from '@durable-rx/runtime/http';
import { WEBHOOK_PATH } from '@durable-rx/runtime/client-kit';
import { filter, firstValueFrom, lastValueFrom, take, toArray } from 'rxjs';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createRemoteClient, RemoteError } from '../src/index.js';
import { KEY, openHarness, outcome, within, type Harness } from './harness.js';
import { VirtualClock } from '@durable-rx/runtime/testing';
import { SETTLED } from '../../../test-support/settled.js';

let harness: Harness;

beforeEach(async () => {
  harness = await openHarness();
});

afterEach(async () => {
  await harness.close();
});

describe('createRemoteClient', () => {
  it('runs the hello sequence remotely: start, watch the custom status, wait for the output', async () => {
    const client = createRemoteClient({ baseUrl: harness.server.url, key: KEY });
    // Subscribed, then started at once: the start waits until the server holds the watch.
    const values = lastValueFrom(client.customStatus$('hello').pipe(take(4), toArray()));
    await client.startNew('E1_HelloSequence', { instanceId: 'hello' });
    const done = await client.waitForCompletion('hello', SETTLED);
    expect(done.output).toEqual(['Hello Tokyo!', 'Hello Seattle!', 'Hello London!']);
    expect(done.createdTime).toBeInstanceOf(Date);
    expect(await values).toEqual([undefined, 'Tokyo', 'Seattle', 'London']);
  });

  it('returns the same statuses as the local client', async () => {
    const client = createRemoteClient({ baseUrl: harness.server.url, key: KEY });
    await client.startNew('E1_HelloSequence', { instanceId: 'same', input: { x: [1, null, 'y'] } });
    await client.waitForCompletion('same', SETTLED);
    const local = harness.runtime.client;
    for (const options of [{}, { showInput: false }, { showHistory: true }, { showHistory: true, showHistoryOutput: true }]) {
      expect(await client.getStatus('same', options)).toEqual(await local.getStatus('same', options));
    }
    expect(await client.getStatusAll()).toEqual(await local.getStatusAll());
  });

  it('sends the key as a Bearer token through the fetch it was given', async () => {
    const urls: string[] = [];
    const client = createRemoteClient({
      baseUrl: `${harness.server.url}/`,
      key: KEY,
      fetch: (input, init) => {
        urls.push(String(input));
        return fetch(input, init);
      },
    });
    await client.getStatusAll();
    expect(urls).toEqual([`${harness.server.url}${WEBHOOK_PATH}/instances?top=1000&format=native`]);
    expect(harness.requests.at(-1)?.authorization).toBe(`Bearer ${KEY}`);
  });

  it('reads an event stream whose bytes arrive one at a time, characters of several bytes split between chunks', async () => {
    const text = 'Tōkyō — 東京 🚀';
    const client = createRemoteClient({
      baseUrl: harness.server.url,
      key: KEY,
      fetch: async (input, init) => {
        const response = await fetch(input, init);
        if (!response.body || !String(input).endsWith('/streams')) return response;
        const bytes = response.body.pipeThrough(new TransformStream<Uint8Array, Uint8Array>({
          transform(chunk, controller) {
            for (const byte of chunk) controller.enqueue(Uint8Array.of(byte));
          },
        }));
        return new Response(bytes, { status: response.status, headers: response.headers });
      },
    });
    await client.startNew('Echo', { instanceId: 'bytes', input: text });
    const done = await client.waitForCompletion('bytes', SETTLED);
    expect(done.output).toBe(text);
  });

  it('delivers a custom status containing U+2028 and U+2029, which JSON leaves unescaped in an event line', async () => {
    const text = 'line\u2028separator\u2029paragraph';
    const client = createRemoteClient({ baseUrl: harness.server.url, key: KEY });
    const seen = firstValueFrom(client.customStatus$('separators').pipe(filter((value) => value !== undefined)));
    await client.startNew('ShowInput', { instanceId: 'separators', input: { text } });
    expect(await seen).toEqual({ text });
  });

  it('accepts a baseUrl that already ends with the webhook path, in any case', async () => {
    for (const path of [`${WEBHOOK_PATH}/`, '/Runtime/Webhooks/DurableTask', '/RUNTIME/WEBHOOKS/DURABLETASK/']) {
      const client = createRemoteClient({ baseUrl: `${harness.server.url}${path}`, key: KEY });
      expect(await client.getStatusAll(), path).toEqual([]);
    }
  });

  it('rebuilds error responses into the runtime error classes', async () => {
    const client = createRemoteClient({ baseUrl: harness.server.url, key: KEY });
    await expect(client.terminate('nobody')).rejects.toBeInstanceOf(InstanceNotFoundError);
    await expect(client.startNew('Nope')).rejects.toBeInstanceOf(InvalidArgumentError);
    await client.startNew('WaitForEvents', { instanceId: 'busy', input: 1 });
    await expect(client.startNew('Echo', { instanceId: 'busy' })).rejects.toBeInstanceOf(InstanceAlreadyExistsError);
    await expect(client.purgeInstanceHistory('busy')).rejects.toBeInstanceOf(InstanceNotTerminalError);
    await client.terminate('busy', { why: 'a JSON reason' });
    const terminated = await client.waitForCompletion('busy', SETTLED);
    expect(terminated.output).toEqual({ why: 'a JSON reason' });
    await expect(client.raiseEvent('busy', 'Item')).rejects.toBeInstanceOf(InstanceNotRunningError);
    const error = await client.suspend('busy').catch((e: unknown) => e);
    expect(isDurableError(error) && error.message).toContain('Terminated');
  });

  it('rebuilds a body over the size limit into PayloadTooLargeError', async () => {
    await harness.close();
    harness = await openHarness({ maxBodyBytes: 100 });
    const client = createRemoteClient({ baseUrl: harness.server.url, key: KEY });
    const error = await client.startNew('Echo', { input: 'x'.repeat(200) }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PayloadTooLargeError);
    expect(error).toMatchObject({ code: 'payload-too-large', status: 413 });
  });

  it('rebuilds the answer of a server whose store is closed into StoreClosedError', async () => {
    const client = createRemoteClient({ baseUrl: harness.server.url, key: KEY });
    await harness.runtime.store.close();
    const error = await client.getStatus('x').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoreClosedError);
    expect(error).toMatchObject({ code: 'store-closed', status: 503 });
  });

  it('rebuilds the answer of a server whose store did not answer in time into UnavailableError, as the local client throws', async () => {
    await harness.close();
    // The server's client rejects as the runtime's does when a store call passes storeCallTimeoutMs.
    const wedged = (client: DurableClient): DurableClient => new Proxy(client, {
      get: (target, key) => key === 'getStatus'
        ? () => Promise.reject(new UnavailableError('The store did not answer within 30000 ms'))
        : (Reflect.get(target, key) as () => unknown).bind?.(target) ?? Reflect.get(target, key),
    });
    harness = await openHarness({}, wedged);
    const client = createRemoteClient({ baseUrl: harness.server.url, key: KEY });
    const error = await client.getStatus('x').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnavailableError);
    expect(error).toMatchObject({ code: 'unavailable', status: 503, message: 'The store did not answer within 30000 ms' });
  });

  it("rejects with RemoteError internal (500), not InvalidArgumentError, while the server's clock gives no valid Date", async () => {
    await harness.close();
    let broken = false;
    const clock: Clock = { ...systemClock, now: () => (broken ? new Date(NaN) : systemClock.now()) };
    harness = await openHarness({}, () => createClient({ store: new MemoryStore(), clock }));
    const client = createRemoteClient({ baseUrl: harness.server.url, key: KEY });
    await client.startNew('Echo', { instanceId: 'c' });
    broken = true;
    const commands = [
      () => client.getStatus('c'), () => client.raiseEvent('c', 'go'), () => client.terminate('c', 'stop'),
      () => client.startNew('Echo', { instanceId: 'd' }),
    ];
    for (const command of commands) {
      const error = await command().catch((e: unknown) => e);
      // Before, InvalidArgumentError (400): the caller's request blamed for the server's clock, as if sending it again
      // could never succeed.
      expect(error).toBeInstanceOf(RemoteError);
      expect(error).toMatchObject({ code: 'internal', status: 500 });
    }
    broken = false;
    await client.raiseEvent('c', 'go');
    expect(await client.getStatus('c')).toMatchObject({ runtimeStatus: 'Pending' });
    expect(await client.getStatus('d')).toBeUndefined();
  });

  it('keeps the code and message of an error that has no class on the client', async () => {
    const client = createRemoteClient({
      baseUrl: 'http://127.0.0.1:9',
      fetch: () => Promise.resolve(Response.json({ code: 'non-determinism', message: 'A then B' }, { status: 500 })),
    });
    const error = await client.getStatus('x').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RemoteError);
    expect(error).toMatchObject({ code: 'non-determinism', status: 500, message: 'A then B' });
  });

  it('validates arguments before sending anything, as the local client does', async () => {
    const client = createRemoteClient({ baseUrl: harness.server.url, key: KEY });
    const before = harness.requests.length;
    await expect(client.startNew('Echo', { instanceId: 'a/b' })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(client.startNew('Echo', { input: { f: () => 1 } })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(client.getStatus('..')).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(client.suspend('x', 1 as unknown as string)).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(client.listInstances({ runtimeStatus: 'Running' as never })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(client.purgeInstanceHistoryBy({} as never)).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(client.waitForCompletion('x', { timeoutMs: -1 })).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(() => client.status$('')).toThrow(InvalidArgumentError);
    expect(() => createRemoteClient({ baseUrl: 'not a url' })).toThrow(InvalidArgumentError);
    // The rule of every surface that takes a baseUrl: a query or fragment is refused, not cut off silently.
    expect(() => createRemoteClient({ baseUrl: `${harness.server.url}/?tenant=a` })).toThrow(InvalidArgumentError);
    expect(() => createRemoteClient({ baseUrl: `${harness.server.url}/#x` })).toThrow(InvalidArgumentError);
    expect(harness.requests.length).toBe(before);
  });

  it('refuses at creation, with InvalidArgumentError, a fetch that is no function, a clock that is no Clock and a delay or timeout out of range, sending nothing', () => {
    const used: string[] = [];
    const fetch: typeof globalThis.fetch = (input, init) => (used.push('fetch'), globalThis.fetch(input, init));
    const baseUrl = harness.server.url;
    const bad: [string, Record<string, unknown>][] = [
      ['fetch', { fetch: 5 }], ['fetch', { fetch: 'fetch' }], ['fetch', { fetch: {} }],
      ['clock', { fetch, clock: {} }], ['clock', { fetch, clock: { now: () => new Date() } }],
      ['timeoutMs', { fetch, timeoutMs: 0 }], ['reconnect.maxDelayMs', { fetch, reconnect: { maxDelayMs: Number.NaN } }],
    ];
    for (const [member, options] of bad) {
      let error: unknown;
      try {
        createRemoteClient({ baseUrl, key: KEY, ...options });
      } catch (thrown) {
        error = thrown;
      }
      expect(error, member).toBeInstanceOf(InvalidArgumentError);
      expect((error as Error).message, member).toContain(member);
    }
    expect(used).toEqual([]);
    expect(harness.requests).toHaveLength(0);
  });

  it('rejects with RemoteError unauthorized for a wrong key, for commands and streams alike', async () => {
    const client = createRemoteClient({ baseUrl: harness.server.url, key: 'wrong' });
    const command = await client.getStatusAll().catch((e: unknown) => e);
    expect(command).toBeInstanceOf(RemoteError);
    expect(command).toMatchObject({ code: 'unauthorized', status: 401 });
    await expect(firstValueFrom(client.status$('x'))).rejects.toMatchObject({ code: 'unauthorized', status: 401 });
    expect(harness.requests.filter((r) => r.path.endsWith('/streams'))).toHaveLength(1); // not retried
  });

  it('refuses at creation, with InvalidArgumentError, a key no HTTP header can carry, and works with any key one can', async () => {
    // fetch refuses a request with such a header (a TypeError): every command failed `unreachable`, and every watch
    // reconnected for ever, its subscriber never told.
    for (const key of ['ключ', 'line\nbreak', 'nul\0', 'tab\u0001']) {
      expect(() => createRemoteClient({ baseUrl: harness.server.url, key })).toThrow(InvalidArgumentError);
    }
    expect(harness.requests).toHaveLength(0);
    // A key of Latin-1 characters goes as they are (one byte each), and matches the server's key.
    const latin1 = await openHarness({ key: 'clé-ÿ' });
    try {
      const client = createRemoteClient({ baseUrl: latin1.server.url, key: 'clé-ÿ' });
      await latin1.runtime.client.startNew('Echo', { instanceId: 'latin1', input: 1 });
      expect(await within(client.waitForCompletion('latin1'), 'the completion')).toMatchObject({ output: 1 });
      client.close();
    } finally {
      await latin1.close();
    }
  });

  it('rejects with RemoteError host-not-allowed, not retried, from an anonymous server addressed by a host name it does not answer for', async () => {
    // An anonymous handler answers only the names it is meant to be reached by (against DNS rebinding); this one is
    // reached through the client's fetch, so the client's baseUrl is the request's host. A request made in process has
    // no Host header, so its host is checked only with an explicit allowedHosts (one received over the network, always).
    const server = createHttpHandler(harness.runtime.client, { anonymous: true, allowedHosts: [], logger: silentLogger });
    const streams: string[] = [];
    const through = (baseUrl: string) => createRemoteClient({
      baseUrl,
      fetch: (input, init) => {
        const request = new Request(input, init);
        if (new URL(request.url).pathname.endsWith('/streams')) streams.push(request.url);
        return server(request);
      },
    });
    const misaddressed = through('http://durable.example:7071');
    const command = await misaddressed.getStatusAll().catch((e: unknown) => e);
    expect(command).toBeInstanceOf(RemoteError);
    expect(command).toMatchObject({ code: 'host-not-allowed', status: 421 });
    await expect(firstValueFrom(misaddressed.status$('x'))).rejects.toMatchObject({ code: 'host-not-allowed', status: 421 });
    expect(streams).toHaveLength(1); // not retried
    expect(await through('http://localhost:7071').getStatusAll()).toEqual([]);
    server.close();
  });

  it('rejects with RemoteError unreachable when nothing listens', async () => {
    const { url } = harness.server;
    await harness.close();
    harness = await openHarness();
    const client = createRemoteClient({ baseUrl: url, key: KEY });
    await expect(client.getStatus('x')).rejects.toMatchObject({ code: 'unreachable' });
  });

  it('retries a stream the server refuses with 503 until it is served, backing off on its clock', async () => {
    harness.refuseStreams(2, 503);
    const clock = new VirtualClock();
    // First delay 1 s, doubling; no watchdog timer: every timer is a reconnect.
    const client = createRemoteClient({ baseUrl: harness.server.url, key: KEY, clock, reconnect: { timeoutMs: Infinity } });
    const streamRequests = () => harness.requests.filter((r) => r.path.endsWith('/streams')).length;
    const first = firstValueFrom(client.status$('later'));
    for (const [refused, delayMs] of [[1, 1000], [2, 2000]] as const) {
      await clock.waitForTimer(); // refused: the retry is armed, and waits for the clock
      expect(streamRequests()).toBe(refused);
      await clock.advance(delayMs);
    }
    expect(await first).toBeUndefined();
    expect(streamRequests()).toBe(3);
  });

  it('times waitForCompletion on its clock', async () => {
    const clock = new VirtualClock();
    const client = createRemoteClient({ baseUrl: harness.server.url, key: KEY, clock });
    await harness.runtime.client.startNew('WaitForEvents', { instanceId: 'slow', input: 1 });
    let settled = false;
    const waiting = client.waitForCompletion('slow', { timeoutMs: 60_000 }).finally(() => {
      settled = true;
    });
    await firstValueFrom(client.status$('slow')); // the stream is live (the timeout was armed by the call)
    await clock.advance(59_999);
    expect(settled).toBe(false);
    await clock.advance(1);
    expect(['Pending', 'Running']).toContain((await waiting).runtimeStatus);
  });

  it('ends waitForCompletion at its timeout with the latest status when the server ends the watch and its client stays closed', async () => {
    const clock = new VirtualClock();
    const client = createRemoteClient({ baseUrl: harness.server.url, key: KEY, clock });
    await harness.runtime.client.startNew('WaitForEvents', { instanceId: 'cut', input: 1 });
    await firstValueFrom(harness.runtime.client.status$('cut').pipe(filter((s) => s?.runtimeStatus === 'Running')));
    // One subscription on the server for both (made together): the wait has the status once `seen` has it.
    const seen = firstValueFrom(client.status$('cut'));
    const waiting = outcome(client.waitForCompletion('cut', { timeoutMs: 60_000 }));
    expect(await within(seen, 'the first status')).toMatchObject({ runtimeStatus: 'Running' });
    // The server's client closes: its status$ completes, so the server ends the watch (a `close` event, no error), and
    // refuses the watches the wait subscribes again. This client is open: the wait goes on until its timeout.
    harness.runtime.client.close();
    await clock.advance(60_000);
    // Not StoreClosedError, which says this client closed.
    expect(await within(waiting, 'the wait ending')).toMatchObject({ instanceId: 'cut', runtimeStatus: 'Running' });
    client.close();
  });

  it('aborts the request and deletes the server session when the last subscriber unsubscribes', async () => {
    const client = createRemoteClient({ baseUrl: harness.server.url, key: KEY });
    await firstValueFrom(client.status$('watched'));
    const request = harness.requests.find((r) => r.path.endsWith('/streams'))!;
    await vi.waitFor(() => expect(request.signal.aborted).toBe(true), { timeout: 30_000, interval: 10 });
    await vi.waitFor(() => expect(harness.requests.some((r) => r.method === 'DELETE' && r.path.includes('/streams/'))).toBe(true), {
      timeout: 30_000, interval: 10,
    });
  });

  it('lists with paging and filters like the local client', async () => {
    const client = createRemoteClient({ baseUrl: harness.server.url, key: KEY });
    for (let i = 0; i < 5; i++) await client.startNew('Echo', { instanceId: `e-${i}`, input: i });
    for (let i = 0; i < 5; i++) await client.waitForCompletion(`e-${i}`, SETTLED);
    const first = await client.listInstances({ pageSize: 3, instanceIdPrefix: 'e-' });
    expect(first.instances).toHaveLength(3);
    const second = await client.listInstances({ pageSize: 3, instanceIdPrefix: 'e-', continuationToken: first.continuationToken! });
    expect(second.continuationToken).toBeUndefined();
    expect([...first.instances, ...second.instances].map((s) => s.instanceId)).toEqual(['e-0', 'e-1', 'e-2', 'e-3', 'e-4']);
    expect(await client.getStatusBy({ runtimeStatus: ['Completed'], showInput: false }))
      .toEqual(await harness.runtime.client.getStatusBy({ runtimeStatus: ['Completed'], showInput: false }));
  });

  it('watches a live query with instances$', async () => {
    const client = createRemoteClient({ baseUrl: harness.server.url, key: KEY });
    const lists = client.instances$({ instanceIdPrefix: 'q-' });
    const done = firstValueFrom(lists.pipe(filter((l: InstanceStatus[]) => l.length === 2 && l.every((s) => s.runtimeStatus === 'Completed'))));
    expect(await firstValueFrom(lists)).toEqual([]);
    await client.startNew('Echo', { instanceId: 'q-1', input: 1 });
    await client.startNew('Echo', { instanceId: 'q-2', input: 2 });
    await client.startNew('Echo', { instanceId: 'other', input: 3 });
    expect((await done).map((s) => s.output)).toEqual([1, 2]);
  });
});
