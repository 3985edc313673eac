import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { filter, firstValueFrom, type Subscription } from 'rxjs';
import { VirtualClock } from '@durable-rx/runtime/testing';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createStreamMux, type ConnectionState, type StreamMux, type StreamMuxOptions } from '../src/stream-mux.js';
import { within } from './harness.js';

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

/** What the session server below does with a subscription request: accept it, answer this status, or cut it off. */
type PostAnswer = 'ok' | 'cut' | number;

/**
 * A real HTTP server on 127.0.0.1 that keeps stream sessions as the runtime's server does: a stream request whose
 * `Last-Event-ID` names a session it knows resumes it (the `session` event again, same id), any other opens a new one
 * (`s1`, `s2` …); a subscription request gets `answer(n)` (n = 1, 2 … counts them) and, when accepted, the open
 * stream gets `beforeValues`, then the value 7 for each added subscription.
 */
async function serveSessions(answer: (n: number) => PostAnswer, beforeValues = '') {
  const log: { method: string; url: string; lastEventId: string | undefined }[] = [];
  const arrivals: (() => void)[] = [];
  const sessions = new Set<string>();
  let stream: ServerResponse | undefined;
  let posts = 0;
  let seq = 0;
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const lastEventId = request.headers['last-event-id'] as string | undefined;
    log.push({ method: request.method!, url: request.url!, lastEventId });
    arrivals.splice(0).forEach((notify) => notify());
    if (request.method === 'GET') {
      const known = lastEventId?.split('.')[0];
      const session = known !== undefined && sessions.has(known) ? known : `s${sessions.size + 1}`;
      sessions.add(session);
      stream = response.writeHead(200, { 'content-type': 'text/event-stream' });
      stream.write(`id: ${session}.${++seq}\nevent: session\ndata: {"session":"${session}"}\n\n`);
      return;
    }
    let body = '';
    request.setEncoding('utf8').on('data', (chunk: string) => (body += chunk)).on('end', () => {
      if (request.method === 'DELETE') return void response.writeHead(204).end();
      const reply = answer(++posts);
      if (reply === 'cut') return void request.socket.destroy();
      if (reply !== 'ok') {
        return void response.writeHead(reply, { 'content-type': 'application/json' }).end('{"code":"internal","message":"no"}');
      }
      response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      const session = request.url!.split('/')[2]!;
      stream?.write(beforeValues);
      for (const { sub } of (JSON.parse(body) as { subscribe: { sub: string }[] }).subscribe) {
        stream?.write(`id: ${session}.${++seq}\nevent: status\ndata: {"sub":"${sub}","data":7}\n\n`);
      }
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    root: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    log,
    /** The requests so far of this method. */
    count: (method: string) => log.filter((r) => r.method === method).length,
    /** Resolves once `p` holds of the requests received (checked on each arrival). */
    until(p: () => boolean): Promise<void> {
      return new Promise((resolve) => {
        const check = () => (p() ? resolve() : arrivals.push(check));
        check();
      });
    },
  };
}

/** One status watch on `mux`, recording its values and errors; the test's `stops` release it. */
function watchOn(mux: StreamMux) {
  const values: unknown[] = [];
  const errors: unknown[] = [];
  let seen!: () => void;
  const first = new Promise<void>((resolve) => (seen = resolve));
  const subscription = mux.watch({ kind: 'status', instanceId: 'a' }, () => (data) => {
    values.push(data);
    seen();
  }).subscribe({ error: (error: unknown) => errors.push(error) });
  stops.push(() => subscription.unsubscribe());
  /** `first`: resolves with the first value. */
  return { values, errors, subscription, first };
}

/**
 * The delays of the next `count` reconnect timers of `clock` (each waited for, then run by advancing the clock by
 * it), but with `lastPending` the last one is left pending.
 */
async function reconnectDelays(clock: VirtualClock, count: number, lastPending = false): Promise<number[]> {
  const delays: number[] = [];
  for (let i = 0; i < count; i++) {
    await within(clock.waitForTimer(), 'the reconnect timer');
    const delay = clock.nextTimerAt!.getTime() - clock.now().getTime();
    delays.push(delay);
    if (!lastPending || i < count - 1) await clock.advance(delay);
  }
  return delays;
}

/**
 * A mux on a new `VirtualClock` that streams from `server` (listening from now on, closed after the test), with
 * `options` beside its root, headers and fetch.
 */
async function muxOn(server: Server, options: Partial<StreamMuxOptions> = {}): Promise<{ clock: VirtualClock; mux: StreamMux }> {
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const clock = new VirtualClock();
  const root = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { clock, mux: createStreamMux({ root, headers: {}, fetch: globalThis.fetch, clock, ...options }) };
}

/**
 * A server whose first stream (`hint`, then the `session` event of session `s`) ends at once, and which refuses every
 * later request with 503.
 */
function refusingAfterFirstStream(hint = ''): Server {
  let streams = 0;
  return createServer((request: IncomingMessage, response: ServerResponse) => {
    request.resume();
    if (streams++ > 0) return void response.writeHead(503, { 'content-type': 'application/json' }).end('{"code":"unavailable","message":"busy"}');
    response.writeHead(200, { 'content-type': 'text/event-stream' }).end(`${hint}id: s.0\nevent: session\ndata: {"session":"s"}\n\n`);
  });
}

/** The first state of `mux` that `p` accepts. */
function stateOf(mux: StreamMux, p: (s: ConnectionState) => boolean): Promise<ConnectionState> {
  return within(firstValueFrom(mux.state$.pipe(filter(p))), 'the expected connection state');
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
    const watched = mux.watch({ kind: 'status', instanceId: 'a' }, () => (data) => values.push(data))
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
          // Each read of the refusal's body is kept: the last is the one waiting when the close comes.
          const body = response.body!;
          const getReader = body.getReader.bind(body);
          body.getReader = (() => {
            const reader = getReader();
            const read = reader.read.bind(reader);
            reader.read = () => (refusalBody = read()) as ReturnType<typeof read>;
            return reader;
          }) as typeof body.getReader;
          refused();
        }
        return response;
      },
    });
    const watch = (instanceId: string) =>
      mux.watch({ kind: 'status', instanceId }, () => () => undefined);
    const errors: unknown[] = [];
    const first = watch('a').subscribe({ error: (error: unknown) => errors.push(error) });
    await within(refusal, 'the refusal arrived'); // its body is being read now, and never ends
    let second: Subscription | undefined;
    let closedFirst!: () => void;
    const firstClosed = new Promise<void>((resolve) => (closedFirst = resolve));
    const state = mux.state$.subscribe((s) => {
      // Watch again the moment the first connection closes, while its refusal is still being read. (Later state
      // watchers are told the new connection's `connecting`, not this `idle`.)
      if (s.state !== 'idle' || second) return;
      second = watch('b').subscribe({ error: (error: unknown) => errors.push(error) });
      closedFirst();
    });
    stops.push(() => {
      second?.unsubscribe();
      state.unsubscribe();
    });
    first.unsubscribe();
    await within(firstClosed, 'the first connection closed');
    await refusalBody!.catch(() => undefined); // closing it aborted the body ...
    await new Promise((resolve) => setImmediate(resolve)); // ... and every reaction to that has run
    const settled = await within(firstValueFrom(mux.state$.pipe(filter((s) => s.state === 'live' || s.state === 'failed'))), 'live');
    expect(settled).toEqual({ state: 'live' });
    expect(errors).toEqual([]);
    expect(streams).toBe(2);
  });

  it('waits out the reconnect delay, then resumes the session and sends the request again, when the server answers a subscription with 500', async () => {
    const server = await serveSessions((n) => (n === 1 ? 500 : 'ok'));
    const clock = new VirtualClock();
    const mux = createStreamMux({ root: server.root, headers: {}, fetch: globalThis.fetch, clock, reconnect: { initialDelayMs: 1000 } });
    const watch = watchOn(mux);
    // Without the delay the client opens the next stream at once: stop looking when it does.
    const reconnecting = firstValueFrom(mux.state$.pipe(filter((s) => s.state === 'reconnecting')));
    await within(Promise.race([reconnecting, server.until(() => server.count('GET') >= 2)]), 'reconnecting, or a second stream');
    expect(server.count('GET')).toBe(1);
    expect(await reconnecting).toMatchObject({ error: { code: 'internal', status: 500 } });
    await clock.advance(1000);
    await within(server.until(() => server.count('GET') === 2), 'the reconnect');
    // The same session, resumed: a new one would leave the old holding what the request applied before failing.
    expect(server.log.filter((r) => r.method === 'GET').map((r) => r.lastEventId)).toEqual([undefined, 's1.1']);
    await stateOf(mux, (s) => s.state === 'live');
    await within(server.until(() => server.count('POST') === 2), 'the subscription sent again');
    await within(watch.first, 'the value');
    expect(watch.values).toEqual([7]);
    expect(watch.errors).toEqual([]);
  });

  it('resumes the session after the reconnect delay when a subscription request fails on the network', async () => {
    const server = await serveSessions((n) => (n === 1 ? 'cut' : 'ok'));
    const clock = new VirtualClock();
    const mux = createStreamMux({ root: server.root, headers: {}, fetch: globalThis.fetch, clock, reconnect: { initialDelayMs: 1000 } });
    const watch = watchOn(mux);
    // Without the delay the client sends the request again at once (and again, while it fails): stop looking when it does.
    const reconnecting = firstValueFrom(mux.state$.pipe(filter((s) => s.state === 'reconnecting')));
    await within(Promise.race([reconnecting, server.until(() => server.count('POST') >= 2)]), 'reconnecting, or a second request');
    expect(server.count('POST')).toBe(1);
    expect(await reconnecting).toMatchObject({ error: expect.any(Error) });
    await clock.advance(1000);
    await within(server.until(() => server.count('POST') === 2), 'the subscription sent again');
    expect(server.log.filter((r) => r.method === 'GET').map((r) => r.lastEventId)).toEqual([undefined, 's1.1']); // resumed
    await within(watch.first, 'the value');
    expect(watch.values).toEqual([7]);
  });

  it('clears the reconnect timer and deletes the session when the last watcher leaves during the reconnect delay', async () => {
    const server = await serveSessions(() => 'ok');
    const clock = new VirtualClock();
    const mux = createStreamMux({ root: server.root, headers: {}, fetch: globalThis.fetch, clock });
    const watch = watchOn(mux);
    await within(server.until(() => server.count('POST') === 1), 'the subscription');
    servers[0]!.closeAllConnections(); // the stream breaks off
    await stateOf(mux, (s) => s.state === 'reconnecting');
    await clock.waitForTimer();
    watch.subscription.unsubscribe();
    await clock.advance(0); // the close after the last watch (the reconnect delay is 1 ms at least)
    await stateOf(mux, (s) => s.state === 'idle');
    await within(server.until(() => server.count('DELETE') === 1), 'the session deleted');
    expect(server.log.at(-1)).toMatchObject({ method: 'DELETE', url: '/streams/s1' });
    // No reconnect timer: what is left is the DELETE's deadline, cleared once it is answered.
    await vi.waitFor(() => expect(clock.pendingTimers).toBe(0), { timeout: 10_000, interval: 10 });
    expect(server.count('GET')).toBe(1);
  });

  it('opens no stream again when a watcher of the reconnecting state closes the mux, and leaves no timer', async () => {
    const server = await serveSessions(() => 'ok');
    const clock = new VirtualClock();
    const mux = createStreamMux({ root: server.root, headers: {}, fetch: globalThis.fetch, clock });
    watchOn(mux);
    await within(server.until(() => server.count('POST') === 1), 'the subscription');
    const closed = new Promise<void>((resolve) => {
      mux.state$.pipe(filter((s) => s.state === 'reconnecting')).subscribe(() => {
        mux.close();
        resolve();
      });
    });
    servers[0]!.closeAllConnections(); // the stream breaks off
    await within(closed, 'the close on reconnecting');
    await clock.advance(60_000);
    expect(clock.pendingTimers).toBe(0);
    expect(server.count('GET')).toBe(1);
  });

  it('opens no stream when a watcher of the connecting state closes the mux, and leaves no timer', async () => {
    const server = await serveSessions(() => 'ok');
    const clock = new VirtualClock();
    const mux = createStreamMux({ root: server.root, headers: {}, fetch: globalThis.fetch, clock });
    mux.state$.pipe(filter((s) => s.state === 'connecting')).subscribe(() => mux.close());
    watchOn(mux);
    await clock.advance(60_000);
    expect(clock.pendingTimers).toBe(0);
    expect(server.count('GET')).toBe(0);
  });

  it('resumes after an id sent without data, and sends no Last-Event-ID after an empty id', async () => {
    // Each stream request gets the next of these streams, which then ends; the client reconnects.
    const streams = [
      'id: s.0\nevent: session\ndata: {"session":"s"}\n\nid: s.5\n\n',
      'id: s.6\nevent: session\ndata: {"session":"s"}\n\nid:\n\n',
      'id: t.0\nevent: session\ndata: {"session":"t"}\n\n',
    ];
    const seen: (string | undefined)[] = [];
    let arrived!: () => void;
    const third = new Promise<void>((resolve) => (arrived = resolve));
    const server = createServer((request: IncomingMessage, response: ServerResponse) => {
      request.resume();
      if (request.method !== 'GET') return void response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      seen.push(request.headers['last-event-id'] as string | undefined);
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      if (seen.length < 3) response.end(streams[seen.length - 1]);
      else response.write(streams[2]!, () => arrived());
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const mux = createStreamMux({
      root: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, headers: {}, fetch: globalThis.fetch, reconnect: { initialDelayMs: 10 },
    });
    watchOn(mux);
    await within(third, 'the second reconnect');
    expect(seen).toEqual([undefined, 's.5', undefined]);
  });

  it('ignores events of subscriptions it does not hold, comments and lines it does not know', async () => {
    const server = await serveSessions(() => 'ok', [
      'id: s1.50\nevent: status\ndata: {"sub":"99","data":1}\n\n', // nobody watches subscription 99
      'id: s1.51\nevent: close\ndata: {"sub":"98"}\n\n',
      ': a comment\nnonsense line\nfield: value\n\n',
    ].join(''));
    const mux = createStreamMux({ root: server.root, headers: {}, fetch: globalThis.fetch });
    const watch = watchOn(mux);
    await within(watch.first, 'the value');
    expect(watch.values).toEqual([7]);
    expect(watch.errors).toEqual([]);
    expect(watch.subscription.closed).toBe(false);
  });

  it('aborts the stream request and arms no timer when the last watcher leaves before the server answers it', async () => {
    let arrived!: (request: { closed: Promise<void> }) => void;
    const requested = new Promise<{ closed: Promise<void> }>((resolve) => (arrived = resolve));
    const server = createServer((request: IncomingMessage, response: ServerResponse) => {
      request.resume();
      arrived({ closed: new Promise<void>((resolve) => response.once('close', () => resolve())) }); // and never answer
    });
    const { clock, mux } = await muxOn(server);
    const watch = watchOn(mux);
    const { closed } = await within(requested, 'the stream request');
    watch.subscription.unsubscribe();
    await clock.advance(0); // the close after the last watch
    await within(closed, 'the stream request aborted');
    expect(await stateOf(mux, (s) => s.state !== 'connecting')).toEqual({ state: 'idle' });
    expect(clock.pendingTimers).toBe(0);
    expect(watch.errors).toEqual([]);
  });

  it('doubles the delay on consecutive failures also when the server asks to reconnect at once (retry: 0)', async () => {
    // The first stream asks for no delay and ends; every later stream request is refused with 503.
    const server = refusingAfterFirstStream('retry: 0\n');
    // No watchdog timer: every timer is a reconnect.
    const { clock, mux } = await muxOn(server, { reconnect: { timeoutMs: Infinity }, random: () => 0 }); // each delay whole
    watchOn(mux);
    const delays = await reconnectDelays(clock, 4);
    // A stream that ended just after its session (nothing delivered), then 503 after 503: consecutive failures, each
    // delay twice the last from the 1 ms floor (not the server's 0 for ever).
    expect(delays).toEqual([1, 2, 4, 8]);
  });

  it.each([
    ['no body (204)', 204],
    ['an empty body (200)', 200],
  ])('backs off when every stream ends before its session event: an event stream with %s', async (_, status) => {
    // A proxy (or a server on its way down) answers every stream request with an event stream that ends at once.
    let streams = 0;
    const server = createServer((request: IncomingMessage, response: ServerResponse) => {
      request.resume();
      streams++;
      response.writeHead(status, { 'content-type': 'text/event-stream' }).end();
    });
    // No watchdog timer: every timer is a reconnect.
    const { clock, mux } = await muxOn(server, { reconnect: { timeoutMs: Infinity, initialDelayMs: 1000 }, random: () => 0 }); // each delay whole
    const states: ConnectionState[] = [];
    const watching = mux.state$.subscribe((s) => states.push(s));
    stops.push(() => watching.unsubscribe());
    watchOn(mux);
    const delays = await reconnectDelays(clock, 5, true); // the fifth reconnect stays pending
    // Failures, each delay twice the last (not 1 s for ever), each `reconnecting` saying why; it never went live.
    expect(delays).toEqual([1000, 2000, 4000, 8000, 16_000]);
    expect(streams).toBe(5);
    const reconnecting = states.filter((s) => s.state === 'reconnecting');
    expect(reconnecting.length).toBe(5);
    for (const state of reconnecting) expect(state).toMatchObject({ error: { code: 'bad-response' } });
    expect(states.some((s) => s.state === 'live')).toBe(false);
  });

  it.each([
    ['resumes its session', false],
    ['opens a new session each time', true],
  ])('backs off a stream that ends just after its session event, though the server asks for no delay: a server that %s', async (_, fresh) => {
    // A proxy that cuts every response after its first chunk, say: each stream request gets `retry: 0` and a session
    // event, then ends; subscription requests are accepted.
    let streams = 0;
    const server = createServer((request: IncomingMessage, response: ServerResponse) => {
      request.resume();
      if (request.method !== 'GET') return void response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      const session = fresh ? `s${++streams}` : (streams++, 's');
      response.writeHead(200, { 'content-type': 'text/event-stream' })
        .end(`retry: 0\nid: ${session}.${streams}\nevent: session\ndata: {"session":"${session}"}\n\n`);
    });
    // No watchdog timer: every timer is a reconnect.
    const { clock, mux } = await muxOn(server, { reconnect: { timeoutMs: Infinity }, random: () => 0 }); // each delay whole
    watchOn(mux);
    const delays = await reconnectDelays(clock, 6, true); // the sixth reconnect stays pending
    // Each stream went live and delivered nothing: consecutive failures, each delay twice the last from the 1 ms floor.
    expect(delays).toEqual([1, 2, 4, 8, 16, 32]);
    expect(streams).toBe(6);
  });

  it('reconnects after the server\'s retry hint, its failures forgotten, once a stream that delivered a value ends', async () => {
    // Three stream requests refused (503), then streams of session `s` that ask for a 500 ms delay; subscription
    // requests and other commands are accepted.
    let streams = 0;
    let open: ServerResponse | undefined;
    const server = createServer((request: IncomingMessage, response: ServerResponse) => {
      request.resume();
      if (request.method !== 'GET') return void response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      if (++streams <= 3) return void response.writeHead(503, { 'content-type': 'application/json' }).end('{"code":"unavailable","message":"busy"}');
      open = response.writeHead(200, { 'content-type': 'text/event-stream' });
      open.write(`retry: 500\nid: s.${streams}\nevent: session\ndata: {"session":"s"}\n\n`);
    });
    // No watchdog timer: every timer is a reconnect.
    const { clock, mux } = await muxOn(server, { reconnect: { timeoutMs: Infinity, initialDelayMs: 1000 }, random: () => 0 }); // each delay whole
    const watch = watchOn(mux);
    const delays = await reconnectDelays(clock, 3);
    await stateOf(mux, (s) => s.state === 'live');
    // A command leaves once the watch's subscription was answered: nothing of the watch is on its way any more.
    await within(mux.send('POST', '/settled', {}), 'the command');
    open!.end('id: s.9\nevent: status\ndata: {"sub":"1","data":7}\n\n'); // a value, then the stream ends
    await within(watch.first, 'the value');
    delays.push(...await reconnectDelays(clock, 1, true));
    // 1 s, 2 s, 4 s after the refusals; after the stream that worked, the server's 500 ms (not 8 s).
    expect(delays).toEqual([1000, 2000, 4000, 500]);
    expect(watch.errors).toEqual([]);
  });

  it.each([
    ['reconnect.timeoutMs', 20_000, undefined, 25_000],
    ['reconnect.maxDelayMs (timeoutMs Infinity)', Infinity, undefined, 3_600_000],
    ['20 s (timeoutMs and maxDelayMs Infinity)', Infinity, Infinity, 20_000],
  ])('reconnects after the server\'s retry hint each time a quiet stream ends that stayed live for %s', async (_, timeoutMs, maxDelayMs, liveMs) => {
    // Every stream request resumes session `s` (a healthy server, nothing new to send) and asks for a 500 ms delay;
    // the stream stays open until the test ends it (a platform's cap on a response's duration, a server's restart).
    let open: ServerResponse | undefined;
    let streams = 0;
    const server = createServer((request: IncomingMessage, response: ServerResponse) => {
      request.resume();
      if (request.method !== 'GET') return void response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      open = response.writeHead(200, { 'content-type': 'text/event-stream' });
      open.write(`retry: 500\nid: s.${++streams}\nevent: session\ndata: {"session":"s"}\n\n`);
    });
    const { clock, mux } = await muxOn(server, { reconnect: { timeoutMs, maxDelayMs }, timeoutMs: Infinity, random: () => 0 }); // each delay whole
    let lives = 0;
    let losses = 0;
    const states = mux.state$.subscribe((s) => void (s.state === 'live' ? lives++ : s.state === 'reconnecting' && losses++));
    stops.push(() => states.unsubscribe());
    watchOn(mux);
    const delays: number[] = [];
    for (let i = 1; i <= 4; i++) {
      await vi.waitFor(() => expect(lives).toBe(i), { timeout: 60_000 });
      // Live for that long, with nothing delivered (its watchdog, if any, hears the stream's opening chunk).
      await clock.advance(liveMs);
      open!.end();
      await vi.waitFor(() => expect(losses).toBe(i), { timeout: 60_000 });
      const delay = clock.nextTimerAt!.getTime() - clock.now().getTime();
      delays.push(delay);
      await clock.advance(delay);
    }
    // Each stream proved the connection works by staying live: never a failure, so never a longer delay.
    expect(delays).toEqual([500, 500, 500, 500]);
  });

  it('spreads each reconnect delay over its upper half, so that clients one restart cut off do not return in step', async () => {
    // Every stream request after the first is refused with 503: each delay doubles, and the random source spreads it.
    const server = refusingAfterFirstStream();
    const draws = [0, 0.5, 0.999];
    const { clock, mux } = await muxOn(server, { reconnect: { timeoutMs: Infinity, initialDelayMs: 1000 }, random: () => draws.shift()! });
    watchOn(mux);
    const delays = await reconnectDelays(clock, 3);
    // Whole (draw 0) of 1 s, three quarters (0.5) of 2 s, about half (0.999) of 4 s: a stream that ended just after its
    // session (nothing delivered), then 503, 503, consecutive failures.
    expect(delays).toEqual([1000, 1500, 2002]);
  });
});
