import { createAdaptorServer } from '@hono/node-server';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { filter, firstValueFrom } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import type { DurableClient } from '../src/client/durable-client.js';
import { WEBHOOK_PATH } from '../src/client/http-management-payload.js';
import type { Orchestrator } from '../src/engine/orchestration-context.js';
import { silentLogger } from '../src/env/logger.js';
import { createHttpHandler, type HttpHandler, type HttpHandlerOptions } from '../src/http/create-http-handler.js';
import { serve, type NodeServer } from '../src/node/serve.js';
import { MemoryStore } from '../src/store/memory-store.js';
import { echo } from '../src/testing/samples.js';
import { SETTLED } from '../src/testing/settled.js';
import { overSocket } from './served-runtimes.js';
import { startedRuntimes } from './started-runtimes.js';

/**
 * DNS rebinding: a page on `http://evil.example:7071` whose name is made to resolve to the handler's address is
 * same-origin to it in the browser's view. An anonymous handler answers a request that carries a `Host` header (every
 * request received over the network, on any server, and every copy of one) only on the host names it is meant to be
 * reached by (421 `host-not-allowed` otherwise, before any route runs); a request made in process has no `Host` and is
 * served on any host (as Durable Functions serves every host), unless `allowedHosts` is given explicitly, which checks
 * every request. A handler with a key is not affected.
 */

const orchestrators: Record<string, Orchestrator> = {
  Echo: echo,
  WaitForEvent: function* (ctx) {
    return yield ctx.waitForExternalEvent('Item');
  },
};

const { start } = startedRuntimes();
const servers: NodeServer[] = [];
const otherServers: Server[] = [];

// Registered after the runtimes' hook, so it runs before it: the servers close before the runtimes stop.
afterEach(async () => {
  for (const server of servers.splice(0)) await server.close();
  for (const server of otherServers.splice(0)) {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

/** `server` listening on a free loopback port, closed after the test; its port. */
async function listening(server: Server): Promise<number> {
  otherServers.push(server);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return (server.address() as AddressInfo).port;
}

/**
 * A hand-written node:http adapter, as apps put a fetch handler behind Express or their own server: the URL on a
 * fixed origin of its own (not the `Host`), the headers copied.
 */
function adapted(handler: HttpHandler): Server {
  return createServer((incoming: IncomingMessage, outgoing) => {
    const headers = new Headers();
    for (const [name, value] of Object.entries(incoming.headers)) {
      for (const one of [value ?? []].flat()) headers.append(name, one);
    }
    void handler(new Request(new URL(incoming.url ?? '/', 'http://localhost'), { method: incoming.method, headers }))
      .then(async (response) => {
        outgoing.writeHead(response.status, { 'content-type': response.headers.get('content-type') ?? 'text/plain' });
        outgoing.end(Buffer.from(await response.arrayBuffer()));
      }, (error: unknown) => {
        outgoing.writeHead(500);
        outgoing.end(String(error));
      });
  });
}

async function started(): Promise<DurableClient> {
  return (await start({ store: new MemoryStore(), orchestrators })).client;
}

function anonymous(client: DurableClient, options: Partial<HttpHandlerOptions> = {}): HttpHandler {
  return createHttpHandler(client, { anonymous: true, logger: silentLogger, ...options });
}

/** An anonymous handler that checks every request's host, in process too: the defaults, given explicitly. */
function checking(client: DurableClient, options: Partial<HttpHandlerOptions> = {}): HttpHandler {
  return anonymous(client, { allowedHosts: [], ...options });
}

/** A GET of the instance list at `origin` (`http://host:port`), as a page there would send it. */
function list(handler: HttpHandler, origin: string): Promise<Response> {
  return handler(new Request(`${origin}${WEBHOOK_PATH}/instances`, { headers: { origin: new URL(origin).origin } }));
}

/** The status and `code` of an error response, checking it has the handler's error body shape. */
async function errorOf(response: Response): Promise<[number, string]> {
  const body = (await response.json()) as Record<string, unknown>;
  expect(Object.keys(body).sort()).toEqual(['ExceptionMessage', 'code', 'message']);
  expect(body.ExceptionMessage).toBe(body.message);
  return [response.status, body.code as string];
}

describe('an anonymous handler behind the Node adapter', () => {
  it('refuses a request whose Host header names a rebound host with 421 host-not-allowed on every route, and does nothing', async () => {
    const client = await started();
    await client.startNew('Echo', { instanceId: 'done', input: 'kept' });
    await client.waitForCompletion('done', SETTLED);
    await client.startNew('WaitForEvent', { instanceId: 'w' });
    await firstValueFrom(client.status$('w').pipe(filter((s) => s?.runtimeStatus === 'Running')));
    const server = await serve(anonymous(client), { port: 0 });
    servers.push(server);
    const rebound = `evil.example:${server.port}`;
    // What the rebound page sends: same-origin in its browser's view, so declared JSON and Sec-Fetch-Site same-origin.
    const page = { origin: `http://${rebound}`, 'sec-fetch-site': 'same-origin', 'content-type': 'application/json' };
    const attempts: [string, string, string?][] = [
      ['POST', '/orchestrators/Echo/rebound', '"x"'],
      ['POST', '/instances/w/raiseEvent/Item', '"x"'],
      ['POST', '/instances/w/terminate?reason=rebound'],
      ['POST', '/instances/done/restart'],
      ['DELETE', '/instances/done'],
      ['GET', '/instances'],
      ['GET', '/instances/done'],
      ['GET', '/instances/w/stream'],
      ['GET', '/no/such/route'],
    ];
    for (const [method, path, body] of attempts) {
      const answer = await overSocket(server.port, rebound, method, `${WEBHOOK_PATH}${path}`, page, body);
      expect([answer.status, (JSON.parse(answer.body) as { code: string }).code], `${method} ${path}`).toEqual([421, 'host-not-allowed']);
      expect(answer.body).not.toContain('kept'); // nothing read
    }
    expect((await client.getStatusAll()).map((s) => [s.instanceId, s.runtimeStatus]).sort())
      .toEqual([['done', 'Completed'], ['w', 'Running']]);
    expect((await client.getStatus('w', { showHistory: true }))?.history?.some((e) => e.type === 'EventRaised')).toBe(false);
    // The same requests by the names the handler is reached by on this machine are served.
    for (const host of [`localhost:${server.port}`, `127.0.0.1:${server.port}`, `[::1]:${server.port}`, 'app.localhost']) {
      const answer = await overSocket(server.port, host, 'GET', `${WEBHOOK_PATH}/instances/done`);
      expect(answer.status, host).toBe(200);
      expect(JSON.parse(answer.body), host).toMatchObject({ output: 'kept' });
    }
    const start = await overSocket(server.port, `localhost:${server.port}`, 'POST', `${WEBHOOK_PATH}/orchestrators/Echo/own`, { ...page, origin: `http://localhost:${server.port}` }, '"own"');
    expect(start.status).toBe(202);
    expect((await client.waitForCompletion('own', SETTLED)).output).toBe('own');
    // No header tells a rebound page from a server-side caller over plain http (a browser sends Sec-Fetch-Site only to
    // https and localhost, Origin only with a non-GET): a bare GET naming that host is refused too.
    const bare = await overSocket(server.port, rebound, 'GET', `${WEBHOOK_PATH}/instances/done`);
    expect([bare.status, (JSON.parse(bare.body) as { code: string }).code]).toEqual([421, 'host-not-allowed']);
  });

  it('serves Node\'s fetch on the listener\'s address and the names of allowedHosts', async () => {
    const client = await started();
    const server = await serve(anonymous(client, { allowedHosts: ['durable'] }), { port: 0 });
    servers.push(server);
    const started202 = await fetch(`${server.url}${WEBHOOK_PATH}/orchestrators/Echo/n1`, { method: 'POST', body: '"n"', headers: { 'content-type': 'application/json' } });
    expect(started202.status).toBe(202);
    expect((await client.waitForCompletion('n1', SETTLED)).output).toBe('n');
    const named = await overSocket(server.port, `durable:${server.port}`, 'GET', `${WEBHOOK_PATH}/instances/n1`);
    expect(named.status).toBe(200);
    expect(JSON.parse(named.body)).toMatchObject({ output: 'n' });
  });
});

describe('an anonymous handler behind another server, or given a copy of the request', () => {
  it('refuses a rebound Host with 421 whoever received the request, and serves the names it answers for', async () => {
    const client = await started();
    await client.startNew('Echo', { instanceId: 'done', input: 'kept' });
    await client.waitForCompletion('done', SETTLED);
    const handler = anonymous(client);
    const ports: [string, number][] = [
      ['@hono/node-server', await listening(createAdaptorServer({ fetch: handler }) as Server)],
      ['an adapter whose URL is its own origin', await listening(adapted(handler))],
    ];
    // serve() given a wrapper that copies the request, as a middleware that rewrites it does.
    const copying = await serve((r) => handler(new Request(r.url, { method: r.method, headers: r.headers })), { port: 0 });
    servers.push(copying);
    const cloning = await serve((r) => handler(r.clone()), { port: 0 });
    servers.push(cloning);
    ports.push(['serve() of a copy', copying.port], ['serve() of a clone', cloning.port]);
    for (const [name, port] of ports) {
      const rebound = await overSocket(port, `evil.example:${port}`, 'GET', `${WEBHOOK_PATH}/instances/done`);
      expect(rebound.status, name).toBe(421);
      expect(JSON.parse(rebound.body), name).toMatchObject({ code: 'host-not-allowed' });
      expect(rebound.body, name).not.toContain('kept');
      const own = await overSocket(port, `localhost:${port}`, 'GET', `${WEBHOOK_PATH}/instances/done`);
      expect(own.status, name).toBe(200);
      expect(JSON.parse(own.body), name).toMatchObject({ output: 'kept' });
    }
  });

  it('checks a request made in process that sets a Host header: both its URL\'s host and the header\'s', async () => {
    const client = await started();
    const handler = anonymous(client);
    const at = (url: string, host: string) => handler(new Request(`${url}${WEBHOOK_PATH}/instances`, { headers: { host } }));
    expect((await at('http://localhost:7071', 'localhost:7071')).status).toBe(200);
    expect((await at('http://127.0.0.1:7071', '[::1]:7071')).status).toBe(200);
    expect(await errorOf(await at('http://localhost:7071', 'evil.example:7071'))).toEqual([421, 'host-not-allowed']);
    expect(await errorOf(await at('http://example.com', 'localhost'))).toEqual([421, 'host-not-allowed']);
    // A header that is no host names nothing the handler answers for.
    for (const host of ['[::1]x', 'localhost/x', 'user@localhost', '127.0.0.1 x']) {
      expect(await errorOf(await at('http://localhost', host)), host).toEqual([421, 'host-not-allowed']);
    }
  });
});

describe('an anonymous handler called in process', () => {
  it('serves requests on made-up origins (they carry no Host header), as Durable Functions serves any host; an explicit allowedHosts checks them', async () => {
    const client = await started();
    const handler = anonymous(client);
    const origins = ['http://example.com', 'http://test', 'https://api.example.org', 'http://host.docker.internal:7071', 'http://myapp.azurewebsites.net'];
    for (const [i, origin] of origins.entries()) {
      expect(new Request(origin).headers.has('host'), origin).toBe(false);
      const start = (h: HttpHandler) => h(new Request(`${origin}${WEBHOOK_PATH}/orchestrators/Echo`, {
        method: 'POST', body: String(i), headers: { 'content-type': 'application/json' },
      }));
      const served = await start(handler);
      expect(served.status, origin).toBe(202);
      const { id, statusQueryGetUri } = (await served.json()) as { id: string; statusQueryGetUri: string };
      expect(statusQueryGetUri, origin).toBe(`${new URL(origin).origin}${WEBHOOK_PATH}/instances/${id}`);
      expect((await client.waitForCompletion(id, SETTLED)).output, origin).toBe(i);
      expect((await handler(new Request(statusQueryGetUri))).status, origin).toBe(200);
      expect(await errorOf(await start(checking(client))), origin).toEqual([421, 'host-not-allowed']);
    }
    expect(await client.getStatusAll()).toHaveLength(origins.length);
  });
});

describe('the host names an anonymous handler answers for', () => {
  it('answers IP addresses (v4 and v6), localhost and *.localhost on any port, and refuses other names', async () => {
    const handler = checking(await started());
    const allowed = [
      'http://127.0.0.1:7071', 'http://10.0.0.7', 'https://192.168.1.20:8443', 'http://[::1]:7071', 'http://[fe80::1]',
      'http://localhost:5173', 'http://localhost', 'https://localhost.:7071', 'http://foo.localhost:7071', 'http://a.b.localhost',
    ];
    for (const origin of allowed) expect((await list(handler, origin)).status, origin).toBe(200);
    const refused = [
      'http://evil.example:7071', 'http://localhost.evil.example', 'http://evillocalhost', 'http://127.0.0.1.evil.example',
      'http://127.0.0.1.nip.io:7071', 'https://intranet',
    ];
    for (const origin of refused) expect(await errorOf(await list(handler, origin)), origin).toEqual([421, 'host-not-allowed']);
  });

  it('answers the host of baseUrl, on any port', async () => {
    const handler = checking(await started(), { baseUrl: 'https://durable.example.com/api' });
    expect((await list(handler, 'https://durable.example.com')).status).toBe(200);
    expect((await list(handler, 'http://durable.example.com:7071')).status).toBe(200);
    expect((await list(handler, 'http://localhost:7071')).status).toBe(200);
    for (const origin of ['https://other.example.com', 'https://api.durable.example.com']) {
      expect(await errorOf(await list(handler, origin)), origin).toEqual([421, 'host-not-allowed']);
    }
  });

  it('answers the names of allowedHosts, exactly or with a leading dot as a domain and its subdomains, spelled as the URL parser spells them', async () => {
    const handler = anonymous(await started(), { allowedHosts: ['durable.internal', '.dev.example.com', 'Upper.EXAMPLE', '例え.jp'] });
    const allowed = [
      'http://durable.internal:7071', 'http://durable.internal.', 'http://dev.example.com', 'https://a.dev.example.com',
      'http://x.y.dev.example.com:8080', 'http://upper.example', 'http://UPPER.example', 'http://例え.jp', 'http://xn--r8jz45g.jp',
      'http://localhost', 'http://127.0.0.1',
    ];
    for (const origin of allowed) expect((await list(handler, origin)).status, origin).toBe(200);
    for (const origin of ['http://a.durable.internal', 'http://evildev.example.com', 'http://example.com', 'http://upper.example.evil']) {
      expect(await errorOf(await list(handler, origin)), origin).toEqual([421, 'host-not-allowed']);
    }
  });

  it('answers any host with allowedHosts: true (behind a proxy that checks Host itself)', async () => {
    const client = await started();
    expect((await list(anonymous(client, { allowedHosts: true }), 'http://evil.example:7071')).status).toBe(200);
    expect(await errorOf(await list(checking(client), 'http://evil.example:7071'))).toEqual([421, 'host-not-allowed']);
  });

  it('refuses before anything is done: a start, a command or a stream on a rebound name acts on nothing', async () => {
    const client = await started();
    await client.startNew('WaitForEvent', { instanceId: 'w' });
    await firstValueFrom(client.status$('w').pipe(filter((s) => s?.runtimeStatus === 'Running')));
    const handler = checking(client);
    const rebound = 'http://evil.example:7071';
    const json = { origin: rebound, 'content-type': 'application/json' };
    const post = (path: string, body?: string) => handler(new Request(`${rebound}${WEBHOOK_PATH}${path}`, {
      method: 'POST', headers: json, ...(body === undefined ? {} : { body }),
    }));
    expect(await errorOf(await post('/orchestrators/Echo/rebound', '"x"'))).toEqual([421, 'host-not-allowed']);
    expect(await errorOf(await post('/instances/w/terminate?reason=x'))).toEqual([421, 'host-not-allowed']);
    expect(await errorOf(await post('/instances/w/suspend'))).toEqual([421, 'host-not-allowed']);
    expect(await errorOf(await post('/instances/w/raiseEvent/Item', '1'))).toEqual([421, 'host-not-allowed']);
    const stream = await handler(new Request(`${rebound}${WEBHOOK_PATH}/instances/w/stream`, { headers: { origin: rebound } }));
    expect(stream.headers.get('content-type')).not.toContain('text/event-stream');
    expect(await errorOf(stream)).toEqual([421, 'host-not-allowed']);
    expect(await client.getStatus('rebound')).toBeUndefined();
    expect((await client.getStatus('w'))?.runtimeStatus).toBe('Running');
    expect((await client.getStatus('w', { showHistory: true }))?.history?.some((e) => e.type === 'EventRaised')).toBe(false);
  });

  it('lets a page on a cors origin read the refusal', async () => {
    const handler = checking(await started(), { cors: { origins: ['https://app.example.com'] } });
    const refused = await handler(new Request(`https://durable.example.com${WEBHOOK_PATH}/instances`, { headers: { origin: 'https://app.example.com' } }));
    expect(refused.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
    expect(await errorOf(refused)).toEqual([421, 'host-not-allowed']);
  });

  it('checks no host of a URL without an http(s) origin (app://, in process), of a handler with a key, nor in a browser host', async () => {
    const client = await started();
    expect((await checking(client)(new Request(`app://bundle${WEBHOOK_PATH}/instances`))).status).toBe(200);
    const keyed = createHttpHandler(client, { key: 'k', logger: silentLogger });
    const withKey = (handler: HttpHandler, origin: string) => handler(new Request(`${origin}${WEBHOOK_PATH}/instances`, { headers: { authorization: 'Bearer k' } }));
    expect((await withKey(keyed, 'http://evil.example:7071')).status).toBe(200);
    // A key with an explicit list: the list applies.
    const keyedList = createHttpHandler(client, { key: 'k', logger: silentLogger, allowedHosts: ['durable.internal'] });
    expect((await withKey(keyedList, 'http://durable.internal')).status).toBe(200);
    expect(await errorOf(await withKey(keyedList, 'http://evil.example:7071'))).toEqual([421, 'host-not-allowed']);
    // A page's or a Service Worker's handler: only its own pages' requests reach it, by origin.
    const inPage = createdWith(client, { document: {} }, { process: undefined });
    expect((await list(inPage, 'https://app.example.com')).status).toBe(200);
    // The same request to a server's handler is refused.
    expect(await errorOf(await list(checking(client), 'https://app.example.com'))).toEqual([421, 'host-not-allowed']);
  });
});

describe('the allowedHosts option', () => {
  it('is refused at creation unless true or an array of host names', async () => {
    const client = await started();
    const refused = expect.objectContaining({ code: 'invalid-argument', status: 400 });
    const wrong: unknown[] = [
      'example.com', false, null, 1, {}, [''], ['.'], ['*'], ['*.example.com'], ['example.com:8080'], ['http://example.com'],
      ['example.com/'], ['example.com/api'], ['user@example.com'], ['example.com?'], ['example.com#'], [' example.com'],
      ['a b'], [1], [null], ['..example.com'], ['a..example.com'], ['::1'], ['[::1'], [true],
      // Entries that cannot be turned into text: still the typed error, not a TypeError from describing them.
      [Object.create(null)], [{ toString: () => { throw new Error('not text'); } }],
    ];
    for (const allowedHosts of wrong) {
      expect(() => anonymous(client, { allowedHosts: allowedHosts as never }), JSON.stringify(allowedHosts)).toThrow(refused);
      expect(() => createHttpHandler(client, { key: 'k', allowedHosts: allowedHosts as never }), JSON.stringify(allowedHosts)).toThrow(refused);
    }
    const fine: (true | string[])[] = [true, [], ['example.com'], ['.example.com'], ['Example.COM.'], ['例え.jp'], ['[::1]'], ['127.0.0.1']];
    for (const allowedHosts of fine) expect(() => anonymous(client, { allowedHosts }), JSON.stringify(allowedHosts)).not.toThrow();
  });
});

/**
 * An anonymous handler created while the global object has `globals` defined and the `hidden` ones shadowed (as
 * `undefined`), as in another host; every property is put back as it was before the handler serves anything.
 */
function createdWith(client: DurableClient, globals: Record<string, unknown>, hidden: Record<string, undefined> = {}): HttpHandler {
  const all = { ...globals, ...hidden };
  const saved = Object.keys(all).map((name) => [name, Object.getOwnPropertyDescriptor(globalThis, name)] as const);
  try {
    for (const [name, value] of Object.entries(all)) Object.defineProperty(globalThis, name, { value, configurable: true, writable: true });
    return checking(client);
  } finally {
    for (const [name, descriptor] of saved) {
      if (descriptor) Object.defineProperty(globalThis, name, descriptor);
      else delete (globalThis as Record<string, unknown>)[name];
    }
  }
}
