import { request as httpRequest } from 'node:http';
import { afterEach } from 'vitest';
import { WEBHOOK_PATH } from '../src/client/http-management-payload.js';
import { silentLogger } from '../src/env/logger.js';
import { createHttpHandler, type HttpHandlerOptions } from '../src/http/create-http-handler.js';
import { serve, type NodeServer } from '../src/node/serve.js';
import { createRuntime, type Runtime, type RuntimeOptions } from '../src/runtime/create-runtime.js';
import { MemoryStore } from '../src/store/memory-store.js';
import type { Activity, Orchestrator } from '../src/engine/orchestration-context.js';
import { echo, sampleActivities, sampleOrchestrators, waitForEvents } from '../src/testing/samples.js';

/** A runtime whose client the management API serves on 127.0.0.1 ({@link servedRuntimes}). */
export interface ServedRuntime {
  readonly runtime: Runtime;
  readonly server: NodeServer;
  /** Where the management API's routes start: the server's URL and the webhook path. */
  readonly base: string;
}

/** The servers and runtimes of a test file ({@link servedRuntimes}). */
export interface ServedRuntimes {
  /**
   * Starts a runtime (on a new `MemoryStore`, with the silent logger, unless `options` name them) and serves its client
   * with `createHttpHandler` (the file's key, the silent logger, then `handlerOptions`) on a free port.
   */
  open(options: RuntimeOptions, handlerOptions?: Partial<HttpHandlerOptions>): Promise<ServedRuntime>;
  /** Serves the client of a runtime already started, as {@link ServedRuntimes.open} does (e.g. under another `baseUrl`). */
  serve(runtime: Runtime, handlerOptions?: Partial<HttpHandlerOptions>): Promise<ServedRuntime>;
}

/**
 * The HTTP tests' setup, once: runtimes served by the management API with `key`, each server closed and then each
 * runtime stopped after its test (closing a server or stopping a runtime the test already closed or stopped does
 * nothing). Called once at the top of a file: it registers that `afterEach`.
 */
export function servedRuntimes(key: string): ServedRuntimes {
  const servers: NodeServer[] = [];
  const runtimes: Runtime[] = [];
  afterEach(async () => {
    for (const server of servers.splice(0)) await server.close();
    for (const runtime of runtimes.splice(0)) await runtime.stop();
  });
  const serveRuntime = async (runtime: Runtime, handlerOptions: Partial<HttpHandlerOptions> = {}): Promise<ServedRuntime> => {
    const server = await serve(createHttpHandler(runtime.client, { key, logger: silentLogger, ...handlerOptions }), { port: 0 });
    servers.push(server);
    return { runtime, server, base: `${server.url}${WEBHOOK_PATH}` };
  };
  return {
    async open(options, handlerOptions) {
      const runtime = createRuntime({ store: new MemoryStore(), logger: silentLogger, ...options });
      runtimes.push(runtime);
      await runtime.start();
      return serveRuntime(runtime, handlerOptions);
    },
    serve: serveRuntime,
  };
}

/** A request's options with a JSON body: `json`, when set, becomes the body with the JSON content type ({@link withKey}). */
export type KeyedInit = RequestInit & { json?: unknown };

/**
 * `init` with `key` as a Bearer token (unless `init.headers` set `authorization`) and `json`, when set, as a JSON
 * body: the options of a request an authorized client sends the management API.
 */
export function withKey(key: string, init: KeyedInit = {}): RequestInit {
  const { json, headers, ...rest } = init;
  return {
    ...rest,
    headers: {
      authorization: `Bearer ${key}`,
      ...(json === undefined ? {} : { 'content-type': 'application/json' }),
      ...(headers as Record<string, string> | undefined),
    },
    ...(json === undefined ? {} : { body: JSON.stringify(json) }),
  };
}

/**
 * One HTTP/1.1 request over a socket to 127.0.0.1:`port` whose `Host` header is `host`, whatever it connects to
 * (fetch cannot set it), with `headers` and `body` if given.
 */
export function overSocket(
  port: number, host: string, method: string, path: string, headers: Record<string, string> = {}, body?: string,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const sent = httpRequest({ host: '127.0.0.1', port, method, path, headers: { ...headers, host, connection: 'close' } }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (text += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body: text }));
      response.on('error', reject);
    });
    sent.on('error', reject);
    // An end of its own: a route the guard let through that never answers (a stream) fails here, not at the test's timeout.
    sent.setTimeout(30_000, () => sent.destroy(new Error(`no answer to ${method} ${path} within 30 s`)));
    sent.end(body);
  });
}

/** The HTTP tests' workload ({@link apiWorkload}): its Flaky activity fails until `flaky.fixed` is set. */
export interface ApiWorkload {
  readonly orchestrators: Record<string, Orchestrator>;
  readonly activities: Record<string, Activity>;
  readonly flaky: { fixed: boolean };
}

/**
 * The samples plus Echo, WaitForEvents and CallsFlaky, whose one activity, Flaky (n => n + 1), throws 'flaky is broken'
 * until the test sets `flaky.fixed` (a failed instance to rewind).
 */
export function apiWorkload(): ApiWorkload {
  const flaky = { fixed: false };
  return {
    flaky,
    orchestrators: {
      ...sampleOrchestrators,
      Echo: echo,
      WaitForEvents: waitForEvents,
      CallsFlaky: function* (ctx) {
        return yield ctx.callActivity('Flaky', 1);
      },
      ParentOfWaiting: function* (ctx) {
        return yield ctx.callSubOrchestrator('WaitForEvents', 1, `${ctx.instanceId}-child`);
      },
    },
    activities: {
      ...sampleActivities,
      Flaky: (n: number) => {
        if (!flaky.fixed) throw new Error('flaky is broken');
        return n + 1;
      },
    },
  };
}
