import { createServer, connect, type Socket } from 'node:net';
import { filter, firstValueFrom, Observable, ReplaySubject, type Subscription } from 'rxjs';
import { afterEach, vi } from 'vitest';
import {
  createRuntime, MemoryStore, silentLogger, type Activity, type DurableClient, type Orchestrator, type Runtime,
} from '@durable-rx/runtime';
import { WEBHOOK_PATH } from '@durable-rx/runtime/client-kit';
import { createHttpHandler, type HttpHandler, type HttpHandlerOptions } from '@durable-rx/runtime/http';
import { serve, type NodeServer } from '@durable-rx/runtime/node';
import { echo, sampleActivities, sampleOrchestrators, waitForEvents } from '@durable-rx/runtime/samples';
import { SETTLED } from '../../../test-support/settled.js';

export const KEY = 'rx-client-test-key';

/** Test orchestrators on top of the seed samples. */
export const orchestrators: Record<string, Orchestrator> = {
  ...sampleOrchestrators,
  Echo: echo,
  WaitForEvents: waitForEvents,
  /** Sets its input as the custom status, then waits for a `Done` event. */
  ShowInput: function* (ctx) {
    ctx.setCustomStatus(ctx.getInput());
    yield ctx.waitForExternalEvent('Done');
  },
};

/** A request the server received, as the tests want to see it. */
export interface SeenRequest {
  readonly method: string;
  readonly path: string;
  readonly lastEventId: string | null;
  readonly authorization: string | null;
  readonly signal: AbortSignal;
}

/** A runtime behind a real HTTP server on 127.0.0.1, whose handler can be replaced (a "server restart"). */
export interface Harness {
  readonly runtime: Runtime;
  readonly server: NodeServer;
  readonly requests: SeenRequest[];
  /** Replaces the handler with a fresh one: open streams end and their sessions are forgotten. */
  restartHandler(): void;
  /**
   * Answers the next `count` stream requests (or, with `suffix`, requests whose path ends with it) with this status
   * and error `code` (default `unavailable`) instead of serving them.
   */
  refuseStreams(count: number, status: number, suffix?: string, code?: string): void;
  /**
   * Leaves requests whose path ends with `suffix` unanswered until the client gives up on them (aborts); `undefined`
   * stops holding new ones.
   */
  holdRequests(suffix: string | undefined): void;
  /** The number of active subscriptions of stream session `session`, as the server counts them. */
  subscriptionsOf(session: string): Promise<number>;
  close(): Promise<void>;
}

/**
 * `serve(handler)` on a free port, keeping idle connections open for 10 min instead of Node's 5 s. The client and the
 * server share this process: on a loaded machine fetch's keep-alive clock (undici's coarse timers, which count ticks,
 * not elapsed time) falls behind the server's, and fetch sends a request on a connection the server is closing at 5 s
 * idle. The request then fails with ECONNRESET ("unreachable"): the conformance listing of 1001 instances, started 50
 * at a time, did so with six busy loops on the test's core. No test here is about the server's idle timeout.
 */
export async function serveForTest(handler: Parameters<typeof serve>[0]): Promise<NodeServer> {
  const server = await serve(handler, { port: 0 });
  server.server.keepAliveTimeout = 600_000;
  return server;
}

/**
 * Opens a {@link Harness}. `serverClient` gives the client the server's handler serves (default: the runtime's own),
 * e.g. one whose feed of an instance fails once, as a store read may.
 */
export async function openHarness(
  options: Partial<HttpHandlerOptions> = {}, serverClient: (client: DurableClient) => DurableClient = (client) => client,
): Promise<Harness> {
  const runtime = createRuntime({
    store: new MemoryStore(), orchestrators, activities: sampleActivities as Record<string, Activity>, logger: silentLogger,
  });
  await runtime.start();
  const make = (): HttpHandler =>
    createHttpHandler(serverClient(runtime.client), { key: KEY, logger: silentLogger, reconnectDelayMs: 20, ...options });
  let current = make();
  let refusals: { count: number; status: number; suffix?: string | undefined; code?: string | undefined } = { count: 0, status: 503 };
  let held: string | undefined;
  const requests: SeenRequest[] = [];
  const handler = Object.assign(
    (request: Request): Promise<Response> => {
      const path = new URL(request.url).pathname;
      requests.push({
        method: request.method, path, lastEventId: request.headers.get('last-event-id'),
        authorization: request.headers.get('authorization'), signal: request.signal,
      });
      const refused = refusals.suffix ? path.endsWith(refusals.suffix) : path.endsWith('/stream') || path.endsWith('/streams');
      if (refused && refusals.count > 0) {
        refusals.count--;
        return Promise.resolve(Response.json({ code: refusals.code ?? 'unavailable', message: 'try again' }, { status: refusals.status }));
      }
      if (held !== undefined && path.endsWith(held)) {
        return new Promise((resolve) => request.signal.addEventListener('abort', () => resolve(new Response(null, { status: 499 }))));
      }
      return current(request);
    },
    { close: () => current.close() },
  );
  const server = await serveForTest(handler);
  return {
    runtime,
    server,
    requests,
    restartHandler() {
      current.close();
      current = make();
    },
    refuseStreams(count, status, suffix, code) {
      refusals = { count, status, suffix, code };
    },
    holdRequests(suffix) {
      held = suffix;
    },
    async subscriptionsOf(session) {
      // An empty change changes nothing and answers with the count.
      const response = await fetch(`${server.url}${WEBHOOK_PATH}/streams/${session}/subscriptions`, {
        method: 'POST', headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' }, body: '{}',
      });
      return ((await response.json()) as { subscriptions: number }).subscriptions;
    },
    async close() {
      await server.close();
      await runtime.stop();
    },
  };
}

/**
 * A recorder whose subscriptions go into `owner` (the test releases them): `record(source)` subscribes now and keeps
 * every value; `seen(p)` resolves once a value matching p has arrived.
 */
export function recordInto(owner: Subscription[]) {
  return <T>(source: { subscribe: (observer: ReplaySubject<T>) => Subscription }) => {
    const values: T[] = [];
    const replay = new ReplaySubject<T>();
    owner.push(source.subscribe(replay));
    owner.push(replay.subscribe((v) => values.push(v)));
    return { values, seen: (p: (value: T) => boolean) => firstValueFrom(replay.pipe(filter(p))) };
  };
}

/**
 * What each test of a file owns, let go after it: every subscription in `subscriptions` (those `record` makes too),
 * then every cleanup pushed to `cleanups`, the last pushed first.
 */
export function ownedByEachTest() {
  const subscriptions: Subscription[] = [];
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const subscription of subscriptions.splice(0)) subscription.unsubscribe();
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  return { subscriptions, record: recordInto(subscriptions), cleanups };
}

/**
 * `promise`, or a rejection saying `what` did not happen within a bound no healthy run comes near, even on a loaded
 * machine: `ms`, by default SETTLED's 60 s (30 s was too near: with six busy loops on the test's core, two 5 MB
 * statuses took longer to arrive).
 */
export function within<T>(promise: Promise<T>, what: string, ms: number = SETTLED.timeoutMs): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const bound = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} within ${ms / 1000} s`)), ms);
  });
  return Promise.race([promise, bound]).finally(() => clearTimeout(timer));
}

/**
 * Resolves once `done()` holds (a boolean or a promise of one), checked every 10 ms by `vi.waitFor`; rejects saying
 * `what` did not happen when it does not within `ms` (as {@link within}).
 */
export async function until(done: () => boolean | Promise<boolean>, what: string, ms: number = SETTLED.timeoutMs): Promise<void> {
  await vi.waitFor(async () => {
    if (!(await done())) throw new Error(`${what} within ${ms / 1000} s`);
  }, { timeout: ms, interval: 10 });
}

/** What `promise` settles with: its value, or the error it rejects with. */
export function outcome(promise: Promise<unknown>): Promise<unknown> {
  return promise.then((value) => value, (error: unknown) => error);
}

/**
 * A wrapper for the client the server's handler serves (`openHarness`' second argument) that counts, per instance,
 * the live subscriptions the server holds on the runtime's `status$` and `history$` (`live(instanceId)`), and serves
 * what `replace(method, instanceId)` returns instead of the runtime's where it returns an observable (a source that
 * ends or fails as a store read may).
 */
export function serverClient(
  replace: (method: 'status$' | 'history$', instanceId: string) => Observable<unknown> | undefined = () => undefined,
) {
  const counts = new Map<string, number>();
  const count = (instanceId: string, by: number): void => void counts.set(instanceId, (counts.get(instanceId) ?? 0) + by);
  return {
    live: (instanceId: string): number => counts.get(instanceId) ?? 0,
    wrap: (client: DurableClient): DurableClient => new Proxy(client, {
      get(target, key) {
        // The server reads a history through the runtime client's historyPositions$ (history$ with each history's position).
        if (key === 'status$' || key === 'history$' || key === 'historyPositions$') {
          return (instanceId: string) => {
            const method = key === 'status$' ? key : 'history$';
            const source = replace(method, instanceId) ?? (target as unknown as Record<string, (id: string) => Observable<unknown>>)[key]!(instanceId);
            return new Observable<unknown>((subscriber) => {
              count(instanceId, 1);
              const subscription = source.subscribe(subscriber);
              return () => {
                count(instanceId, -1);
                subscription.unsubscribe();
              };
            });
          };
        }
        const value: unknown = Reflect.get(target, key);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    }) as DurableClient,
  };
}

/** A TCP relay on loopback in front of `target` (an `http://host:port` URL). */
export interface SilentProxy {
  /** The relay's URL, to give the client instead of `target`. */
  readonly url: string;
  /**
   * From now on, what the server sends on the connections open now no longer reaches the client, and both sockets
   * stay open: a half-open connection, or a proxy that stopped forwarding. Later connections are relayed.
   */
  silence(): void;
  close(): Promise<void>;
}

/** Opens a {@link SilentProxy}. */
export async function openSilentProxy(target: string): Promise<SilentProxy> {
  const { hostname, port } = new URL(target);
  const open = new Set<[Socket, Socket]>();
  const server = createServer((client) => {
    const upstream = connect(Number(port), hostname);
    const pair: [Socket, Socket] = [client, upstream];
    open.add(pair);
    client.pipe(upstream);
    upstream.pipe(client);
    const end = (): void => {
      open.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${address.port}`,
    silence() {
      for (const [client, upstream] of open) {
        upstream.unpipe(client);
        upstream.on('data', () => undefined); // read and dropped: the server's writes do not back up
      }
    },
    async close() {
      for (const [client, upstream] of open) {
        client.destroy();
        upstream.destroy();
      }
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * Gates by name: `passed(name)` resolves once `open(name)` was called, whichever comes first, so a test decides when
 * each gated activity returns (each result then a commit of its own).
 */
export function gates(): { readonly passed: (name: string) => Promise<void>; readonly open: (name: string) => void } {
  const opens = new Map<string, () => void>();
  const passes = new Map<string, Promise<void>>();
  const passed = (name: string): Promise<void> => {
    let pass = passes.get(name);
    if (!pass) passes.set(name, (pass = new Promise<void>((resolve) => opens.set(name, resolve))));
    return pass;
  };
  const open = (name: string): void => {
    void passed(name); // made if nothing waits for it yet
    opens.get(name)!();
  };
  return { passed, open };
}

/**
 * A started runtime on a MemoryStore running the hello sequence, whose greeting of each city waits for `open(city)`:
 * each custom status (Tokyo, Seattle, London) is a commit of its own, when the test says. The caller stops it.
 */
export async function gatedHello(): Promise<{ readonly runtime: Runtime; readonly open: (city: string) => void }> {
  const gate = gates();
  const activities: Record<string, Activity> = {
    E1_SayHello: async (name: unknown) => {
      await gate.passed(String(name));
      return `Hello ${String(name)}!`;
    },
  };
  const runtime = createRuntime({ store: new MemoryStore(), orchestrators: sampleOrchestrators, activities, logger: silentLogger });
  await runtime.start();
  return { runtime, open: gate.open };
}
