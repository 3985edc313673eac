import {
  createRuntime, MemoryStore, silentLogger, type Activity, type DurableClient, type Runtime,
} from '@durable-rx/runtime';
import { createHttpHandler, type HttpHandler } from '@durable-rx/runtime/http';
import { serve, type NodeServer } from '@durable-rx/runtime/node';
import { sampleOrchestrators, waitForEvents } from '@durable-rx/runtime/samples';
import type { Subscription } from 'rxjs';
import type { BrowserCommand } from 'vitest/node';
import { Gates } from './gates.js';

/**
 * Commands the Chromium tests call (they run in the vitest process, in Node): a real durable-rx server on
 * 127.0.0.1 that the page reaches over HTTP with CORS, plus what the tests need to check it from the server's side.
 */

const KEY = 'browser-test-key';

interface Server {
  runtime: Runtime;
  server: NodeServer;
  handler: HttpHandler;
  /** Open `GET /streams` responses (streaming connections) right now, and all that were ever opened. */
  open: number;
  opened: number;
  /** Snapshots the server's own client committed, per watched instance (JSON of each status). */
  committed: Map<string, string[]>;
  subscriptions: Subscription[];
  /** Set by `holdGreetings`: each greeting then waits until `releaseGreeting` opens its city. */
  gates?: Gates;
  /** Set by `refuseStreams`: each `GET /streams` is answered with a proxy's 404 page instead, counted in `refused`. */
  refusing: boolean;
  refused: number;
  /** `GET /streams` requests the server refused with 401 (a wrong key). */
  denied: number;
  /** Told each refusal (see `refusedAtLeast`). */
  onRefused: Set<() => void>;
  /** The path of the latest subscription request (`…/streams/{session}/subscriptions`). */
  changes?: string;
}

let current: Server | undefined;

async function start(origin: string): Promise<Server> {
  const state: Partial<Server> = {
    open: 0, opened: 0, committed: new Map(), subscriptions: [], refusing: false, refused: 0, denied: 0, onRefused: new Set(),
  };
  /** Each greeting takes a little while (or waits for its gate), so each custom status is its own commit. */
  const activities: Record<string, Activity> = {
    E1_SayHello: async (name: unknown) => {
      await (state.gates ? state.gates.passed(String(name)) : new Promise((resolve) => setTimeout(resolve, 30)));
      return `Hello ${String(name)}!`;
    },
  };
  const runtime = createRuntime({
    store: new MemoryStore(), orchestrators: { ...sampleOrchestrators, WaitForEvents: waitForEvents }, activities, logger: silentLogger,
  });
  await runtime.start();
  const handler = createHttpHandler(runtime.client, { key: KEY, logger: silentLogger, reconnectDelayMs: 200, cors: { origins: [origin] } });
  const counting = Object.assign(async (request: Request): Promise<Response> => {
    const isSession = request.method === 'GET' && new URL(request.url).pathname.endsWith('/streams');
    if (isSession && state.refusing) {
      // What a proxy in front of a server being deployed answers: its own page, no durable-rx error body (with CORS
      // headers, so that the page can read it).
      state.refused!++;
      for (const told of state.onRefused!) told();
      return new Response('<html>Not Found</html>', { status: 404, headers: { 'content-type': 'text/html', 'access-control-allow-origin': origin } });
    }
    if (request.url.endsWith('/subscriptions')) state.changes = request.url;
    const response = await handler(request);
    if (isSession && response.status === 401) state.denied!++;
    if (isSession && response.status === 200 && response.body) {
      state.open!++;
      state.opened!++;
      // The stream is open until its body is done (the server ended it) or the client went away.
      const [mine, theirs] = response.body.tee();
      const done = () => state.open!--;
      void mine.pipeTo(new WritableStream(), { signal: request.signal }).then(done, done);
      return new Response(theirs, response);
    }
    return response;
  }, { close: () => handler.close() });
  const server = await serve(counting, { port: 0 });
  return Object.assign(state, { runtime, server, handler }) as Server;
}

function need(): Server {
  if (!current) throw new Error('startServer first');
  return current;
}

function record(client: DurableClient, committed: Map<string, string[]>, id: string): Subscription {
  const values: string[] = [];
  committed.set(id, values);
  return client.status$(id).subscribe((status) => values.push(JSON.stringify(status ?? null)));
}

export const serverCommands = {
  /** Starts a fresh server that allows the test page's origin; returns its address and key. */
  startServer: (async (context) => {
    await stopCurrent();
    current = await start(new URL(context.page.url()).origin);
    return { url: current.server.url, key: KEY };
  }) satisfies BrowserCommand<[]>,
  stopServer: (async () => {
    await stopCurrent();
  }) satisfies BrowserCommand<[]>,
  /** Records every snapshot the server's own client pushes for these instances, from now on. */
  recordCommitted: (async (_context, ids: string[]) => {
    const server = need();
    for (const id of ids) server.subscriptions.push(record(server.runtime.client, server.committed, id));
  }) satisfies BrowserCommand<[string[]]>,
  committed: (async (_context, id: string) => need().committed.get(id) ?? []) satisfies BrowserCommand<[string]>,
  /** Cuts every TCP connection the server has (the page's stream included), as a network failure would. */
  dropConnections: (async () => {
    need().server.server.closeAllConnections();
  }) satisfies BrowserCommand<[]>,
  /** Raises an event on each instance through the server's own client (not the page's). */
  raise: (async (_context, ids: string[], name: string, data: unknown) => {
    for (const id of ids) await need().runtime.client.raiseEvent(id, name, data);
  }) satisfies BrowserCommand<[string[], string, unknown]>,
  history: (async (_context, id: string) =>
    JSON.stringify((await need().runtime.client.getStatus(id, { showHistory: true, showHistoryOutput: true }))?.history ?? [])) satisfies BrowserCommand<[string]>,
  /** From now on each greeting of this server waits until `releaseGreeting` opens its city. */
  holdGreetings: (async () => {
    need().gates = new Gates();
  }) satisfies BrowserCommand<[]>,
  releaseGreeting: (async (_context, city: string) => {
    need().gates?.open(city);
  }) satisfies BrowserCommand<[string]>,
  /** While `refusing`, every `GET /streams` gets a proxy's 404 page (see `start`). */
  refuseStreams: (async (_context, refusing: boolean) => {
    need().refusing = refusing;
  }) satisfies BrowserCommand<[boolean]>,
  /** Resolves once `n` streaming connections were refused (by `refuseStreams`) in all. */
  refusedAtLeast: (async (_context, n: number) => {
    const server = need();
    await new Promise<void>((resolve) => {
      const told = () => {
        // A server stopped meanwhile refuses no more: the wait ends with it.
        if (server.refused < n && current === server) return;
        server.onRefused.delete(told);
        resolve();
      };
      server.onRefused.add(told);
      told();
    });
  }) satisfies BrowserCommand<[number]>,
  /** Streaming connections (`GET /streams`) the server refused with 401. */
  deniedConnections: (async () => need().denied) satisfies BrowserCommand<[]>,
  /** Streaming connections (`GET /streams`) open now, and opened in all. */
  streamConnections: (async () => ({ open: need().open, opened: need().opened })) satisfies BrowserCommand<[]>,
  /** The active subscriptions of the session the latest subscription request went to, as the server counts them. */
  sessionSubscriptions: (async () => {
    // An empty change changes nothing and answers with the count.
    const response = await fetch(need().changes!, {
      method: 'POST', headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' }, body: '{}',
    });
    return ((await response.json()) as { subscriptions: number }).subscriptions;
  }) satisfies BrowserCommand<[]>,
};

async function stopCurrent(): Promise<void> {
  const server = current;
  current = undefined;
  if (!server) return;
  server.gates?.release();
  for (const told of [...server.onRefused]) told();
  for (const subscription of server.subscriptions) subscription.unsubscribe();
  await server.server.close();
  await server.runtime.stop();
}

type Commands = typeof serverCommands;
type Call<F> = F extends (context: never, ...args: infer A) => infer R ? (...args: A) => R : never;

declare module 'vitest/browser' {
  interface BrowserCommands {
    startServer: Call<Commands['startServer']>;
    stopServer: Call<Commands['stopServer']>;
    recordCommitted: Call<Commands['recordCommitted']>;
    committed: Call<Commands['committed']>;
    dropConnections: Call<Commands['dropConnections']>;
    raise: Call<Commands['raise']>;
    history: Call<Commands['history']>;
    streamConnections: Call<Commands['streamConnections']>;
    holdGreetings: Call<Commands['holdGreetings']>;
    releaseGreeting: Call<Commands['releaseGreeting']>;
    refuseStreams: Call<Commands['refuseStreams']>;
    refusedAtLeast: Call<Commands['refusedAtLeast']>;
    deniedConnections: Call<Commands['deniedConnections']>;
    sessionSubscriptions: Call<Commands['sessionSubscriptions']>;
  }
}
