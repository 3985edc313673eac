import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { filter, firstValueFrom, Observable, type Subscription } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { createStreamMux, type ConnectionState } from '../src/stream-mux.js';

/** One stream request the server got, and a promise settled when its connection closes. */
interface Connection {
  readonly lastEventId: string | undefined;
  readonly closed: Promise<void>;
}

/**
 * A real HTTP server on 127.0.0.1 whose every stream request gets an event stream that opens session `s`; the first
 * then sends value 1 of subscription `1` and breaks off in the middle of the next event (the connection is destroyed:
 * the client's read fails); later ones stay open. Subscription requests are accepted.
 */
async function serveStreams() {
  const connections: Connection[] = [];
  const arrivals: ((connection: Connection) => void)[] = [];
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    request.resume();
    if (request.url?.endsWith('/subscriptions')) {
      response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      return;
    }
    const closed = new Promise<void>((resolve) => response.once('close', () => resolve()));
    response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
    response.write('id: s.0\nevent: session\ndata: {"session":"s"}\n\n');
    if (connections.length === 0) {
      response.write('id: s.1\nevent: status\ndata: {"sub":"1","data":1}\n\nid: s.2\nevent: status\ndata: {"sub', () => response.destroy());
    }
    const connection = { lastEventId: request.headers['last-event-id'] as string | undefined, closed };
    connections.push(connection);
    arrivals.splice(0).forEach((notify) => notify(connection));
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    root: `http://127.0.0.1:${port}`,
    connections,
    /** Resolves with the `n`th connection (1-based) once it has arrived. */
    connection(n: number): Promise<Connection> {
      if (connections.length >= n) return Promise.resolve(connections[n - 1]!);
      return new Promise((resolve) => {
        const wait = () => (connections.length >= n ? resolve(connections[n - 1]!) : arrivals.push(wait));
        arrivals.push(wait);
      });
    },
  };
}

/** `promise`, or a rejection saying `what` did not happen within a bound no healthy run comes near. */
function within<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const bound = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} within 30 s`)), 30_000);
  });
  return Promise.race([promise, bound]).finally(() => clearTimeout(timer));
}

const servers: Server[] = [];
const stops: (() => void)[] = [];

afterEach(async () => {
  for (const stop of stops.splice(0)) stop();
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

describe('createStreamMux', () => {
  it('reconnects after the last event received when the stream breaks off mid-event, keeping its watchers', async () => {
    const server = await serveStreams();
    const mux = createStreamMux({ root: server.root, headers: {}, fetch: globalThis.fetch, reconnect: { initialDelayMs: 10 } });
    const states: ConnectionState[] = [];
    const state = mux.state$.subscribe((s) => states.push(s));
    const values: unknown[] = [];
    const errors: unknown[] = [];
    const watched = new Observable<never>((subscriber) => mux.watch({ kind: 'status', instanceId: 'a' }, subscriber, (v) => values.push(v.data)))
      .subscribe({ error: (error: unknown) => errors.push(error) });
    stops.push(() => {
      watched.unsubscribe();
      state.unsubscribe();
    });
    const first = await within(server.connection(1), 'the first connection arrived');
    await within(first.closed, 'the server broke the first connection off');
    const second = await within(server.connection(2), 'the client reconnected');
    expect(second.lastEventId).toBe('s.1'); // resumes right after the last whole event
    await within(firstValueFrom(mux.state$.pipe(filter((s) => s.state === 'live' && states.some((x) => x.state === 'reconnecting')))), 'live again');
    expect(states.find((s) => s.state === 'reconnecting')).toMatchObject({ error: expect.any(Error) });
    expect(values).toEqual([1]);
    expect(errors).toEqual([]);
    expect(watched.closed).toBe(false);
  });

  it('leaves the watchers of a new connection alone when the old one is stopped while reading its refusal', async () => {
    // The first stream request is refused (401) with a body that never ends; later ones open session `s`.
    let streams = 0;
    const server = createServer((request: IncomingMessage, response: ServerResponse) => {
      request.resume();
      if (request.url?.endsWith('/subscriptions')) {
        response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      } else if (streams++ === 0) {
        response.writeHead(401, { 'content-type': 'application/json' }).write('{"code":"unauthorized",');
      } else {
        response.writeHead(200, { 'content-type': 'text/event-stream' }).write('id: s.0\nevent: session\ndata: {"session":"s"}\n\n');
      }
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    let refused!: () => void;
    const refusal = new Promise<void>((resolve) => (refused = resolve));
    let refusalBody: Promise<unknown> | undefined;
    const mux = createStreamMux({
      root: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      headers: {},
      fetch: async (input, init) => {
        const response = await fetch(input, init);
        if (!response.ok) {
          const json = response.json.bind(response);
          response.json = () => (refusalBody = json());
          refused();
        }
        return response;
      },
    });
    const watch = (instanceId: string) =>
      new Observable<never>((subscriber) => mux.watch({ kind: 'status', instanceId }, subscriber, () => undefined));
    const errors: unknown[] = [];
    const first = watch('a').subscribe({ error: (error: unknown) => errors.push(error) });
    await within(refusal, 'the refusal arrived'); // its body is being read now, and never ends
    let second: Subscription | undefined;
    const state = mux.state$.subscribe((s) => {
      // Watch again the moment the first connection closes, while its refusal is still being read.
      if (s.state === 'idle' && !second) second = watch('b').subscribe({ error: (error: unknown) => errors.push(error) });
    });
    stops.push(() => {
      second?.unsubscribe();
      state.unsubscribe();
    });
    first.unsubscribe();
    await within(firstValueFrom(mux.state$.pipe(filter((s) => s.state === 'idle'))), 'the first connection closed');
    await refusalBody!.catch(() => undefined); // closing it aborted the body ...
    await new Promise((resolve) => setImmediate(resolve)); // ... and every reaction to that has run
    const settled = await within(firstValueFrom(mux.state$.pipe(filter((s) => s.state === 'live' || s.state === 'failed'))), 'live');
    expect(settled).toEqual({ state: 'live' });
    expect(errors).toEqual([]);
    expect(streams).toBe(2);
  });
});
