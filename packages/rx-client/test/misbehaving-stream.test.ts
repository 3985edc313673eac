import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { systemClock, type Clock } from '@durable-rx/runtime';
import { describe, expect, it } from 'vitest';
import { createRemoteClient, RemoteError, type ConnectionState, type RemoteClient } from '../src/index.js';
import { ownedByEachTest, until, within } from './harness.js';

/**
 * The connection never hangs on a server (or proxy) that breaks the stream protocol: a stream that never names its
 * session is retried with back-off, a `session` event that names none fails the watches, and a network failure reads
 * as `unreachable` in `connection$`, as in a command's rejection.
 */

const { subscriptions, cleanups } = ownedByEachTest();

/** Every state `client.connection$` has told so far. */
function statesOf(client: RemoteClient): ConnectionState[] {
  const states: ConnectionState[] = [];
  subscriptions.push(client.connection$.subscribe((s) => states.push(s)));
  return states;
}

/** A status as the server sends it. */
const RUNNING = {
  instanceId: 'x', name: 'n', runtimeStatus: 'Running', createdTime: '2026-01-01T00:00:00.000Z', lastUpdatedTime: '2026-01-01T00:00:00.000Z',
};

/**
 * A real HTTP server on 127.0.0.1 that answers every stream request with an event stream that starts with `opening`,
 * then sends a heartbeat comment every 20 ms; any other request gets the status {@link RUNNING}. Counts stream requests.
 */
async function serveStreamsOpeningWith(
  opening: string, { busyReads = 0 }: { readonly busyReads?: number } = {},
): Promise<{ readonly baseUrl: string; readonly streams: () => number; readonly reads: () => number }> {
  let streams = 0;
  let reads = 0;
  const server: Server = createHttpServer((request: IncomingMessage, response: ServerResponse) => {
    request.resume();
    if (request.method === 'GET' && request.url?.endsWith('/streams')) {
      streams++;
      response.writeHead(200, { 'content-type': 'text/event-stream' }).write(opening);
      const heartbeat = setInterval(() => response.write(': heartbeat\n\n'), 20);
      response.once('close', () => clearInterval(heartbeat));
      return;
    }
    if (++reads <= busyReads) {
      response.writeHead(503, { 'content-type': 'application/json' }).end(JSON.stringify({ code: 'unavailable', message: 'busy' }));
      return;
    }
    response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(RUNNING));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, streams: () => streams, reads: () => reads };
}

/** A stream of another protocol revision: it opens and heartbeats, but names its session in an event of its own. */
const HELLO = 'retry: 20\n\nevent: hello\nid: S.0\ndata: {"sessionId":"S","protocol":2}\n\n';

describe('a stream that never goes live', () => {
  it('fails each attempt without a session event at reconnect.timeoutMs with bad-response, retried with back-off', async () => {
    const server = await serveStreamsOpeningWith(HELLO);
    // The real clock, with each reconnect delay recorded (every timer but the watchdog's 300 ms).
    const delays: number[] = [];
    const clock: Clock = {
      now: () => systemClock.now(),
      setTimeout: (callback, ms) => (ms !== 300 && delays.push(ms), systemClock.setTimeout(callback, ms)),
      clearTimeout: (timer) => systemClock.clearTimeout(timer),
    };
    // A first delay of the server's 20 ms too: an attempt the watchdog breaks off before its first chunk arrived (a
    // loaded machine) never read the `retry` hint, and counts as a failure all the same.
    const client = createRemoteClient({ baseUrl: server.baseUrl, clock, reconnect: { timeoutMs: 300, initialDelayMs: 20 } });
    cleanups.push(() => client.close());
    const states = statesOf(client);
    const values: unknown[] = [];
    const errors: unknown[] = [];
    subscriptions.push(client.status$('x').subscribe({ next: (value) => values.push(value), error: (error: unknown) => errors.push(error) }));
    await until(() => delays.length >= 3 && states.some((s) => s.state === 'reconnecting' && s.error instanceof RemoteError
      && s.error.code === 'bad-response' && s.error.message === 'The event stream sent no session'), 'attempts failed for want of a session');
    // Retried (not given up), never live; each delay twice the last from 20 ms, spread over its upper half.
    expect(server.streams()).toBeGreaterThanOrEqual(3);
    expect(states.some((s) => s.state === 'live' || s.state === 'failed')).toBe(false);
    expect(delays.slice(0, 3).map((ms, i) => ms > 10 * 2 ** i && ms <= 20 * 2 ** i)).toEqual([true, true, true]);
    expect(values).toEqual([]);
    expect(errors).toEqual([]);
  });

  it('lets waitForCompletion read the status once when the stream sends no session', async () => {
    const server = await serveStreamsOpeningWith(HELLO);
    // A short watchdog for the stream; the plain read keeps the default deadline (20 s), which a loaded machine meets.
    const client = createRemoteClient({ baseUrl: server.baseUrl, reconnect: { timeoutMs: 300 }, timeoutMs: 20_000 });
    cleanups.push(() => client.close());
    // Past its timeout with no status, the wait reads it with a plain GET once the stream is known to be down.
    const status = await within(client.waitForCompletion('x', { timeoutMs: 100 }), 'the wait settled');
    expect(status).toMatchObject({ instanceId: 'x', runtimeStatus: 'Running' });
    expect(server.reads()).toBe(1);
  });

  it('lets waitForCompletion read the status again at the next failed attempt when the first read failed', async () => {
    // The server answers the first two plain reads 503 (busy), the third with the status.
    const server = await serveStreamsOpeningWith(HELLO, { busyReads: 2 });
    const client = createRemoteClient({
      baseUrl: server.baseUrl, reconnect: { timeoutMs: 300, initialDelayMs: 10, maxDelayMs: 50 }, timeoutMs: 20_000,
    });
    cleanups.push(() => client.close());
    const status = await within(client.waitForCompletion('x', { timeoutMs: 100 }), 'the wait settled');
    expect(status).toMatchObject({ instanceId: 'x', runtimeStatus: 'Running' });
    expect(server.reads()).toBe(3);
    // One read per failed attempt, not a loop: each came after an attempt of the stream failed.
    expect(server.streams()).toBeGreaterThanOrEqual(3);
  });

  it.each([
    ['a number', '{"session":5}'],
    ['no object', '5'],
    ['null', 'null'],
  ])('fails the watches with bad-response when the session event names %s as its session', async (_, data) => {
    const server = await serveStreamsOpeningWith(`event: session\nid: S.0\ndata: ${data}\n\n`);
    // The default watchdog: one of 300 ms could break off a first attempt whose chunk is late (a loaded machine), and
    // the stream would be requested again.
    const client = createRemoteClient({ baseUrl: server.baseUrl });
    cleanups.push(() => client.close());
    const states = statesOf(client);
    let failure: unknown;
    subscriptions.push(client.status$('x').subscribe({ error: (error: unknown) => (failure = error) }));
    await until(() => failure !== undefined, 'the watch failed');
    expect(failure).toBeInstanceOf(RemoteError);
    expect(failure).toMatchObject({ code: 'bad-response', message: 'The event stream sent no session' });
    expect(states.at(-1)).toEqual({ state: 'failed', error: failure });
    expect(server.streams()).toBe(1);
  });
});

describe('a stream that cannot reach the server', () => {
  it('tells connection$ reconnecting with RemoteError unreachable (503), as a command rejects', async () => {
    // A port where nothing listens: each connect is refused.
    const probe = createNetServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address() as AddressInfo;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const client = createRemoteClient({ baseUrl: `http://127.0.0.1:${port}`, reconnect: { initialDelayMs: 10, maxDelayMs: 50 } });
    cleanups.push(() => client.close());
    const states = statesOf(client);
    subscriptions.push(client.status$('x').subscribe({ error: () => {} }));
    await until(() => states.some((s) => s.state === 'reconnecting'), 'the connect failed');
    const { error } = states.find((s) => s.state === 'reconnecting') as { error?: Error };
    expect(error).toBeInstanceOf(RemoteError);
    expect(error).toMatchObject({ code: 'unreachable', status: 503, cause: expect.any(Error) });
    const command = await client.getStatus('x').catch((e: unknown) => e);
    expect(command).toMatchObject({ code: 'unreachable', status: 503 });
  });
});
