import * as df from 'durable-functions';
import { filter, firstValueFrom } from 'rxjs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createHttpManagementPayload, webhookRoot, WEBHOOK_PATH } from '../src/client/http-management-payload.js';
import { createHttpHandler, type HttpHandler, type HttpHandlerOptions } from '../src/http/create-http-handler.js';
import type { InstanceStatus } from '../src/model/instance-status.js';
import { serve, type NodeServer } from '../src/node/serve.js';
import { MemoryStore } from '../src/store/memory-store.js';
import { createRuntime, type Runtime } from '../src/runtime/create-runtime.js';
import { silentLogger } from '../src/env/logger.js';
import { SETTLED } from '../src/testing/settled.js';
import { dfClient } from './durable-functions-binding.js';
import { apiWorkload, overSocket, withKey, type KeyedInit } from './served-runtimes.js';

/**
 * Durable Functions 1.x's base path, `/admin/extensions/DurableTaskExtension`, served as an alias of
 * `/runtime/webhooks/durabletask` against a real server on 127.0.0.1: each route answers on it as on the 2.x path
 * (status codes, headers, bodies), with the URLs of its answers on the path the request came in on.
 */

const KEY = 'legacy-key-0123456789';
const V1 = '/admin/extensions/DurableTaskExtension';
const V2 = WEBHOOK_PATH;
const BASES = [V2, V1] as const;

const { orchestrators, activities, flaky } = apiWorkload();

let runtime: Runtime | undefined;
let handler: HttpHandler | undefined;
let server: NodeServer | undefined;

async function open(options: Partial<HttpHandlerOptions> = {}): Promise<string> {
  flaky.fixed = false;
  runtime = createRuntime({ store: new MemoryStore(), orchestrators, activities, logger: silentLogger });
  await runtime.start();
  handler = createHttpHandler(runtime.client, { key: KEY, logger: silentLogger, ...options } as HttpHandlerOptions);
  server = await serve(handler, { port: 0 });
  return server.url;
}

afterEach(async () => {
  handler?.close();
  await server?.close();
  await runtime?.stop();
  [runtime, handler, server] = [undefined, undefined, undefined];
});

function rt(): Runtime {
  if (!runtime) throw new Error('no runtime');
  return runtime;
}

/** A request with the key as a Bearer token (unless `headers` set `authorization`); `json` becomes a JSON body. */
function call(url: string, init: KeyedInit = {}): Promise<Response> {
  return fetch(url, withKey(KEY, init));
}

function until(id: string, predicate: (s: InstanceStatus | undefined) => boolean): Promise<InstanceStatus | undefined> {
  return firstValueFrom(rt().client.status$(id).pipe(filter(predicate)));
}

/** What a client sees of an answer, with the base path, the instance id's tag and the times made comparable. */
interface Seen {
  readonly status: number;
  readonly headers: Record<string, string | null>;
  readonly body: string;
}

async function seen(response: Response, base: string, tag: string): Promise<Seen> {
  const normal = (text: string | null) => text
    ?.split(base).join('{base}')
    .split(tag).join('{tag}')
    .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z/g, '{time}') ?? null;
  const headers: Record<string, string | null> = {};
  for (const name of ['content-type', 'location', 'retry-after', 'allow', 'x-ms-continuation-token', 'www-authenticate']) {
    headers[name] = normal(response.headers.get(name));
  }
  return { status: response.status, headers, body: normal(await response.text()) ?? '' };
}

/**
 * Runs `scenario` once on each base path, each with its own instance ids (`tag` is `v2` or `v1`), and returns what a
 * client saw of each answer. The two must be equal: the alias is the same route.
 */
async function onBoth(scenario: (base: string, tag: string) => Promise<Response>): Promise<{ v2: Seen; v1: Seen }> {
  const v2 = await seen(await scenario(V2, 'v2'), V2, 'v2');
  const v1 = await seen(await scenario(V1, 'v1'), V1, 'v1');
  return { v2, v1 };
}

async function failed(id: string): Promise<void> {
  await rt().client.startNew('CallsFlaky', { instanceId: id });
  expect((await rt().client.waitForCompletion(id, SETTLED)).runtimeStatus).toBe('Failed');
}

describe('every route answers on /admin/extensions/DurableTaskExtension as on /runtime/webhooks/durabletask', () => {
  it('start: 202, the check-status body and Location on the 1.x path (every URL of it), Retry-After 10', async () => {
    const origin = await open();
    const { v2, v1 } = await onBoth((base, tag) => call(`${origin}${base}/orchestrators/Echo/start-${tag}`, { method: 'POST', json: { n: 1 } }));
    expect(v1).toEqual(v2);
    expect(v1.status).toBe(202);
    const response = await call(`${origin}${V1}/orchestrators/Echo/start-url`, { method: 'POST', json: 1 });
    const body = (await response.json()) as Record<string, string>;
    const instance = `${origin}${V1}/instances/start-url`;
    expect(body).toEqual({
      id: 'start-url',
      statusQueryGetUri: instance,
      sendEventPostUri: `${instance}/raiseEvent/{eventName}`,
      terminatePostUri: `${instance}/terminate?reason={text}`,
      rewindPostUri: `${instance}/rewind?reason={text}`,
      purgeHistoryDeleteUri: instance,
      restartPostUri: `${instance}/restart`,
      suspendPostUri: `${instance}/suspend?reason={text}`,
      resumePostUri: `${instance}/resume?reason={text}`,
    });
    expect(response.headers.get('location')).toBe(instance);
    // The URLs it names are served: the status link answers.
    expect((await rt().client.waitForCompletion('start-url', SETTLED)).output).toBe(1);
    expect((await call(body.statusQueryGetUri!)).status).toBe(200);
  });

  it('start with ?code= puts the key in the 1.x URLs; with timeout, a completion in time is 200 with the output', async () => {
    const origin = await open();
    const { v2, v1 } = await onBoth((base, tag) =>
      fetch(`${origin}${base}/orchestrators/Echo/code-${tag}?code=${KEY}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '"x"' }));
    expect(v1).toEqual(v2);
    expect(JSON.parse(v1.body)).toMatchObject({ statusQueryGetUri: `${origin}{base}/instances/code-{tag}?code=${KEY}` });
    const waited = await onBoth((base, tag) => call(`${origin}${base}/orchestrators/Echo/wait-${tag}?timeout=60`, { method: 'POST', json: [tag] }));
    expect(waited.v1).toEqual(waited.v2);
    expect(waited.v1).toMatchObject({ status: 200, body: '["{tag}"]' });
  });

  it('status: 202 with Location on the 1.x path and Retry-After 5 while running, 200 when terminal, 404 unknown', async () => {
    const origin = await open();
    for (const tag of ['v1', 'v2']) await rt().client.startNew('WaitForEvents', { instanceId: `run-${tag}`, input: 1 });
    await until('run-v1', (s) => s?.runtimeStatus === 'Running');
    await until('run-v2', (s) => s?.runtimeStatus === 'Running');
    const running = await onBoth((base, tag) => call(`${origin}${base}/instances/run-${tag}?showInput=false`));
    expect(running.v1).toEqual(running.v2);
    expect(running.v1).toMatchObject({ status: 202, headers: { location: `${origin}{base}/instances/run-{tag}?showInput=false`, 'retry-after': '5' } });

    for (const tag of ['v1', 'v2']) await rt().client.startNew('Echo', { instanceId: `done-${tag}`, input: tag });
    await rt().client.waitForCompletion('done-v1', SETTLED);
    await rt().client.waitForCompletion('done-v2', SETTLED);
    const done = await onBoth((base, tag) => call(`${origin}${base}/instances/done-${tag}?showHistory=true`));
    expect(done.v1).toEqual(done.v2);
    expect(done.v1.status).toBe(200);
    expect(JSON.parse(done.v1.body)).toMatchObject({ runtimeStatus: 'Completed', output: '{tag}', historyEvents: expect.any(Array) });

    const unknown = await onBoth((base, tag) => call(`${origin}${base}/instances/nobody-${tag}`));
    expect(unknown.v1).toEqual(unknown.v2);
    expect(unknown.v1.status).toBe(404);
  });

  it('list: 200 with the same page and continuation token', async () => {
    const origin = await open();
    for (const id of ['list-a', 'list-b', 'list-c']) await rt().client.startNew('Echo', { instanceId: id, input: id });
    for (const id of ['list-a', 'list-b', 'list-c']) await rt().client.waitForCompletion(id, SETTLED);
    const page = await onBoth((base) => call(`${origin}${base}/instances/?instanceIdPrefix=list-&top=2`));
    expect(page.v1).toEqual(page.v2);
    expect(page.v1.status).toBe(200);
    expect(JSON.parse(page.v1.body)).toHaveLength(2);
    const token = page.v1.headers['x-ms-continuation-token']!;
    expect(token).not.toBe('');
    const rest = await onBoth((base) => call(`${origin}${base}/instances?instanceIdPrefix=list-&top=2`, { headers: { 'x-ms-continuation-token': token } }));
    expect(rest.v1).toEqual(rest.v2);
    expect(JSON.parse(rest.v1.body)).toHaveLength(1);
  });

  it('raiseEvent, terminate, suspend and resume: 202, and each is done', async () => {
    const origin = await open();
    for (const tag of ['v1', 'v2']) {
      await rt().client.startNew('WaitForEvents', { instanceId: `ev-${tag}`, input: 1 });
      await rt().client.startNew('WaitForEvents', { instanceId: `term-${tag}`, input: 9 });
      await rt().client.startNew('WaitForEvents', { instanceId: `sus-${tag}`, input: 9 });
    }
    for (const id of ['ev-v1', 'ev-v2', 'term-v1', 'term-v2', 'sus-v1', 'sus-v2']) await until(id, (s) => s?.runtimeStatus === 'Running');
    const raised = await onBoth((base, tag) => call(`${origin}${base}/instances/ev-${tag}/raiseEvent/Item`, { method: 'POST', json: { tag } }));
    expect(raised.v1).toEqual(raised.v2);
    expect(raised.v1.status).toBe(202);
    expect((await rt().client.waitForCompletion('ev-v1', SETTLED)).output).toEqual([{ tag: 'v1' }]);

    const suspended = await onBoth((base, tag) => call(`${origin}${base}/instances/sus-${tag}/suspend?reason=pause`, { method: 'POST' }));
    expect(suspended.v1).toEqual(suspended.v2);
    expect(suspended.v1.status).toBe(202);
    expect((await rt().client.getStatus('sus-v1'))?.runtimeStatus).toBe('Suspended');
    const resumed = await onBoth((base, tag) => call(`${origin}${base}/instances/sus-${tag}/resume?reason=go`, { method: 'POST' }));
    expect(resumed.v1).toEqual(resumed.v2);
    expect(resumed.v1.status).toBe(202);
    expect((await rt().client.getStatus('sus-v1'))?.runtimeStatus).toBe('Running');

    const terminated = await onBoth((base, tag) => call(`${origin}${base}/instances/term-${tag}/terminate?reason=enough`, { method: 'POST' }));
    expect(terminated.v1).toEqual(terminated.v2);
    expect(terminated.v1.status).toBe(202);
    expect(await rt().client.getStatus('term-v1')).toMatchObject({ runtimeStatus: 'Terminated', output: 'enough' });
    // Again, on a terminal instance: the same 410.
    const again = await onBoth((base, tag) => call(`${origin}${base}/instances/term-${tag}/terminate?reason=enough`, { method: 'POST' }));
    expect(again.v1).toEqual(again.v2);
    expect(again.v1.status).toBe(410);
  });

  it('rewind: 202 and the failed instance completes; restart: 202 with a check-status body on the 1.x path', async () => {
    const origin = await open();
    await failed('fail-v1');
    await failed('fail-v2');
    flaky.fixed = true;
    const rewound = await onBoth((base, tag) => call(`${origin}${base}/instances/fail-${tag}/rewind?reason=fixed`, { method: 'POST' }));
    expect(rewound.v1).toEqual(rewound.v2);
    expect(rewound.v1.status).toBe(202);
    expect((await rt().client.waitForCompletion('fail-v1', SETTLED)).output).toBe(2);
    await rt().client.waitForCompletion('fail-v2', SETTLED);

    const restarted = await onBoth((base, tag) => call(`${origin}${base}/instances/fail-${tag}/restart?restartWithNewInstanceId=false`, { method: 'POST' }));
    expect(restarted.v1).toEqual(restarted.v2);
    expect(restarted.v1.status).toBe(202);
    expect(restarted.v1.headers.location).toBe(`${origin}{base}/instances/fail-{tag}`);
  });

  it('purge: one instance and by filter, 200 with instancesDeleted, then 404', async () => {
    const origin = await open();
    for (const id of ['p-v1', 'p-v2']) await rt().client.startNew('Echo', { instanceId: id, input: 1 });
    for (const id of ['p-v1', 'p-v2']) await rt().client.waitForCompletion(id, SETTLED);
    const one = await onBoth((base, tag) => call(`${origin}${base}/instances/p-${tag}`, { method: 'DELETE' }));
    expect(one.v1).toEqual(one.v2);
    expect(one.v1).toMatchObject({ status: 200, body: '{"instancesDeleted":1}' });
    const gone = await onBoth((base, tag) => call(`${origin}${base}/instances/p-${tag}`, { method: 'DELETE' }));
    expect(gone.v1).toEqual(gone.v2);
    expect(gone.v1.status).toBe(404);
    // Each purges the one instance there is then.
    const byFilter = await onBoth(async (base, tag) => {
      await rt().client.startNew('Echo', { instanceId: `pf-${tag}`, input: 1 });
      await rt().client.waitForCompletion(`pf-${tag}`, SETTLED);
      return call(`${origin}${base}/instances?createdTimeFrom=2000-01-01T00:00:00Z&runtimeStatus=Completed`, { method: 'DELETE' });
    });
    expect(byFilter.v1).toEqual(byFilter.v2);
    expect(byFilter.v1).toMatchObject({ status: 200, body: '{"instancesDeleted":1}' });
    expect(await rt().client.getStatus('pf-v1')).toBeUndefined();
    const none = await onBoth((base) => call(`${origin}${base}/instances?createdTimeFrom=2000-01-01T00:00:00Z`, { method: 'DELETE' }));
    expect(none.v1).toEqual(none.v2);
    expect(none.v1.status).toBe(404);
  });

  it('a status stream answers on the 1.x path too', async () => {
    const origin = await open();
    await rt().client.startNew('Echo', { instanceId: 'sse', input: 'x' });
    await rt().client.waitForCompletion('sse', SETTLED);
    const response = await call(`${origin}${V1}/instances/sse/stream?untilTerminal=true`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const text = await response.text(); // ends after the terminal status
    expect(text).toContain('event: status');
    expect(text).toContain('"runtimeStatus":"Completed"');
  });
});

describe('the 1.x path is refused as the 2.x one', () => {
  it('an unknown path under it is 404; a wrong method 405 with Allow; bad input the same typed 400', async () => {
    const origin = await open();
    for (const path of ['/nope', '/instances/x/nope', '', '/orchestrators']) {
      const unknown = await onBoth((base) => call(`${origin}${base}${path}`));
      expect(unknown.v1.status, path).toBe(404);
      expect(JSON.parse(unknown.v1.body), path).toMatchObject({ code: 'not-found' });
    }
    expect((await call(`${origin}/admin/extensions/OtherExtension/instances/x`)).status).toBe(404);
    expect((await call(`${origin}/admin/extensions/DurableTaskExtensionX/instances/x`)).status).toBe(404);

    const wrongMethod = await onBoth((base) => call(`${origin}${base}/instances/x/terminate`, { method: 'DELETE' }));
    expect(wrongMethod.v1).toEqual(wrongMethod.v2);
    expect(wrongMethod.v1).toMatchObject({ status: 405, headers: { allow: 'POST' } });

    for (const query of ['top=ten', 'showInput=yes', 'runtimeStatus=Sleeping', 'createdTimeFrom=yesterday']) {
      const bad = await onBoth((base) => call(`${origin}${base}/instances?${query}`));
      expect(bad.v1, query).toEqual(bad.v2);
      expect(bad.v1.status, query).toBe(400);
      expect(JSON.parse(bad.v1.body), query).toMatchObject({ code: 'invalid-argument' });
    }
    const malformed = await onBoth((base) => call(`${origin}${base}/instances/%C0%AF`));
    expect(malformed.v1).toEqual(malformed.v2);
    expect(malformed.v1.status).toBe(400);
    const badJson = await onBoth((base, tag) => call(`${origin}${base}/orchestrators/Echo/bad-${tag}`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: '{nope',
    }));
    expect(badJson.v1).toEqual(badJson.v2);
    expect(badJson.v1.status).toBe(400);
    expect(await rt().client.getStatus('bad-v1')).toBeUndefined();
  });

  it('needs the key (401), refuses a cross-site form post (403) and, anonymous, a host it does not answer for (421)', async () => {
    let origin = await open();
    const noKey = await onBoth((base, tag) => fetch(`${origin}${base}/orchestrators/Echo/nokey-${tag}`, { method: 'POST' }));
    expect(noKey.v1).toEqual(noKey.v2);
    expect(noKey.v1.status).toBe(401);
    const form = await onBoth((base, tag) => call(`${origin}${base}/orchestrators/Echo/form-${tag}`, {
      method: 'POST', headers: { origin: 'https://evil.example', 'content-type': 'application/x-www-form-urlencoded' }, body: 'a=1',
    }));
    expect(form.v1).toEqual(form.v2);
    expect(form.v1.status).toBe(403);
    expect(await rt().client.getStatus('nokey-v1')).toBeUndefined();
    expect(await rt().client.getStatus('form-v1')).toBeUndefined();
    handler?.close();
    await server?.close();
    await rt().stop();

    origin = await open({ key: undefined, anonymous: true });
    const port = new URL(origin).port;
    // A rebound name: the request reaches 127.0.0.1 but names another host.
    const rebound = await onBoth(async (base, tag) => {
      const answer = await overSocket(Number(port), `evil.example:${port}`, 'POST', `${base}/orchestrators/Echo/rebound-${tag}`);
      return new Response(answer.body, { status: answer.status });
    });
    expect(rebound.v1).toEqual(rebound.v2);
    expect(rebound.v1.status).toBe(421);
    expect(await rt().client.getStatus('rebound-v1')).toBeUndefined();
  });
});

describe('spelling and bases', () => {
  it('literals match in any case and slashes at both ends are trimmed; the URLs answered are spelled canonically', async () => {
    const origin = await open();
    const response = await call(`${origin}/ADMIN/Extensions/durabletaskextension//Orchestrators/Echo/case-1//`, { method: 'POST', json: 1 });
    expect(response.status).toBe(202);
    expect(response.headers.get('location')).toBe(`${origin}${V1}/instances/case-1`);
    await rt().client.waitForCompletion('case-1', SETTLED);
    expect((await call(`${origin}/admin/EXTENSIONS/DurableTaskExtension/INSTANCES/case-1/`)).status).toBe(200);
  });

  it('baseUrl: a path prefix, or either webhook path at its end, gives URLs on the request\'s base path', async () => {
    for (const baseUrl of ['https://api.example.com/durable', 'https://api.example.com/durable/runtime/webhooks/durabletask/',
      `https://api.example.com/durable${V1}`]) {
      const origin = await open({ baseUrl });
      for (const base of BASES) {
        const id = `b-${base === V1 ? 'v1' : 'v2'}`;
        const response = await call(`${origin}${base}/orchestrators/Echo/${id}`, { method: 'POST', json: 1 });
        expect(response.headers.get('location'), `${baseUrl} ${base}`).toBe(`https://api.example.com/durable${base}/instances/${id}`);
        expect(((await response.json()) as { rewindPostUri: string }).rewindPostUri)
          .toBe(`https://api.example.com/durable${base}/instances/${id}/rewind?reason={text}`);
      }
      handler?.close();
      await server?.close();
      await rt().stop();
    }
  });

  it('a fetch handler called directly (Deno, Bun, Workers) serves the 1.x path as the Node adapter does', async () => {
    await open();
    const direct = handler!;
    const response = await direct(new Request(`http://durable.test${V1}/orchestrators/Echo/direct-1`, {
      method: 'POST', headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' }, body: '"hi"',
    }));
    expect(response.status).toBe(202);
    expect(((await response.json()) as { statusQueryGetUri: string }).statusQueryGetUri).toBe(`http://durable.test${V1}/instances/direct-1`);
    await rt().client.waitForCompletion('direct-1', SETTLED);
    const status = await direct(new Request(`http://durable.test${V1}/instances/direct-1`, { headers: { 'x-functions-key': KEY } }));
    expect(status.status).toBe(200);
    expect(await status.json()).toMatchObject({ runtimeStatus: 'Completed', output: 'hi' });
  });

  it('webhookRoot and createHttpManagementPayload read a baseUrl ending with the 1.x path as the server\'s root', () => {
    expect(webhookRoot(`https://api.example.com${V1}/`)).toBe(`https://api.example.com${V2}`);
    expect(webhookRoot('https://api.example.com/ADMIN/extensions/durabletaskextension')).toBe(`https://api.example.com${V2}`);
    expect(createHttpManagementPayload('x', `https://api.example.com${V1}`).statusQueryGetUri).toBe(`https://api.example.com${V2}/instances/x`);
  });
});

describe('the durable-functions client, given 1.x URLs as a Functions 1.x host hands them', () => {
  let savedHostname: string | undefined;
  beforeAll(() => {
    savedHostname = process.env.WEBSITE_HOSTNAME;
  });
  afterAll(() => {
    if (savedHostname === undefined) delete process.env.WEBSITE_HOSTNAME;
    else process.env.WEBSITE_HOSTNAME = savedHostname;
  });

  it('starts, reads, raises an event to, terminates and purges instances over /admin/extensions/DurableTaskExtension', async () => {
    const origin = await open();
    process.env.WEBSITE_HOSTNAME = new URL(origin).host;
    const client = dfClient({ origin, basePath: V1, taskHub: 'Hub', key: KEY });

    const id = await client.startNew('WaitForEvents', { instanceId: 'df-1', input: 1 });
    expect(id).toBe('df-1');
    await until('df-1', (s) => s?.runtimeStatus === 'Running');
    expect((await client.getStatus('df-1')).runtimeStatus).toBe(df.OrchestrationRuntimeStatus.Running);
    await client.raiseEvent('df-1', 'Item', 42);
    expect((await rt().client.waitForCompletion('df-1', SETTLED)).output).toEqual([42]);

    await client.startNew('WaitForEvents', { instanceId: 'df-2', input: 9 });
    await until('df-2', (s) => s?.runtimeStatus === 'Running');
    await client.terminate('df-2', 'stop');
    expect(await rt().client.getStatus('df-2')).toMatchObject({ runtimeStatus: 'Terminated', output: 'stop' });
    expect((await client.purgeInstanceHistory('df-2')).instancesDeleted).toBe(1);
    expect(await rt().client.getStatus('df-2')).toBeUndefined();
  });
});
