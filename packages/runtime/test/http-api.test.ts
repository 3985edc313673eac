import { filter, firstValueFrom } from 'rxjs';
import { beforeEach, describe, expect, it } from 'vitest';
import { createHttpManagementPayload, WEBHOOK_PATH } from '../src/client/http-management-payload.js';
import { createHttpHandler, type HttpHandlerOptions } from '../src/http/create-http-handler.js';
import { createClient } from '../src/client/create-client.js';
import type { InstanceStatus } from '../src/model/instance-status.js';
import { serve, type NodeServer } from '../src/node/serve.js';
import { MemoryStore } from '../src/store/memory-store.js';
import { PayloadTooLargeError } from '../src/model/errors/payload-too-large-error.js';
import type { WriteSet } from '../src/model/write-set.js';
import { createRuntime, type Runtime } from '../src/runtime/create-runtime.js';
import { silentLogger } from '../src/env/logger.js';
import { SETTLED } from '../src/testing/settled.js';
import { apiWorkload, servedRuntimes, withKey, type KeyedInit } from './served-runtimes.js';
import { VirtualClock } from '../src/testing/virtual-clock.js';

/**
 * The Durable Functions HTTP management API, route by route, against a real server on 127.0.0.1.
 */

const KEY = 'test-key-0123456789';

const serving = servedRuntimes(KEY);
let runtime: Runtime;
let server: NodeServer;
let base: string;

const { orchestrators, activities, flaky } = apiWorkload();

async function open(options: Partial<HttpHandlerOptions> = {}): Promise<void> {
  ({ runtime, server, base } = await serving.open({ orchestrators, activities }, options));
}

beforeEach(async () => {
  flaky.fixed = false;
  await open();
});

/** A request to the API with the key as a Bearer token; `json` becomes the body with the JSON content type. */
function call(path: string, init: KeyedInit = {}): Promise<Response> {
  return fetch(`${base}${path}`, withKey(KEY, init));
}

async function until(id: string, predicate: (s: InstanceStatus | undefined) => boolean): Promise<InstanceStatus | undefined> {
  return firstValueFrom(runtime.client.status$(id).pipe(filter(predicate)));
}

async function failedInstance(id: string): Promise<void> {
  await runtime.client.startNew('CallsFlaky', { instanceId: id });
  expect((await runtime.client.waitForCompletion(id, SETTLED)).runtimeStatus).toBe('Failed');
}

describe('POST /orchestrators/{name}/{instanceId}/signalWithStart/{eventName}', () => {
  it('starts an absent id with the body\'s input and event data: 202 and its check-status body', async () => {
    const response = await call('/orchestrators/WaitForEvents/cart/signalWithStart/Item', { method: 'POST', json: { input: 2, eventData: 'a' } });
    expect(response.status).toBe(202);
    expect(await response.json()).toEqual(createHttpManagementPayload('cart', server.url));
    await runtime.client.raiseEvent('cart', 'Item', 'b');
    expect(await runtime.client.waitForCompletion('cart', SETTLED)).toMatchObject({ input: 2, output: ['a', 'b'] });
  });

  it('delivers the event to an active instance and starts nothing; without a body, no data', async () => {
    await runtime.client.startNew('WaitForEvents', { instanceId: 'busy', input: 2 });
    const first = await call('/ORCHESTRATORS/Echo/busy/SignalWithStart/Item', { method: 'POST', json: { input: 'ignored', eventData: 1 } });
    expect(first.status).toBe(202);
    await first.body?.cancel();
    const second = await call('/orchestrators/Echo/busy/signalWithStart/Item', { method: 'POST' });
    expect(second.status).toBe(202);
    await second.body?.cancel();
    expect(await runtime.client.waitForCompletion('busy', SETTLED)).toMatchObject({ name: 'WaitForEvents', input: 2, output: [1, null] });
  });

  it('delivers and starts once for a call repeated with one Idempotency-Key (202 each time); a malformed key is 400, writing nothing', async () => {
    const signal = async (data: unknown, key: string) => {
      const response = await call('/orchestrators/WaitForEvents/keyed/signalWithStart/Item', { method: 'POST', json: { input: 2, eventData: data }, headers: { 'Idempotency-Key': key } });
      await response.body?.cancel();
      return response.status;
    };
    expect(await signal('a', 'key-1')).toBe(202);
    expect(await signal('a again', 'key-1')).toBe(202);
    expect(await signal('a quoted', '"key-1"')).toBe(202);
    expect(await errorOf(call('/orchestrators/WaitForEvents/keyed/signalWithStart/Item', { method: 'POST', json: {}, headers: { 'Idempotency-Key': 'two words' } })))
      .toEqual([400, 'invalid-argument']);
    expect(await signal('b', 'key-2')).toBe(202);
    expect(await runtime.client.waitForCompletion('keyed', SETTLED)).toMatchObject({ input: 2, output: ['a', 'b'] });
    // A repeat after the instance finished starts nothing over it.
    expect(await signal('a', 'key-1')).toBe(202);
    expect((await runtime.client.getStatus('keyed'))?.runtimeStatus).toBe('Completed');
  });

  it('refuses a body that is not { input?, eventData? }, bad names and an unknown orchestrator (400), writing nothing', async () => {
    for (const json of [[1], 'text', null, { data: 1 }, { input: 1, eventData: 2, extra: 3 }]) {
      expect(await errorOf(call('/orchestrators/Echo/x/signalWithStart/Item', { method: 'POST', json })), JSON.stringify(json)).toEqual([400, 'invalid-argument']);
    }
    expect(await errorOf(call('/orchestrators/NoSuch/x/signalWithStart/Item', { method: 'POST', json: {} }))).toEqual([400, 'invalid-argument']);
    expect(await errorOf(call('/orchestrators/Echo/x/signalWithStart/a%01b', { method: 'POST', json: {} }))).toEqual([400, 'invalid-argument']);
    expect(await runtime.client.getStatusAll()).toEqual([]);
  });

  it('refuses the start route\'s startAt, ifExists and version (400), which it does not take, writing nothing', async () => {
    for (const query of ['startAt=2099-01-01T00:00:00Z', 'ifExists=fail', 'version=1']) {
      expect(await errorOf(call(`/orchestrators/Echo/x/signalWithStart/Item?${query}`, { method: 'POST', json: {} })), query).toEqual([400, 'invalid-argument']);
    }
    expect(await runtime.client.getStatusAll()).toEqual([]);
  });
});

describe('POST /orchestrators/{name}/{instanceId?}', () => {
  it('starts an instance: 202, a check-status body equal to createHttpManagementPayload, Location and Retry-After', async () => {
    const response = await call('/orchestrators/E1_HelloSequence', { method: 'POST' });
    expect(response.status).toBe(202);
    const body = (await response.json()) as { id: string };
    expect(body).toEqual(createHttpManagementPayload(body.id, server.url));
    expect(response.headers.get('location')).toBe(createHttpManagementPayload(body.id, server.url).statusQueryGetUri);
    expect(response.headers.get('retry-after')).toBe('10');
    expect((await runtime.client.waitForCompletion(body.id, SETTLED)).output).toEqual(['Hello Tokyo!', 'Hello Seattle!', 'Hello London!']);
  });

  it('uses the instance id from the path and the JSON body as input', async () => {
    const input = { city: 'Tokyo', n: [1, 2] };
    const response = await call('/orchestrators/Echo/echo-1', { method: 'POST', json: input });
    expect(response.status).toBe(202);
    expect(((await response.json()) as { id: string }).id).toBe('echo-1');
    expect((await runtime.client.waitForCompletion('echo-1', SETTLED)).output).toEqual(input);
  });

  it('reads a body of only whitespace as no input, as Durable Functions reads it (curl --data-binary of a file with just a newline)', async () => {
    for (const [i, text] of ['\n', ' \r\n\t'].entries()) {
      const started = await call(`/orchestrators/Echo/blank-${i}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: text });
      expect(started.status, JSON.stringify(text)).toBe(202);
      const status = await runtime.client.waitForCompletion(`blank-${i}`, SETTLED);
      expect(status.runtimeStatus).toBe('Completed');
      expect(status).not.toHaveProperty('input');
    }
  });

  it('percent-decodes the id and puts the key into the URLs only when the caller used ?code=', async () => {
    const response = await fetch(`${base}/orchestrators/Echo/a%20b?code=${KEY}`, { method: 'POST' });
    expect(response.status).toBe(202);
    expect(await response.json()).toEqual(createHttpManagementPayload('a b', server.url, { key: KEY }));
    const bearer = await call('/orchestrators/Echo/c', { method: 'POST' });
    expect(JSON.stringify(await bearer.json())).not.toContain(KEY);
  });

  it('formats the URLs under the configured baseUrl', async () => {
    await server.close();
    await runtime.stop();
    await open({ baseUrl: 'https://durable.example.com/api' });
    const response = await call('/orchestrators/Echo/x', { method: 'POST' });
    expect(await response.json()).toEqual(createHttpManagementPayload('x', 'https://durable.example.com/api'));
  });

  it('builds ASCII URLs on a baseUrl with non-ASCII characters (punycode host, percent-encoded path), as Durable Functions builds them from a Uri', async () => {
    await server.close();
    await runtime.stop();
    // `é` is Latin-1 (it went out raw in Location), `例え`/`アプリ` are not (Location could not be sent: 500 after the start).
    await open({ baseUrl: 'https://例え.jp/café/アプリ' });
    const ascii = 'https://xn--r8jz45g.jp/caf%C3%A9/%E3%82%A2%E3%83%97%E3%83%AA/runtime/webhooks/durabletask/instances/uni';
    const response = await call('/orchestrators/WaitForEvents/uni', { method: 'POST', json: 1 });
    expect(response.status).toBe(202);
    expect(response.headers.get('location')).toBe(ascii);
    expect(((await response.json()) as { statusQueryGetUri: string }).statusQueryGetUri).toBe(ascii);
    const running = await call('/instances/uni');
    expect(running.headers.get('location')).toBe(ascii);
    await running.body?.cancel();
    // The clients' helpers build the same URLs on the same base.
    expect(runtime.client.createHttpManagementPayload('uni', 'https://例え.jp/café/アプリ').statusQueryGetUri).toBe(ascii);
    const checkStatus = runtime.client.createCheckStatusResponse(new Request('http://127.0.0.1/start'), 'uni', { baseUrl: 'https://例え.jp/café/アプリ' });
    expect(checkStatus.headers.get('location')).toBe(ascii);
    await checkStatus.body?.cancel();
  });

  it('refuses a baseUrl with a query, a fragment or credentials, or that is no http(s) URL, on every surface: 400 invalid-argument, nothing changed', async () => {
    const refused = expect.objectContaining({ code: 'invalid-argument', status: 400 });
    for (const baseUrl of ['https://x.test/?q=1', 'https://x.test/api#top', 'https://user:pass@x.test', 'not a url', 'ftp://x.test', '/api']) {
      expect(() => createHttpHandler(runtime.client, { key: KEY, baseUrl }), baseUrl).toThrow(refused);
      expect(() => createHttpManagementPayload('x', baseUrl), baseUrl).toThrow(refused);
      expect(() => runtime.client.createHttpManagementPayload('x', baseUrl), baseUrl).toThrow(refused);
      expect(() => runtime.client.createCheckStatusResponse(new Request('http://127.0.0.1/start'), 'x', { baseUrl }), baseUrl).toThrow(refused);
      await expect(runtime.client.waitForCompletionOrCreateCheckStatusResponse(new Request('http://127.0.0.1/start'), 'x', { baseUrl }), baseUrl)
        .rejects.toMatchObject({ code: 'invalid-argument' });
    }
  });

  it('refuses a start or restart on a scheme without an http(s) origin (app://, in-process in Electron, Tauri, Capacitor) with 400 before acting, naming baseUrl; with baseUrl it is served', async () => {
    const inProcess = createHttpHandler(runtime.client, { anonymous: true, logger: silentLogger });
    const post = (handler: (r: Request) => Promise<Response>, path: string) => handler(new Request(`app://bundle${WEBHOOK_PATH}${path}`, { method: 'POST' }));
    for (const path of ['/orchestrators/Echo/app-x', '/orchestrators/Echo/app-x?timeout=5']) {
      const refused = await post(inProcess, path);
      expect(refused.status, path).toBe(400);
      const { code, message } = (await refused.json()) as { code: string; message: string };
      expect(code).toBe('invalid-argument');
      expect(message).toContain('baseUrl option');
      expect(message).not.toContain('"null"');
    }
    expect(await runtime.client.getStatus('app-x')).toBeUndefined(); // nothing was started
    await runtime.client.startNew('Echo', { instanceId: 'app-done', input: 1 });
    await runtime.client.waitForCompletion('app-done', SETTLED);
    const restart = await post(inProcess, '/instances/app-done/restart?restartWithNewInstanceId=false');
    expect(restart.status).toBe(400);
    await restart.body?.cancel();
    expect((await runtime.client.getStatus('app-done'))?.runtimeStatus).toBe('Completed'); // not restarted
    const served = await post(createHttpHandler(runtime.client, { anonymous: true, logger: silentLogger, baseUrl: 'https://app.example' }), '/orchestrators/Echo/app-y');
    expect(served.status).toBe(202);
    expect(await served.json()).toEqual(createHttpManagementPayload('app-y', 'https://app.example'));
  });

  it('waits with ?timeout= and answers 200 with the output when the instance completes in time', async () => {
    const response = await call('/orchestrators/E1_HelloSequence/waited?timeout=30&pollingInterval=1', { method: 'POST' });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual(['Hello Tokyo!', 'Hello Seattle!', 'Hello London!']);
  });

  it('answers 202 with the check-status body when the wait times out on the handler\'s clock', async () => {
    const clock = new VirtualClock();
    await server.close();
    await runtime.stop();
    await open({ clock });
    const response = call('/orchestrators/WaitForEvents/slow?timeout=60', { method: 'POST', json: 1 });
    await clock.waitForTimer(); // the wait is armed
    expect(clock.nextTimerAt!.getTime() - clock.now().getTime()).toBe(60_000);
    await clock.advance(60_000);
    expect((await response).status).toBe(202);
    expect(await (await response).json()).toEqual(createHttpManagementPayload('slow', server.url));
  });

  it('answers 500 with the status for a Failed instance with returnInternalServerErrorOnFailure=true', async () => {
    const failed = await call('/orchestrators/CallsFlaky/f1?timeout=30&returnInternalServerErrorOnFailure=true', { method: 'POST' });
    expect(failed.status).toBe(500);
    expect(await failed.json()).toMatchObject({
      instanceId: 'f1', runtimeStatus: 'Failed', output: expect.stringContaining('flaky is broken'),
      failureDetails: { errorMessage: expect.stringContaining('flaky is broken') },
    });
    const plain = await call('/orchestrators/CallsFlaky/f2?timeout=30', { method: 'POST' });
    expect(plain.status).toBe(200);
  });

  it('carries returnInternalServerErrorOnFailure=true into the status link and Location of its 202 (start and restart): polling them answers a failure with 500', async () => {
    const started = await fetch(`${base}/orchestrators/CallsFlaky/f3?returnInternalServerErrorOnFailure=true&code=${KEY}`, { method: 'POST' });
    expect(started.status).toBe(202);
    const link = `${base}/instances/f3?code=${KEY}&returnInternalServerErrorOnFailure=true`;
    expect(await started.json()).toEqual({ ...createHttpManagementPayload('f3', server.url, { key: KEY }), statusQueryGetUri: link });
    expect(started.headers.get('location')).toBe(link);
    expect((await runtime.client.waitForCompletion('f3', SETTLED)).runtimeStatus).toBe('Failed');
    const polled = await fetch(link);
    expect(polled.status).toBe(500);
    expect(await polled.json()).toMatchObject({ instanceId: 'f3', runtimeStatus: 'Failed' });

    const restarted = await call('/instances/f3/restart?returnInternalServerErrorOnFailure=true', { method: 'POST' });
    expect(restarted.status).toBe(202);
    const body = (await restarted.json()) as { id: string; statusQueryGetUri: string };
    const restartedLink = `${base}/instances/${encodeURIComponent(body.id)}?returnInternalServerErrorOnFailure=true`;
    expect(body).toEqual({ ...createHttpManagementPayload(body.id, server.url), statusQueryGetUri: restartedLink });
    expect(restarted.headers.get('location')).toBe(restartedLink);

    // Not asked for (false, or left out): the plain link, which answers a failure with 200.
    const plain = await call('/orchestrators/CallsFlaky/f4?returnInternalServerErrorOnFailure=false', { method: 'POST' });
    expect(plain.headers.get('location')).toBe(`${base}/instances/f4`);
    await plain.body?.cancel();
  });

  it('refuses an unknown orchestrator (400), an active id (409) and bad wait parameters (400), writing nothing', async () => {
    expect(await errorOf(call('/orchestrators/Nope', { method: 'POST' }))).toEqual([400, 'invalid-argument']);
    await runtime.client.startNew('WaitForEvents', { instanceId: 'busy', input: 1 });
    expect(await errorOf(call('/orchestrators/Echo/busy', { method: 'POST', json: 1 }))).toEqual([409, 'instance-already-exists']);
    expect(await errorOf(call('/orchestrators/Echo/t1?timeout=abc', { method: 'POST' }))).toEqual([400, 'invalid-argument']);
    expect(await errorOf(call('/orchestrators/Echo/t2?timeout=-1', { method: 'POST' }))).toEqual([400, 'invalid-argument']);
    expect(await errorOf(call('/orchestrators/Echo/t3?timeout=100000', { method: 'POST' }))).toEqual([400, 'invalid-argument']);
    expect((await runtime.client.getStatusAll()).map((s) => s.instanceId)).toEqual(['busy']);
    expect((await runtime.client.getStatus('busy'))?.name).toBe('WaitForEvents');
  });

  it('takes ifExists: fail refuses a finished id (409), useExisting answers its check-status body, both writing nothing', async () => {
    await runtime.client.startNew('Echo', { instanceId: 'done', input: 'first' });
    const done = await runtime.client.waitForCompletion('done', SETTLED);
    expect(await errorOf(call('/orchestrators/Echo/done?ifExists=fail', { method: 'POST', json: 'second' }))).toEqual([409, 'instance-already-exists']);
    const kept = await call('/orchestrators/Echo/done?ifExists=useExisting', { method: 'POST', json: 'second' });
    expect(kept.status).toBe(202);
    expect(await kept.json()).toEqual(createHttpManagementPayload('done', server.url));
    expect(await runtime.client.getStatus('done')).toEqual(done);
    // With a timeout, the answer is the existing instance's output.
    const waited = await call('/orchestrators/Echo/done?ifExists=useExisting&timeout=5', { method: 'POST', json: 'third' });
    expect(waited.status).toBe(200);
    expect(await waited.json()).toBe('first');
    // The default over a finished instance replaces it, as Durable Functions does.
    const replaced = await call('/orchestrators/Echo/done?ifExists=overwrite', { method: 'POST', json: 'fourth' });
    expect(replaced.status).toBe(202);
    await replaced.body?.cancel();
    expect((await runtime.client.waitForCompletion('done', SETTLED)).output).toBe('fourth');
  });

  it('reads the ifExists parameter in any case of its name, as every parameter, and its values only as spelt', async () => {
    await runtime.client.startNew('Echo', { instanceId: 'done', input: 'first' });
    const done = await runtime.client.waitForCompletion('done', SETTLED);
    expect(await errorOf(call('/orchestrators/Echo/done?IFEXISTS=fail', { method: 'POST', json: 'second' }))).toEqual([409, 'instance-already-exists']);
    expect(await errorOf(call('/orchestrators/Echo/done?ifexists=USEEXISTING', { method: 'POST', json: 'second' }))).toEqual([400, 'invalid-argument']);
    expect(await runtime.client.getStatus('done')).toEqual(done);
  });

  it('refuses an unknown ifExists (400, the usual error body), starting nothing', async () => {
    for (const query of ['ifExists=skip', 'ifExists=Fail', 'ifExists=fail&ifExists=useExisting']) {
      expect(await errorOf(call(`/orchestrators/Echo/x?${query}`, { method: 'POST', json: 1 })), query).toEqual([400, 'invalid-argument']);
    }
    expect(await runtime.client.getStatusAll()).toEqual([]);
    // An empty value is the parameter left out.
    const started = await call('/orchestrators/Echo/x?ifExists=', { method: 'POST', json: 1 });
    expect(started.status).toBe(202);
    await started.body?.cancel();
  });

  it('takes startAt: the instance is Pending at once with scheduledStartTime in the status body, native and Durable Functions shape', async () => {
    const at = new Date(Math.ceil((Date.now() + 3_600_000) / 1000) * 1000 + 250);
    const response = await call(`/orchestrators/Echo/later?startAt=${encodeURIComponent(at.toISOString())}`, { method: 'POST', json: 'x' });
    expect(response.status).toBe(202);
    await response.body?.cancel();
    expect((await runtime.client.getStatus('later'))?.scheduledStartTime?.getTime()).toBe(at.getTime());
    const body = (await (await call('/instances/later')).json()) as Record<string, unknown>;
    expect(body).toMatchObject({ runtimeStatus: 'Pending', input: 'x', scheduledStartTime: `${at.toISOString().slice(0, 19)}Z` });
    const native = (await (await call('/instances/later?format=native')).json()) as Record<string, unknown>;
    expect(native).toMatchObject({ runtimeStatus: 'Pending', scheduledStartTime: at.toISOString() });
    // A zone given as an offset (2026-01-01T00:00:00Z); a time at or before now starts at once.
    const offset = await call('/orchestrators/Echo/offset?startAt=2026-01-01T01:00:00%2B01:00', { method: 'POST', json: 1 });
    expect(offset.status).toBe(202);
    await offset.body?.cancel();
    expect((await runtime.client.waitForCompletion('offset', SETTLED))).toMatchObject({ runtimeStatus: 'Completed', output: 1 });
    expect((await runtime.client.getStatus('offset'))?.scheduledStartTime).toBeUndefined();
  });

  it('refuses a startAt that is no ISO 8601 date-time with a zone (400, the usual error body), starting nothing', async () => {
    const bad = [
      'startAt=2026-12-24', 'startAt=2026-12-24T18:00:00', 'startAt=tomorrow', 'startAt=1766599200000', 'startAt=2026-02-30T18:00:00Z',
      'startAt=2026-12-24T18:00:00Z&startAt=2026-12-25T18:00:00Z', 'startAt=2026-12-24T18:00:00+01:00',
    ];
    for (const query of bad) {
      expect(await errorOf(call(`/orchestrators/Echo/x?${query}`, { method: 'POST', json: 1 })), query).toEqual([400, 'invalid-argument']);
    }
    expect(await runtime.client.getStatusAll()).toEqual([]);
    // An empty value is the parameter left out: a start at once.
    const started = await call('/orchestrators/Echo/x?startAt=', { method: 'POST', json: 1 });
    expect(started.status).toBe(202);
    await started.body?.cancel();
    expect((await runtime.client.waitForCompletion('x', SETTLED)).scheduledStartTime).toBeUndefined();
  });

  it('takes tags as a JSON object in the tags query parameter, shown in the status body, native and Durable Functions shape', async () => {
    const tags = { tenant: 'acme', 'a=b&c': 'x,y', __proto__x: '' };
    const response = await call(`/orchestrators/Echo/tagged?tags=${encodeURIComponent(JSON.stringify(tags))}`, { method: 'POST', json: 'x' });
    expect(response.status).toBe(202);
    await response.body?.cancel();
    await runtime.client.waitForCompletion('tagged', SETTLED);
    expect(((await (await call('/instances/tagged')).json()) as Record<string, unknown>)['tags']).toEqual(tags);
    expect(((await (await call('/instances/tagged?format=native')).json()) as Record<string, unknown>)['tags']).toEqual(tags);
    const listed = (await (await call('/instances')).json()) as Record<string, unknown>[];
    expect(listed.find((s) => s['instanceId'] === 'tagged')?.['tags']).toEqual(tags);
    // None: no member at all, as for the other optional fields.
    const plain = await call('/orchestrators/Echo/plain?tags=', { method: 'POST', json: 1 });
    await plain.body?.cancel();
    await runtime.client.waitForCompletion('plain', SETTLED);
    expect('tags' in ((await (await call('/instances/plain')).json()) as object)).toBe(false);
    // signalWithStart's start takes them the same way.
    const signalled = await call(`/orchestrators/Echo/sws/signalWithStart/go?tags=${encodeURIComponent('{"k":"v"}')}`, { method: 'POST', json: { input: 1 } });
    expect(signalled.status).toBe(202);
    await signalled.body?.cancel();
    expect((await runtime.client.getStatus('sws'))?.tags).toEqual({ k: 'v' });
  });

  it('refuses tags that are no JSON object of strings within the limits (400, the usual error body), starting nothing', async () => {
    const bad = ['tenant:acme', 'tenant=acme', '[]', '{"n":1}', '"x"', `{"${'k'.repeat(129)}":"v"}`, '{"a":"b"'];
    for (const tags of bad) {
      expect(await errorOf(call(`/orchestrators/Echo/t?tags=${encodeURIComponent(tags)}`, { method: 'POST', json: 1 })), tags).toEqual([400, 'invalid-argument']);
      expect(await errorOf(call(`/orchestrators/Echo/t/signalWithStart/go?tags=${encodeURIComponent(tags)}`, { method: 'POST', json: {} })), tags).toEqual([400, 'invalid-argument']);
    }
    expect(await runtime.client.getStatusAll()).toEqual([]);
  });

  it('refuses an orchestration version (400), which durable-rx cannot record or hand to the orchestrator, starting nothing', async () => {
    // The durable-functions client appends ?version= to a start when asked for one; Durable Functions records it on
    // the instance for the orchestrator to read. Started without it, the instance would run as if none was asked.
    for (const query of ['version=2.0', 'VERSION=1', 'version=2.0&version=3.0']) {
      expect(await errorOf(call(`/orchestrators/Echo/v?${query}`, { method: 'POST', json: 1 })), query).toEqual([400, 'invalid-argument']);
    }
    expect(await runtime.client.getStatusAll()).toEqual([]);
    // An empty value asks for no version (the Durable Functions client never sends one).
    const started = await call('/orchestrators/Echo/v?version=', { method: 'POST', json: 1 });
    expect(started.status).toBe(202);
    await started.body?.cancel();
  });
});

describe('GET /instances/{id}', () => {
  it('answers 202 with Location and Retry-After while the instance runs', async () => {
    await runtime.client.startNew('WaitForEvents', { instanceId: 'run', input: 1 });
    await until('run', (s) => s?.runtimeStatus === 'Running');
    const response = await call('/instances/run?showInput=true');
    expect(response.status).toBe(202);
    expect(response.headers.get('location')).toBe(`${base}/instances/run?showInput=true`);
    expect(response.headers.get('retry-after')).toBe('5'); // as Durable Functions' status route; a start's 202 says 10
    expect(await response.json()).toMatchObject({ instanceId: 'run', runtimeStatus: 'Running', input: 1 });
  });

  it('answers a configured retryAfterSeconds on every 202 that points to a status: the status route\'s and a start\'s', async () => {
    await server.close();
    await runtime.stop();
    await open({ retryAfterSeconds: 3 });
    const started = await call('/orchestrators/WaitForEvents/slow', { method: 'POST', json: 1 });
    expect(started.status).toBe(202);
    expect(started.headers.get('retry-after')).toBe('3');
    await until('slow', (s) => s?.runtimeStatus === 'Running');
    const response = await call('/instances/slow');
    expect(response.status).toBe(202);
    expect(response.headers.get('retry-after')).toBe('3');
  });

  it('puts the Location of a running instance under the configured baseUrl, where the check-status URLs point', async () => {
    await server.close();
    await runtime.stop();
    await open({ baseUrl: 'https://durable.example.com/api' });
    const started = await fetch(`${base}/orchestrators/WaitForEvents/behind?code=${KEY}`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: '1',
    });
    const statusUrl = ((await started.json()) as { statusQueryGetUri: string }).statusQueryGetUri;
    expect(statusUrl).toBe(`https://durable.example.com/api/runtime/webhooks/durabletask/instances/behind?code=${KEY}`);
    await until('behind', (s) => s?.runtimeStatus === 'Running');
    // What the proxy forwards from that URL, with a flag added by the caller.
    const response = await fetch(`${base}/instances/behind?code=${KEY}&showInput=false`);
    expect(response.status).toBe(202);
    expect(response.headers.get('location')).toBe(`${statusUrl}&showInput=false`);
  });

  it('answers 202 for a Suspended instance (not terminal)', async () => {
    await runtime.client.startNew('WaitForEvents', { instanceId: 'sus', input: 1 });
    await until('sus', (s) => s?.runtimeStatus === 'Running');
    await runtime.client.suspend('sus');
    await until('sus', (s) => s?.runtimeStatus === 'Suspended');
    expect((await call('/instances/sus')).status).toBe(202);
  });

  it('answers 200 with the Durable Functions status shape when the instance is terminal', async () => {
    await runtime.client.startNew('E1_HelloSequence', { instanceId: 'hello', input: { who: 'me' } });
    const done = await runtime.client.waitForCompletion('hello', SETTLED);
    const response = await call('/instances/hello');
    expect(response.status).toBe(200);
    expect(response.headers.get('location')).toBeNull();
    expect(await response.json()).toEqual({
      name: 'E1_HelloSequence', instanceId: 'hello', runtimeStatus: 'Completed', input: { who: 'me' }, customStatus: 'London',
      output: ['Hello Tokyo!', 'Hello Seattle!', 'Hello London!'],
      createdTime: `${done.createdTime.toISOString().slice(0, 19)}Z`, lastUpdatedTime: `${done.lastUpdatedTime.toISOString().slice(0, 19)}Z`,
    });
  });

  it('sends the lossless durable-rx form with format=native', async () => {
    await runtime.client.startNew('E1_HelloSequence', { instanceId: 'nat' });
    const done = await runtime.client.waitForCompletion('nat', SETTLED);
    const body = (await (await call('/instances/nat?format=native')).json()) as Record<string, unknown>;
    expect(body).toEqual({
      name: 'E1_HelloSequence', instanceId: 'nat', runtimeStatus: 'Completed', customStatus: 'London',
      output: ['Hello Tokyo!', 'Hello Seattle!', 'Hello London!'],
      createdTime: done.createdTime.toISOString(), lastUpdatedTime: done.lastUpdatedTime.toISOString(),
    });
    const withHistory = (await (await call('/instances/nat?format=native&showHistory=true')).json()) as { history: { type: string }[] };
    expect(withHistory.history.map((e) => e.type)).toEqual((await runtime.client.getStatus('nat', { showHistory: true }))!.history!.map((e) => e.type));
    expect(await errorOf(call('/instances/nat?format=xml'))).toEqual([400, 'invalid-argument']);
  });

  it('adds historyEvents with showHistory, their results with showHistoryOutput, and nulls the input with showInput=false', async () => {
    await runtime.client.startNew('E1_HelloSequence', { instanceId: 'h', input: 'secret' });
    await runtime.client.waitForCompletion('h', SETTLED);
    type Body = { input?: unknown; historyEvents?: { EventType: string; Result?: unknown; Input?: unknown }[] };
    const withHistory = (await (await call('/instances/h?showHistory=true')).json()) as Body;
    const types = withHistory.historyEvents!.map((e) => e.EventType);
    expect(types).toEqual(['ExecutionStarted', 'TaskCompleted', 'TaskCompleted', 'TaskCompleted', 'ExecutionCompleted']);
    expect(withHistory.historyEvents!.find((e) => e.EventType === 'TaskCompleted')).not.toHaveProperty('Result');
    const withOutput = (await (await call('/instances/h?showHistory=true&showHistoryOutput=true')).json()) as Body;
    expect(withOutput.historyEvents!.find((e) => e.EventType === 'TaskCompleted')?.Result).toBe('Hello Tokyo!');
    const noInput = (await (await call('/instances/h?showInput=false&showHistory=true')).json()) as Body;
    expect(noInput.input).toBeNull();
    expect(noInput.historyEvents!.some((e) => 'Input' in e)).toBe(false);
    expect((await (await call('/instances/h')).json()) as Body).not.toHaveProperty('historyEvents');
  });

  it('answers 200 for Failed, or 500 with returnInternalServerErrorOnFailure=true; 200 for Terminated', async () => {
    await failedInstance('failed');
    const ok = await call('/instances/failed');
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({
      runtimeStatus: 'Failed', output: expect.stringContaining('flaky is broken'), failureDetails: { errorType: 'TaskFailedError' },
    });
    expect((await call('/instances/failed?returnInternalServerErrorOnFailure=true')).status).toBe(500);
    await runtime.client.startNew('WaitForEvents', { instanceId: 'term', input: 1 });
    await runtime.client.terminate('term', 'stop');
    await until('term', (s) => s?.runtimeStatus === 'Terminated');
    const terminated = await call('/instances/term?returnInternalServerErrorOnFailure=true');
    expect(terminated.status).toBe(200);
    expect(await terminated.json()).toMatchObject({ runtimeStatus: 'Terminated', output: 'stop' });
  });

  it('answers 404 for an unknown id and 400 for a malformed flag', async () => {
    expect(await errorOf(call('/instances/nobody'))).toEqual([404, 'instance-not-found']);
    expect(await errorOf(call('/instances/nobody?showHistory=yes'))).toEqual([400, 'invalid-argument']);
  });

  it('answers 503 store-closed with storeClosed: true once the store is closed, so a client tells the server\'s storage is gone', async () => {
    await runtime.store.close();
    const response = await call('/instances/x');
    expect(response.status).toBe(503);
    expect(await response.json()).toEqual({
      code: 'store-closed', message: expect.any(String), ExceptionMessage: expect.any(String), storeClosed: true,
    });
  });

  it('serves the status of an instance named "stream", whatever the Accept header asks for', async () => {
    await runtime.client.startNew('Echo', { instanceId: 'stream', input: 's' });
    await runtime.client.waitForCompletion('stream', SETTLED);
    for (const accept of ['application/json', 'text/event-stream']) {
      const response = await call('/instances/stream', { headers: { accept } });
      expect(response.status).toBe(200);
      expect(await response.json()).toMatchObject({ instanceId: 'stream', output: 's' });
    }
  });
});

describe('GET /instances', () => {
  beforeEach(async () => {
    for (const id of ['done-1', 'done-2']) {
      await runtime.client.startNew('Echo', { instanceId: id, input: id });
      await runtime.client.waitForCompletion(id, SETTLED);
    }
    await runtime.client.startNew('WaitForEvents', { instanceId: 'wait-1', input: 1 });
    await until('wait-1', (s) => s?.runtimeStatus === 'Running');
  });

  const ids = async (response: Response) => ((await response.json()) as { instanceId: string }[]).map((s) => s.instanceId).sort();

  it('lists every instance in the status shape', async () => {
    const response = await call('/instances');
    expect(response.status).toBe(200);
    expect(response.headers.get('x-ms-continuation-token')).toBe(''); // no page follows
    const list = (await response.json()) as Record<string, unknown>[];
    expect(list.map((s) => s.instanceId).sort()).toEqual(['done-1', 'done-2', 'wait-1']);
    expect(list.find((s) => s.instanceId === 'done-1')).toMatchObject({ name: 'Echo', runtimeStatus: 'Completed', input: 'done-1', output: 'done-1' });
  });

  it('filters by runtimeStatus (a comma list), instanceIdPrefix, created time and showInput', async () => {
    expect(await ids(await call('/instances?runtimeStatus=Completed'))).toEqual(['done-1', 'done-2']);
    expect(await ids(await call('/instances?runtimeStatus=Running,Pending'))).toEqual(['wait-1']);
    expect(await ids(await call('/instances?runtimeStatus=Running&runtimeStatus=Completed'))).toHaveLength(3);
    expect(await ids(await call('/instances?instanceIdPrefix=done-'))).toEqual(['done-1', 'done-2']);
    const future = new Date(Date.now() + 60_000).toISOString();
    expect(await ids(await call(`/instances?createdTimeFrom=${future}`))).toEqual([]);
    expect(await ids(await call(`/instances?createdTimeTo=${future}`))).toHaveLength(3);
    const noInput = (await (await call('/instances?showInput=false')).json()) as { input: unknown }[];
    expect(noInput.map((s) => s.input)).toEqual([null, null, null]);
  });

  it('filters by orchestrator name (the name parameter, repeated for several) and lists newest first with order=desc', async () => {
    const inOrder = async (response: Response) => ((await response.json()) as { instanceId: string }[]).map((s) => s.instanceId);
    expect(await ids(await call('/instances?name=Echo'))).toEqual(['done-1', 'done-2']);
    expect(await ids(await call('/instances?NAME=WaitForEvents'))).toEqual(['wait-1']);
    expect(await ids(await call('/instances?name=Echo&name=WaitForEvents'))).toHaveLength(3);
    expect(await ids(await call('/instances?name=echo'))).toEqual([]);
    expect(await ids(await call('/instances?name='))).toHaveLength(3);
    const ascending = await inOrder(await call('/instances'));
    expect(await inOrder(await call('/instances?order=desc'))).toEqual([...ascending].reverse());
    expect(await inOrder(await call('/instances?order=DESC&name=Echo'))).toEqual(['done-2', 'done-1']);
    expect(await inOrder(await call('/instances?order=asc'))).toEqual(ascending);
    // Page by page newest first; a token used with the other order is refused.
    const first = await call('/instances?order=desc&top=1');
    const token = first.headers.get('x-ms-continuation-token')!;
    expect(await inOrder(first)).toEqual([ascending[2]]);
    const second = await call('/instances?order=desc&top=1', { headers: { 'x-ms-continuation-token': token } });
    expect(await inOrder(second)).toEqual([ascending[1]]);
    const other = await call('/instances?top=1', { headers: { 'x-ms-continuation-token': token } });
    expect(other.status).toBe(400);
    expect(await other.json()).toMatchObject({ code: 'invalid-argument' });
  });

  it('filters by tags (the tags parameter, a JSON object as on a start: every pair, exactly), on lists, commands and purges', async () => {
    await runtime.client.startNew('Echo', { instanceId: 'tag-1', input: 1, tags: { tenant: 'acme', 'a=b': 'c' } });
    await runtime.client.startNew('WaitForEvents', { instanceId: 'tag-2', input: 1, tags: { tenant: 'acme' } });
    await runtime.client.waitForCompletion('tag-1', SETTLED);
    const tags = (value: Record<string, string>) => `tags=${encodeURIComponent(JSON.stringify(value))}`;
    expect(await ids(await call(`/instances?${tags({ tenant: 'acme' })}`))).toEqual(['tag-1', 'tag-2']);
    expect(await ids(await call(`/instances?${tags({ tenant: 'acme', 'a=b': 'c' })}`))).toEqual(['tag-1']);
    expect(await ids(await call(`/instances?TAGS=${encodeURIComponent('{"tenant":"ACME"}')}`))).toEqual([]);
    expect(await ids(await call('/instances?tags=%7B%7D'))).toHaveLength(5);
    const terminated = await call(`/instances/terminate?${tags({ tenant: 'acme' })}&reason=stop`, { method: 'POST' });
    expect(await terminated.json()).toMatchObject({ instancesAffected: 1, instancesSkipped: 0 });
    const from = new Date(0).toISOString();
    expect(await (await call(`/instances?createdTimeFrom=${from}&${tags({ tenant: 'acme', 'a=b': 'c' })}`, { method: 'DELETE' })).json()).toEqual({ instancesDeleted: 1 });
    expect(await ids(await call(`/instances?${tags({ tenant: 'acme' })}`))).toEqual(['tag-2']);
  });

  it('refuses a malformed tags filter (400), deleting and terminating nothing', async () => {
    for (const query of ['tags=tenant:acme', 'tags=%5B%5D', `tags=${encodeURIComponent('{"tenant":1}')}`, `tags=${encodeURIComponent('{"":"x"}')}`, 'tags=%7B%7D&tags=%7B%7D']) {
      for (const [method, path] of [['GET', '/instances'], ['DELETE', '/instances'], ['POST', '/instances/terminate']] as const) {
        const response = await call(`${path}?createdTimeFrom=${new Date(0).toISOString()}&${query}`, { method });
        expect(response.status, `${method} ${query}`).toBe(400);
        expect(await response.json()).toMatchObject({ code: 'invalid-argument' });
      }
    }
    expect(await ids(await call('/instances'))).toHaveLength(3);
  });

  it('refuses a malformed name or order (400)', async () => {
    for (const query of ['order=newest', 'order=desc&order=asc', 'name=a%01b', `name=${'x'.repeat(257)}`]) {
      const response = await call(`/instances?${query}`);
      expect(response.status).toBe(400);
      expect(await response.json()).toMatchObject({ code: 'invalid-argument' });
    }
  });

  it('purges by orchestrator name (the name parameter), terminal instances only', async () => {
    const from = new Date(0).toISOString();
    expect((await call(`/instances?createdTimeFrom=${from}&name=WaitForEvents`, { method: 'DELETE' })).status).toBe(404);
    const purged = await call(`/instances?createdTimeFrom=${from}&name=Echo`, { method: 'DELETE' });
    expect(await purged.json()).toEqual({ instancesDeleted: 2 });
    expect(await ids(await call('/instances'))).toEqual(['wait-1']);
  });

  it('refuses a purge with a malformed name, an order or 101 names (400), deleting nothing', async () => {
    const from = new Date(0).toISOString();
    const many = Array.from({ length: 101 }, (_, i) => `name=N${i}`).join('&');
    for (const query of ['name=a%01b', `name=${'x'.repeat(257)}`, 'name=Echo&order=desc', 'name=Echo&order=newest', many, 'name=Echo&name[]=x']) {
      const response = await call(`/instances?createdTimeFrom=${from}&${query}`, { method: 'DELETE' });
      expect(response.status, query).toBe(400);
      expect(await response.json()).toMatchObject({ code: 'invalid-argument' });
    }
    expect(await ids(await call('/instances'))).toEqual(['done-1', 'done-2', 'wait-1']);
  });

  it('accepts every status of the Durable Functions enum: Canceled matches no instance', async () => {
    expect(await ids(await call('/instances?runtimeStatus=Canceled'))).toEqual([]);
    expect(await ids(await call('/instances?runtimeStatus=Canceled,Completed'))).toEqual(['done-1', 'done-2']);
    expect(await ids(await call('/instances?runtimeStatus=completed'))).toEqual(['done-1', 'done-2']);
    expect(await ids(await call('/instances?runtimeStatus='))).toHaveLength(3);
    const from = new Date(Date.now() - 60_000).toISOString();
    expect(await errorOf(call(`/instances?createdTimeFrom=${from}&runtimeStatus=Canceled`, { method: 'DELETE' }))).toEqual([404, 'instance-not-found']);
    expect(await runtime.client.getStatusAll()).toHaveLength(3);
  });

  it('serves the list and the purge under /instances/ with a trailing slash', async () => {
    expect(await ids(await call('/instances/'))).toEqual(['done-1', 'done-2', 'wait-1']);
    expect(await ids(await call('/instances/?runtimeStatus=Running'))).toEqual(['wait-1']);
    const from = new Date(Date.now() - 60_000).toISOString();
    const purged = await call(`/instances/?createdTimeFrom=${from}`, { method: 'DELETE' });
    expect(purged.status).toBe(200);
    expect(await purged.json()).toEqual({ instancesDeleted: 2 });
    expect((await call('/instances/wait-1/')).status).toBe(202);
  });

  it('trims every slash at both ends of the path after the base, as Durable Functions does', async () => {
    expect(await ids(await call('//instances//'))).toEqual(['done-1', 'done-2', 'wait-1']);
    const running = await call('///instances/wait-1//');
    expect(running.status).toBe(202);
    expect(running.headers.get('location')).toBe(`${base}/instances/wait-1`);
    expect(await running.json()).toMatchObject({ instanceId: 'wait-1' });
    expect((await call('//Instances/wait-1/Terminate///?reason=x', { method: 'POST' })).status).toBe(202);
    expect((await runtime.client.getStatus('wait-1'))?.runtimeStatus).toBe('Terminated');
    // Inside the path a doubled slash is an empty segment: no route.
    expect(await errorOf(call('/instances//wait-1'))).toEqual([404, 'not-found']);
    // However long the run of slashes, the trim costs time linear in it (a backtracking regular expression took time
    // quadratic in it, before any key check: 50 s for 200,000 slashes here, so minutes for these, past the test's
    // timeout, which a synchronous loop only lets fire once it ends).
    // In process (a Node server refuses a path this long with 431 before the handler sees it).
    const handler = createHttpHandler(runtime.client, { key: KEY, logger: silentLogger });
    const long = await handler(new Request(`${base}/instances${'/'.repeat(400_000)}wait-1`, { headers: { authorization: `Bearer ${KEY}` } }));
    expect([long.status, (await long.json() as { code?: string }).code]).toEqual([404, 'not-found']);
  });

  it('caps a page at 1000 instances and hands out a continuation token for the rest, as Durable Functions does', async () => {
    const response = await call('/instances?top=5000');
    expect(response.status).toBe(200);
    expect(await ids(response)).toHaveLength(3);
  });

  it('pages with top and the x-ms-continuation-token header, never repeating or skipping', async () => {
    const seen: string[] = [];
    let token: string | null = null;
    let pages = 0;
    do {
      const response: Response = await call('/instances?top=2', token ? { headers: { 'x-ms-continuation-token': token } } : {});
      expect(response.status).toBe(200);
      const page = (await response.json()) as { instanceId: string }[];
      expect(page.length).toBeLessThanOrEqual(2);
      seen.push(...page.map((s) => s.instanceId));
      token = response.headers.get('x-ms-continuation-token');
      pages++;
    } while (token);
    expect(pages).toBe(2);
    expect(seen.sort()).toEqual(['done-1', 'done-2', 'wait-1']);
  });

  it('answers 400 for an unknown status, a malformed date, a bad top and a forged continuation token', async () => {
    expect(await errorOf(call('/instances?runtimeStatus=Sleeping'))).toEqual([400, 'invalid-argument']);
    expect(await errorOf(call('/instances?createdTimeFrom=yesterday'))).toEqual([400, 'invalid-argument']);
    // .NET's DateTime.ToString() in en-US and in the invariant culture (which the extension's own tests send and its
    // DateTime.TryParse reads month first): refused, as a date whose reading depends on a culture (a listed difference).
    for (const culture of ['3%2F10%2F2018%2010%3A01%3A00%20AM', '03%2F10%2F2018%2010%3A01%3A00']) {
      expect(await errorOf(call(`/instances?createdTimeFrom=${culture}`)), culture).toEqual([400, 'invalid-argument']);
      expect(await errorOf(call(`/instances?createdTimeFrom=${culture}`, { method: 'DELETE' })), culture).toEqual([400, 'invalid-argument']);
    }
    expect(await errorOf(call('/instances?top=0'))).toEqual([400, 'invalid-argument']);
    expect(await errorOf(call('/instances?top=ten'))).toEqual([400, 'invalid-argument']);
    expect(await errorOf(call('/instances', { headers: { 'x-ms-continuation-token': '%%%' } }))).toEqual([400, 'invalid-argument']);
    // Also where the filter matches nothing and no store is asked (Canceled): a forged token is refused in every case.
    expect(await errorOf(call('/instances?runtimeStatus=Canceled', { headers: { 'x-ms-continuation-token': '%%%' } }))).toEqual([400, 'invalid-argument']);
    // Well-formed, but naming no instant an instance is created at: not an empty page, nor a listing started over.
    for (const time of [1e300, 0.5]) {
      const forged = encodeURIComponent(JSON.stringify([time, 'done-1']));
      expect(await errorOf(call('/instances?top=1', { headers: { 'x-ms-continuation-token': forged } })), String(time)).toEqual([400, 'invalid-argument']);
    }
  });
});

describe('POST /instances/{id}/raiseEvent/{eventName}', () => {
  it('answers 202 and delivers the JSON body as event data', async () => {
    await runtime.client.startNew('WaitForEvents', { instanceId: 'ev', input: 2 });
    expect((await call('/instances/ev/raiseEvent/Item', { method: 'POST', json: { a: 1 } })).status).toBe(202);
    expect((await call('/instances/ev/raiseEvent/Item', { method: 'POST' })).status).toBe(202);
    expect((await runtime.client.waitForCompletion('ev', SETTLED)).output).toEqual([{ a: 1 }, null]);
  });

  it('delivers an event without data for a body of only whitespace, as for no body', async () => {
    await runtime.client.startNew('WaitForEvents', { instanceId: 'ev', input: 1 });
    const raised = await call('/instances/ev/raiseEvent/Item', { method: 'POST', headers: { 'content-type': 'application/json' }, body: ' \r\n' });
    expect(raised.status).toBe(202);
    expect((await runtime.client.waitForCompletion('ev', SETTLED)).output).toEqual([null]);
  });

  it('answers 404 for an unknown instance, 410 for a terminal one and 400 for a bad event name', async () => {
    expect(await errorOf(call('/instances/nobody/raiseEvent/Item', { method: 'POST', json: 1 }))).toEqual([404, 'instance-not-found']);
    await runtime.client.startNew('Echo', { instanceId: 'fin', input: 1 });
    await runtime.client.waitForCompletion('fin', SETTLED);
    expect(await errorOf(call('/instances/fin/raiseEvent/Item', { method: 'POST', json: 1 }))).toEqual([410, 'instance-not-running']);
    await runtime.client.startNew('WaitForEvents', { instanceId: 'w', input: 1 });
    expect(await errorOf(call('/instances/w/raiseEvent/a%0Ab', { method: 'POST', json: 1 }))).toEqual([400, 'invalid-argument']);
    expect(await errorOf(call(`/instances/w/raiseEvent/${'e'.repeat(257)}`, { method: 'POST', json: 1 }))).toEqual([400, 'invalid-argument']);
    expect((await runtime.client.getStatus('w', { showHistory: true }))?.history?.some((e) => e.type === 'EventRaised')).toBe(false);
    // 256 characters are a name.
    expect((await call(`/instances/w/raiseEvent/${'e'.repeat(256)}`, { method: 'POST', json: 1 })).status).toBe(202);
  });

  it('delivers a raise repeated with one Idempotency-Key once (202 each time), the key quoted or not', async () => {
    await runtime.client.startNew('WaitForEvents', { instanceId: 'ik', input: 2 });
    const raise = (data: unknown, key: string) => call('/instances/ik/raiseEvent/Item', { method: 'POST', json: data, headers: { 'Idempotency-Key': key } });
    expect((await raise('a', 'key-1')).status).toBe(202);
    expect((await raise('a again', 'key-1')).status).toBe(202);
    expect((await raise('a quoted', '"key-1"')).status).toBe(202);
    expect((await raise('b', 'key-2')).status).toBe(202);
    expect((await runtime.client.waitForCompletion('ik', SETTLED)).output).toEqual(['a', 'b']);
    // A repeat after the instance finished still answers 202: the event was delivered once.
    expect((await raise('a', 'key-1')).status).toBe(202);
  });

  it('answers 400 for a malformed Idempotency-Key, delivering nothing', async () => {
    await runtime.client.startNew('WaitForEvents', { instanceId: 'bad-key', input: 1 });
    for (const key of ['', 'two words', 'k'.repeat(129)]) {
      const response = call('/instances/bad-key/raiseEvent/Item', { method: 'POST', json: 1, headers: { 'Idempotency-Key': key } });
      expect(await errorOf(response), JSON.stringify(key)).toEqual([400, 'invalid-argument']);
    }
    expect((await runtime.client.getStatus('bad-key', { showHistory: true }))?.history?.some((e) => e.type === 'EventRaised')).toBe(false);
  });
});

describe('POST /instances/{id}/terminate', () => {
  it('answers 202 and terminates with ?reason= as output (or a JSON body as the reason)', async () => {
    await runtime.client.startNew('WaitForEvents', { instanceId: 't1', input: 1 });
    expect((await call('/instances/t1/terminate?reason=It%20was%20time', { method: 'POST' })).status).toBe(202);
    expect(await runtime.client.waitForCompletion('t1', SETTLED)).toMatchObject({ runtimeStatus: 'Terminated', output: 'It was time' });
    await runtime.client.startNew('WaitForEvents', { instanceId: 't2', input: 1 });
    expect((await call('/instances/t2/terminate', { method: 'POST', json: { why: 'json' } })).status).toBe(202);
    expect(await runtime.client.waitForCompletion('t2', SETTLED)).toMatchObject({ runtimeStatus: 'Terminated', output: { why: 'json' } });
  });

  it('keeps a ?reason= that reads as JSON a string in the status output (Durable Functions shows 42 for reason=42)', async () => {
    await runtime.client.startNew('WaitForEvents', { instanceId: 't3', input: 1 });
    expect((await call('/instances/t3/terminate?reason=42', { method: 'POST' })).status).toBe(202);
    await runtime.client.waitForCompletion('t3', SETTLED);
    const status = (await (await call('/instances/t3')).json()) as { output: unknown };
    expect(status.output).toBe('42');
  });

  it('takes ?reason= over a body, as Durable Functions reads only the query (tools that always send a body)', async () => {
    await runtime.client.startNew('WaitForEvents', { instanceId: 't3', input: 1 });
    expect((await call('/instances/t3/terminate?reason=from%20the%20URL', { method: 'POST', json: {} })).status).toBe(202);
    expect(await runtime.client.waitForCompletion('t3', SETTLED)).toMatchObject({ runtimeStatus: 'Terminated', output: 'from the URL' });
    // An empty reason is a reason too: the body stays unused.
    await runtime.client.startNew('WaitForEvents', { instanceId: 't4', input: 1 });
    expect((await call('/instances/t4/terminate?reason=', { method: 'POST', json: { why: 'json' } })).status).toBe(202);
    expect(await runtime.client.waitForCompletion('t4', SETTLED)).toMatchObject({ runtimeStatus: 'Terminated', output: '' });
  });

  it('does not read the body with ?reason= (free text as text/plain is no error, as in Durable Functions), and still bounds its size', async () => {
    const text = { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'stop now' };
    await runtime.client.startNew('WaitForEvents', { instanceId: 'tx', input: 1 });
    expect((await call('/instances/tx/terminate?reason=from%20the%20URL', text)).status).toBe(202);
    expect(await runtime.client.waitForCompletion('tx', SETTLED)).toMatchObject({ runtimeStatus: 'Terminated', output: 'from the URL' });
    // The same rule for every command that takes a reason, on one instance and by filter.
    await runtime.client.startNew('WaitForEvents', { instanceId: 'sx', input: 1 });
    await until('sx', (st) => st?.runtimeStatus === 'Running');
    expect((await call('/instances/sx/suspend?reason=pause', text)).status).toBe(202);
    expect((await runtime.client.getStatus('sx'))?.runtimeStatus).toBe('Suspended');
    expect((await call('/instances/sx/resume?reason=go', { ...text, body: '{not json' })).status).toBe(202);
    const bulk = await call('/instances/terminate?instanceIdPrefix=sx&reason=cleanup', text);
    expect(await bulk.json()).toEqual({ instancesAffected: 1, instancesSkipped: 0 });
    expect(await runtime.client.getStatus('sx')).toMatchObject({ runtimeStatus: 'Terminated', output: 'cleanup' });
    // Without ?reason=, the body is the reason: one that is no JSON is refused, nothing done.
    await runtime.client.startNew('WaitForEvents', { instanceId: 'ty', input: 1 });
    expect(await errorOf(call('/instances/ty/terminate', text))).toEqual([400, 'invalid-argument']);
    expect((await runtime.client.getStatus('ty'))?.runtimeStatus).not.toBe('Terminated');
    // The size limit stays: an unread body over maxBodyBytes is 413, nothing done.
    await open({ maxBodyBytes: 16 });
    await runtime.client.startNew('WaitForEvents', { instanceId: 'big', input: 1 });
    expect(await errorOf(call('/instances/big/terminate?reason=x', { ...text, body: 'x'.repeat(17) }))).toEqual([413, 'payload-too-large']);
    expect((await runtime.client.getStatus('big'))?.runtimeStatus).not.toBe('Terminated');
  });

  it('answers 202 over a client without a worker, and the status read next shows the instance Terminated', async () => {
    const store = new MemoryStore();
    const alone = await serve(createHttpHandler(createClient({ store }), { key: KEY, logger: silentLogger }), { port: 0 });
    try {
      const url = `${alone.url}${WEBHOOK_PATH}`;
      const headers = { authorization: `Bearer ${KEY}` };
      expect((await fetch(`${url}/orchestrators/Echo/nobody-runs-it`, { method: 'POST', headers })).status).toBe(202);
      expect((await fetch(`${url}/instances/nobody-runs-it/terminate?reason=admin`, { method: 'POST', headers })).status).toBe(202);
      const status = await fetch(`${url}/instances/nobody-runs-it`, { headers });
      expect(status.status).toBe(200);
      expect(await status.json()).toMatchObject({ runtimeStatus: 'Terminated', output: 'admin' });
    } finally {
      await alone.close();
      await store.close();
    }
  });

  it('terminates the running sub-orchestrations too with ?recursive=true (durable-rx\'s own), and refuses a value that is no flag (400)', async () => {
    await runtime.client.startNew('ParentOfWaiting', { instanceId: 'tree' });
    await until('tree-child', (s) => s?.runtimeStatus === 'Running');
    expect(await errorOf(call('/instances/tree/terminate?recursive=yes', { method: 'POST' }))).toEqual([400, 'invalid-argument']);
    expect((await runtime.client.getStatus('tree'))?.runtimeStatus).toBe('Running');
    expect((await call('/instances/tree/terminate?reason=stop&recursive=true', { method: 'POST' })).status).toBe(202);
    expect(await runtime.client.getStatus('tree')).toMatchObject({ runtimeStatus: 'Terminated', output: 'stop' });
    expect(await runtime.client.getStatus('tree-child')).toMatchObject({ runtimeStatus: 'Terminated', output: 'stop' });
  });

  it('answers 404 for an unknown instance and 410 for a terminal one', async () => {
    expect(await errorOf(call('/instances/nobody/terminate', { method: 'POST' }))).toEqual([404, 'instance-not-found']);
    await runtime.client.startNew('Echo', { instanceId: 'fin', input: 1 });
    await runtime.client.waitForCompletion('fin', SETTLED);
    expect(await errorOf(call('/instances/fin/terminate?reason=x', { method: 'POST' }))).toEqual([410, 'instance-not-running']);
  });
});

describe('POST /instances/{id}/suspend and /resume', () => {
  it('answers 202 and suspends, then resumes the instance', async () => {
    await runtime.client.startNew('WaitForEvents', { instanceId: 's', input: 1 });
    await until('s', (st) => st?.runtimeStatus === 'Running');
    expect((await call('/instances/s/suspend?reason=maintenance', { method: 'POST' })).status).toBe(202);
    await until('s', (st) => st?.runtimeStatus === 'Suspended');
    expect((await call('/instances/s/resume?reason=done', { method: 'POST' })).status).toBe(202);
    await until('s', (st) => st?.runtimeStatus === 'Running');
    await runtime.client.raiseEvent('s', 'Item', 1);
    expect((await runtime.client.waitForCompletion('s', SETTLED)).runtimeStatus).toBe('Completed');
  });

  it('answers 202 over a client without a worker, and the status read next shows the instance Suspended, then Running', async () => {
    const store = new MemoryStore();
    // The instance runs its first step on a worker that stops: then no worker is left.
    const worker = createRuntime({ store, orchestrators, activities, logger: silentLogger });
    await worker.start();
    await worker.client.startNew('WaitForEvents', { instanceId: 'paused', input: 1 });
    await firstValueFrom(worker.client.status$('paused').pipe(filter((s) => s?.runtimeStatus === 'Running')));
    await worker.stop();
    const alone = await serve(createHttpHandler(createClient({ store }), { key: KEY, logger: silentLogger }), { port: 0 });
    try {
      const url = `${alone.url}${WEBHOOK_PATH}/instances/paused`;
      const headers = { authorization: `Bearer ${KEY}` };
      expect((await fetch(`${url}/suspend?reason=maintenance`, { method: 'POST', headers })).status).toBe(202);
      expect(await (await fetch(url, { headers })).json()).toMatchObject({ runtimeStatus: 'Suspended' });
      expect((await fetch(`${url}/resume?reason=done`, { method: 'POST', headers })).status).toBe(202);
      expect(await (await fetch(url, { headers })).json()).toMatchObject({ runtimeStatus: 'Running' });
    } finally {
      await alone.close();
      await store.close();
    }
  });

  it('takes a JSON string body as the reason when there is no ?reason= (a reason no request line carries), the query first', async () => {
    await runtime.client.startNew('WaitForEvents', { instanceId: 'why', input: 1 });
    await until('why', (st) => st?.runtimeStatus === 'Running');
    const long = '停止理由'.repeat(2000); // 8,000 characters: 72,000 bytes percent-encoded, past any request line
    expect((await call('/instances/why/suspend', { method: 'POST', json: long })).status).toBe(202);
    await until('why', (st) => st?.runtimeStatus === 'Suspended');
    // `?reason=` wins, as Durable Functions reads only it; a body that is no string is not a reason (a tool's `{}`).
    expect((await call('/instances/why/resume?reason=query', { method: 'POST', json: 'body' })).status).toBe(202);
    await until('why', (st) => st?.runtimeStatus === 'Running');
    expect((await call('/instances/why/suspend', { method: 'POST', json: {} })).status).toBe(202);
    await until('why', (st) => st?.runtimeStatus === 'Suspended');
    const history = (await runtime.client.getStatus('why', { showHistory: true }))?.history ?? [];
    const reasons = history.flatMap((e) => (e.type === 'ExecutionSuspended' || e.type === 'ExecutionResumed' ? [[e.type, e.reason]] : []));
    expect(reasons).toEqual([['ExecutionSuspended', long], ['ExecutionResumed', 'query'], ['ExecutionSuspended', undefined]]);
  });

  it('answers 404 for unknown and 410 for terminal instances', async () => {
    expect(await errorOf(call('/instances/nobody/suspend', { method: 'POST' }))).toEqual([404, 'instance-not-found']);
    expect(await errorOf(call('/instances/nobody/resume', { method: 'POST' }))).toEqual([404, 'instance-not-found']);
    await runtime.client.startNew('Echo', { instanceId: 'fin', input: 1 });
    await runtime.client.waitForCompletion('fin', SETTLED);
    expect(await errorOf(call('/instances/fin/suspend', { method: 'POST' }))).toEqual([410, 'instance-not-running']);
    expect(await errorOf(call('/instances/fin/resume', { method: 'POST' }))).toEqual([410, 'instance-not-running']);
  });
});

describe('POST /instances/{id}/cancel', () => {
  it('answers 202 and the orchestrator meets the cancel at its wait: Failed with CanceledError, the reason in the message', async () => {
    await runtime.client.startNew('WaitForEvents', { instanceId: 'c', input: 1 });
    await until('c', (st) => st?.runtimeStatus === 'Running');
    expect((await call('/instances/c/cancel?reason=stop', { method: 'POST' })).status).toBe(202);
    expect(await runtime.client.waitForCompletion('c', SETTLED)).toMatchObject({
      runtimeStatus: 'Failed', failureDetails: { errorType: 'CanceledError', errorMessage: 'Canceled: stop' },
    });
    // Durable Functions' body: a Failed instance's output is its error message.
    expect(await (await call('/instances/c')).json()).toMatchObject({ runtimeStatus: 'Failed', output: 'Canceled: stop' });
  });

  it('takes a JSON string body as the reason when there is no ?reason=', async () => {
    await runtime.client.startNew('WaitForEvents', { instanceId: 'cb', input: 1 });
    await until('cb', (st) => st?.runtimeStatus === 'Running');
    expect((await call('/instances/cb/cancel', { method: 'POST', json: 'from the body' })).status).toBe(202);
    expect((await runtime.client.waitForCompletion('cb', SETTLED)).failureDetails?.errorMessage).toBe('Canceled: from the body');
  });

  it('answers 404 for unknown and 410 for terminal instances', async () => {
    expect(await errorOf(call('/instances/nobody/cancel', { method: 'POST' }))).toEqual([404, 'instance-not-found']);
    await runtime.client.startNew('Echo', { instanceId: 'c-fin', input: 1 });
    await runtime.client.waitForCompletion('c-fin', SETTLED);
    expect(await errorOf(call('/instances/c-fin/cancel', { method: 'POST' }))).toEqual([410, 'instance-not-running']);
  });
});

describe('POST /instances/{id}/rewind', () => {
  it('answers 202 and reruns the failed activity of a Failed instance', async () => {
    await failedInstance('rw');
    flaky.fixed = true;
    expect((await call('/instances/rw/rewind?reason=fixed', { method: 'POST' })).status).toBe(202);
    // Read-your-writes: once the 202 is back, the status is no longer the old failure.
    expect((await runtime.client.getStatus('rw'))?.runtimeStatus).not.toBe('Failed');
    await until('rw', (s) => s?.runtimeStatus === 'Completed');
    expect((await runtime.client.getStatus('rw'))?.output).toBe(2);
  });

  it('answers 409 for an active instance, 410 for Completed or Terminated, 404 for unknown', async () => {
    await runtime.client.startNew('WaitForEvents', { instanceId: 'active', input: 1 });
    expect(await errorOf(call('/instances/active/rewind', { method: 'POST' }))).toEqual([409, 'instance-not-terminal']);
    await runtime.client.startNew('Echo', { instanceId: 'ok', input: 1 });
    await runtime.client.waitForCompletion('ok', SETTLED);
    expect(await errorOf(call('/instances/ok/rewind', { method: 'POST' }))).toEqual([410, 'instance-not-running']);
    expect(await errorOf(call('/instances/nobody/rewind', { method: 'POST' }))).toEqual([404, 'instance-not-found']);
  });

  it('answers 413 payload-too-large when the store refuses the rewritten history for good; the instance stays Failed', async () => {
    // A store that refuses a commit writing more than 20,000 characters of history, and an instance whose history is
    // longer (a chunk a step): its rewind rewrites all of it at once, and the worker records the rewind as refused.
    const store = new (class extends MemoryStore {
      override commit(writeSet: WriteSet) {
        const history = writeSet.requests.filter((r) => r.type === 'appendHistory' || r.type === 'replaceHistory');
        if (JSON.stringify(history).length <= 20_000) return super.commit(writeSet);
        return Promise.reject(new PayloadTooLargeError('the history exceeds what this store stores'));
      }
    })();
    ({ runtime, server, base } = await serving.open({
      store,
      orchestrators: { ...orchestrators, Chunks: function* (ctx) { for (let i = 0; i < 8; i++) yield ctx.callActivity('Chunk'); return yield ctx.callActivity('Flaky', 1); } },
      activities: { ...activities, Chunk: () => 'c'.repeat(4_000) },
    }));
    await runtime.client.startNew('Chunks', { instanceId: 'long' });
    const failed = await runtime.client.waitForCompletion('long', SETTLED);
    expect(failed.runtimeStatus).toBe('Failed');
    flaky.fixed = true;
    expect(await errorOf(call('/instances/long/rewind?reason=again', { method: 'POST' }))).toEqual([413, 'payload-too-large']);
    expect(await runtime.client.getStatus('long')).toMatchObject({ runtimeStatus: 'Failed', failureDetails: failed.failureDetails });
  });
});

describe('POST /instances/{id}/restart', () => {
  it('restarts a terminal instance under a new id by default: 202 check-status body for the new instance, Pending at once', async () => {
    await runtime.client.startNew('Echo', { instanceId: 'old', input: { n: 1 } });
    await runtime.client.waitForCompletion('old', SETTLED);
    const response = await call('/instances/old/restart', { method: 'POST' });
    expect(response.status).toBe(202);
    const body = (await response.json()) as { id: string; statusQueryGetUri: string };
    expect(body.id).not.toBe('old');
    expect(body).toEqual(createHttpManagementPayload(body.id, server.url));
    expect(response.headers.get('location')).toBe(body.statusQueryGetUri);
    expect(response.headers.get('retry-after')).toBe('10');
    expect(['Pending', 'Running', 'Completed']).toContain((await runtime.client.getStatus(body.id))?.runtimeStatus);
    expect((await runtime.client.waitForCompletion(body.id, SETTLED)).output).toEqual({ n: 1 });
  });

  it('restarts under the same id with restartWithNewInstanceId=false, and waits with ?timeout=', async () => {
    await runtime.client.startNew('Echo', { instanceId: 'same', input: 7 });
    await runtime.client.waitForCompletion('same', SETTLED);
    const response = await call('/instances/same/restart?restartWithNewInstanceId=false&timeout=30', { method: 'POST' });
    expect(response.status).toBe(200);
    expect(await response.json()).toBe(7);
    expect((await runtime.client.getStatusAll()).map((s) => s.instanceId)).toEqual(['same']);
  });

  it('answers 404 for an unknown instance, 409 for an active one and 400 for a bad flag', async () => {
    expect(await errorOf(call('/instances/nobody/restart', { method: 'POST' }))).toEqual([404, 'instance-not-found']);
    await runtime.client.startNew('WaitForEvents', { instanceId: 'busy', input: 1 });
    expect(await errorOf(call('/instances/busy/restart', { method: 'POST' }))).toEqual([409, 'instance-not-terminal']);
    expect(await errorOf(call('/instances/busy/restart?restartWithNewInstanceId=maybe', { method: 'POST' }))).toEqual([400, 'invalid-argument']);
    expect((await runtime.client.getStatusAll()).map((s) => s.instanceId)).toEqual(['busy']);
  });
});

describe('DELETE /instances/{id} and DELETE /instances', () => {
  it('purges a terminal instance (200 { instancesDeleted: 1 }), then answers 404', async () => {
    await runtime.client.startNew('Echo', { instanceId: 'p', input: 1 });
    await runtime.client.waitForCompletion('p', SETTLED);
    const response = await call('/instances/p', { method: 'DELETE' });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ instancesDeleted: 1 });
    expect(await runtime.client.getStatus('p')).toBeUndefined();
    expect(await errorOf(call('/instances/p', { method: 'DELETE' }))).toEqual([404, 'instance-not-found']);
  });

  it('purges the sub-orchestrations too with ?recursive=true (durable-rx\'s own), counting them; 409 while one is active', async () => {
    await runtime.client.startNew('ParentOfWaiting', { instanceId: 'ptree' });
    await until('ptree-child', (s) => s?.runtimeStatus === 'Running');
    await runtime.client.terminate('ptree', 'stop');
    expect(await errorOf(call('/instances/ptree?recursive=true', { method: 'DELETE' }))).toEqual([409, 'instance-not-terminal']);
    expect(await errorOf(call('/instances/ptree?recursive=1', { method: 'DELETE' }))).toEqual([400, 'invalid-argument']);
    await runtime.client.terminate('ptree-child', 'stop');
    const response = await call('/instances/ptree?recursive=true', { method: 'DELETE' });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ instancesDeleted: 2 });
    expect(await runtime.client.getStatus('ptree-child')).toBeUndefined();
  });

  it('refuses to purge an active instance (409) and keeps it', async () => {
    await runtime.client.startNew('WaitForEvents', { instanceId: 'active', input: 1 });
    expect(await errorOf(call('/instances/active', { method: 'DELETE' }))).toEqual([409, 'instance-not-terminal']);
    expect(await runtime.client.getStatus('active')).toBeDefined();
  });

  it('purges terminal instances by filter (200), answers 404 when none match and 400 without createdTimeFrom', async () => {
    const from = new Date(Date.now() - 60_000).toISOString();
    for (const id of ['a', 'b']) {
      await runtime.client.startNew('Echo', { instanceId: id, input: id });
      await runtime.client.waitForCompletion(id, SETTLED);
    }
    await runtime.client.startNew('WaitForEvents', { instanceId: 'c', input: 1 });
    expect(await errorOf(call(`/instances?createdTimeFrom=${from}&runtimeStatus=Failed`, { method: 'DELETE' }))).toEqual([404, 'instance-not-found']);
    expect(await errorOf(call('/instances?runtimeStatus=Completed', { method: 'DELETE' }))).toEqual([400, 'invalid-argument']);
    const response = await call(`/instances?createdTimeFrom=${from}&runtimeStatus=Completed,Failed,Terminated`, { method: 'DELETE' });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ instancesDeleted: 2 });
    expect((await runtime.client.getStatusAll()).map((s) => s.instanceId)).toEqual(['c']);
  });

  it('purges only terminal instances by filter, whatever runtimeStatus names: Running alone deletes nothing (404)', async () => {
    const from = new Date(Date.now() - 60_000).toISOString();
    await runtime.client.startNew('Echo', { instanceId: 'done', input: 1 });
    await runtime.client.waitForCompletion('done', SETTLED);
    await runtime.client.startNew('WaitForEvents', { instanceId: 'running', input: 1 });
    await until('running', (s) => s?.runtimeStatus === 'Running');
    expect(await errorOf(call(`/instances?createdTimeFrom=${from}&runtimeStatus=Running,Pending,Suspended`, { method: 'DELETE' })))
      .toEqual([404, 'instance-not-found']);
    const response = await call(`/instances?createdTimeFrom=${from}&runtimeStatus=Running,Completed`, { method: 'DELETE' });
    expect(await response.json()).toEqual({ instancesDeleted: 1 });
    expect(await runtime.client.getStatus('running', { showHistory: true })).toMatchObject({ runtimeStatus: 'Running', history: expect.any(Array) });
    expect((await runtime.client.getStatusAll()).map((s) => s.instanceId)).toEqual(['running']);
  });

  it('purges only terminal instances by a filter without runtimeStatus, where Azure Storage would purge every status', async () => {
    const from = new Date(Date.now() - 60_000).toISOString();
    await runtime.client.startNew('Echo', { instanceId: 'done', input: 1 });
    await runtime.client.waitForCompletion('done', SETTLED);
    await runtime.client.startNew('WaitForEvents', { instanceId: 'running', input: 1 });
    await until('running', (s) => s?.runtimeStatus === 'Running');
    const response = await call(`/instances?createdTimeFrom=${from}`, { method: 'DELETE' });
    expect(await response.json()).toEqual({ instancesDeleted: 1 });
    expect((await runtime.client.getStatusAll()).map((s) => s.instanceId)).toEqual(['running']);
  });
});

describe('POST /instances/terminate, /suspend, /resume, /cancel (commands by filter)', () => {
  const statuses = async (ids: readonly string[]) => Promise.all(ids.map(async (id) => (await runtime.client.getStatus(id))?.runtimeStatus));

  it('terminates the active instances the list filters match (200 with the counts), the reason in the URL or as a JSON body', async () => {
    for (const id of ['b-1', 'b-2', 'c-1']) await runtime.client.startNew('WaitForEvents', { instanceId: id, input: 1 });
    const response = await call('/instances/terminate?instanceIdPrefix=b-&name=WaitForEvents&reason=stop', { method: 'POST' });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ instancesAffected: 2, instancesSkipped: 0 });
    expect(await statuses(['b-1', 'b-2', 'c-1'])).toEqual(['Terminated', 'Terminated', expect.not.stringMatching('Terminated')]);
    expect((await runtime.client.getStatus('b-1'))?.output).toBe('stop');
    const byBody = await call('/Instances/Terminate/?instanceIdPrefix=c-', { method: 'POST', json: { why: 'cleanup' } });
    expect(await byBody.json()).toEqual({ instancesAffected: 1, instancesSkipped: 0 });
    expect((await runtime.client.getStatus('c-1'))?.output).toEqual({ why: 'cleanup' });
    // A status durable-rx never gives matches nothing.
    expect(await (await call('/instances/terminate?runtimeStatus=Canceled', { method: 'POST' })).json()).toEqual({ instancesAffected: 0, instancesSkipped: 0 });
  });

  it('pages with limit and x-ms-continuation-token, and suspends and resumes with a JSON string body as the reason', async () => {
    for (const id of ['s-1', 's-2', 's-3']) await runtime.client.startNew('WaitForEvents', { instanceId: id, input: 1 });
    const first = await (await call('/instances/suspend?instanceIdPrefix=s-&limit=2', { method: 'POST', json: 'maintenance' })).json() as { continuationToken: string };
    expect(first).toEqual({ instancesAffected: 2, instancesSkipped: 0, continuationToken: expect.any(String) });
    const rest = await call('/instances/suspend?instanceIdPrefix=s-&limit=2', { method: 'POST', headers: { 'x-ms-continuation-token': first.continuationToken } });
    expect(await rest.json()).toEqual({ instancesAffected: 1, instancesSkipped: 0 });
    expect(await statuses(['s-1', 's-2', 's-3'])).toEqual(['Suspended', 'Suspended', 'Suspended']);
    const history = (await runtime.client.getStatus('s-1', { showHistory: true }))?.history ?? [];
    expect(history.find((e) => e.type === 'ExecutionSuspended')).toMatchObject({ reason: 'maintenance' });
    expect(await (await call('/instances/resume?instanceIdPrefix=s-', { method: 'POST' })).json()).toEqual({ instancesAffected: 3, instancesSkipped: 0 });
    expect(await statuses(['s-1', 's-2', 's-3'])).not.toContain('Suspended');
  });

  it('answers a request whose signal aborted with the counts and a continuationToken, with which a next request goes on', async () => {
    // On some Node versions a request's signal aborts once its body is read, the client still waiting: the command
    // takes up no further instance then, and answers as a `limit` would, not with an error.
    const ids = Array.from({ length: 20 }, (_, i) => `ab-${String(i).padStart(2, '0')}`);
    for (const id of ids) await runtime.client.startNew('WaitForEvents', { instanceId: id, input: 1 });
    const handler = createHttpHandler(runtime.client, { key: KEY, logger: silentLogger });
    const cut = await handler(new Request(`${base}/instances/suspend?instanceIdPrefix=ab-`, {
      method: 'POST', headers: { authorization: `Bearer ${KEY}`, 'content-length': '0' }, signal: AbortSignal.abort(),
    }));
    expect(cut.status).toBe(200);
    const first = await cut.json() as { instancesAffected: number; instancesSkipped: number; continuationToken?: string };
    expect(first).toEqual({ instancesAffected: expect.any(Number), instancesSkipped: 0, continuationToken: expect.any(String) });
    expect(first.instancesAffected).toBeGreaterThan(0);
    expect(first.instancesAffected).toBeLessThan(ids.length);
    const rest = await call('/instances/suspend?instanceIdPrefix=ab-', { method: 'POST', headers: { 'x-ms-continuation-token': first.continuationToken! } });
    expect(await rest.json()).toEqual({ instancesAffected: ids.length - first.instancesAffected, instancesSkipped: 0 });
    expect(await statuses(ids)).toEqual(ids.map(() => 'Suspended'));
  });

  it('refuses a malformed or unknown parameter (400) before changing anything', async () => {
    await runtime.client.startNew('WaitForEvents', { instanceId: 'k-1', input: 1 });
    for (const query of [
      'instanceIdPrefx=k-', 'runtimeStatus=Bogus', 'createdTimeFrom=yesterday', 'limit=0', 'limit=1.5', 'showInput=false', 'top=5',
      'order=sideways', 'recursive=yes',
    ]) {
      expect(await errorOf(call(`/instances/terminate?instanceIdPrefix=k-&${query}`, { method: 'POST' })), query).toEqual([400, 'invalid-argument']);
    }
    expect(await errorOf(call('/instances/suspend?instanceIdPrefix=k-&recursive=true', { method: 'POST' }))).toEqual([400, 'invalid-argument']);
    expect(await errorOf(call('/instances/terminate?instanceIdPrefix=k-', { method: 'POST', headers: { 'x-ms-continuation-token': 'forged' } })))
      .toEqual([400, 'invalid-argument']);
    // Also where the filter matches nothing (a status durable-rx never gives) and no instance is listed.
    expect(await errorOf(call('/instances/terminate?runtimeStatus=Canceled', { method: 'POST', headers: { 'x-ms-continuation-token': 'forged' } })))
      .toEqual([400, 'invalid-argument']);
    expect(await errorOf(call('/instances/suspend?runtimeStatus=Canceled', { method: 'POST', json: '\ud800' }))).toEqual([400, 'invalid-argument']);
    expect((await runtime.client.getStatus('k-1'))?.runtimeStatus).not.toBe('Terminated');
  });

  it('refuses a command that names no filter (400, nothing changed): a command on the id . or %2e is resolved to it', async () => {
    const ids = ['n-1', 'n-2'];
    for (const id of ids) await runtime.client.startNew('WaitForEvents', { instanceId: id, input: 1 });
    for (const id of ids) await until(id, (s) => s?.runtimeStatus === 'Running');
    for (const command of ['terminate', 'suspend', 'resume', 'cancel']) {
      for (const path of [
        // What a client sends for a command on the id `.`: fetch (as any WHATWG URL parser) sends `/instances/{command}`.
        `/instances/./${command}?reason=oops`, `/instances/%2e/${command}?reason=oops`, `/instances/${command}`,
        // Neither paging, order, reason nor recursive narrows anything; an empty prefix or tags object matches every instance.
        `/instances/${command}?limit=5&order=asc&reason=x`, `/instances/${command}?instanceIdPrefix=`, `/instances/${command}?tags=%7B%7D`,
        `/instances/${command}?runtimeStatus=`,
      ]) {
        expect(await errorOf(call(path, { method: 'POST', json: 'why' })), path).toEqual([400, 'invalid-argument']);
      }
    }
    expect(await statuses(ids)).toEqual(['Running', 'Running']);
    // Every instance the command applies to, asked for by its statuses (what the remote client sends for terminateBy({})).
    expect(await (await call('/instances/suspend?runtimeStatus=Pending,Running', { method: 'POST' })).json()).toEqual({ instancesAffected: 2, instancesSkipped: 0 });
    expect(await statuses(ids)).toEqual(['Suspended', 'Suspended']);
  });

  it('leaves the routes of an instance named terminate as they were', async () => {
    await runtime.client.startNew('WaitForEvents', { instanceId: 'terminate', input: 1 });
    expect((await call('/instances/terminate')).status).toBe(202);
    expect((await call('/instances/terminate/terminate?reason=one', { method: 'POST' })).status).toBe(202);
    expect((await runtime.client.getStatus('terminate'))?.output).toBe('one');
  });
});

describe('every instance command in every state', () => {
  type State = 'Running' | 'Suspended' | 'Completed' | 'Failed' | 'Terminated' | 'unknown';

  /** A fresh instance `id` in `state` (nothing for `unknown`), so that every command meets it untouched. */
  async function instanceIn(state: State, id: string): Promise<void> {
    switch (state) {
      case 'unknown':
        return;
      case 'Completed':
        await runtime.client.startNew('Echo', { instanceId: id, input: 1 });
        break;
      case 'Failed':
        await runtime.client.startNew('CallsFlaky', { instanceId: id });
        break;
      default:
        await runtime.client.startNew('WaitForEvents', { instanceId: id, input: 1 });
        await until(id, (s) => s?.runtimeStatus === 'Running');
        if (state === 'Suspended') await runtime.client.suspend(id);
        if (state === 'Terminated') await runtime.client.terminate(id, 'stop');
    }
    await until(id, (s) => s?.runtimeStatus === state);
  }

  // The status each command answers in each state. Durable Functions' HttpApiHandler answers the same, except where
  // docs/http-api.md lists a difference (marked): it checks only "not found" and "completed, failed or terminated"
  // (410) before raising, terminating, suspending and resuming; a command on an active instance is 202 there, except
  // one its client refuses for the state (suspending a Suspended instance, resuming a Running one: 500), which is 202
  // here, changing nothing.
  const EXPECTED: Record<string, Record<State, number>> = {
    'POST raiseEvent/Item': { Running: 202, Suspended: 202, Completed: 410, Failed: 410, Terminated: 410, unknown: 404 },
    'POST terminate?reason=x': { Running: 202, Suspended: 202, Completed: 410, Failed: 410, Terminated: 410, unknown: 404 },
    // Difference: Durable Functions answers 500 for suspending a Suspended instance and resuming a Running one.
    'POST suspend?reason=x': { Running: 202, Suspended: 202, Completed: 410, Failed: 410, Terminated: 410, unknown: 404 },
    'POST resume?reason=x': { Running: 202, Suspended: 202, Completed: 410, Failed: 410, Terminated: 410, unknown: 404 },
    // Difference: Durable Functions answers 412 for any status but Failed (older versions: 410 for Completed or
    // Terminated, 500 for an active instance, whose rewind its client refused with InvalidOperationException).
    'POST rewind?reason=x': { Running: 409, Suspended: 409, Completed: 410, Failed: 202, Terminated: 410, unknown: 404 },
    'GET ': { Running: 202, Suspended: 202, Completed: 200, Failed: 200, Terminated: 200, unknown: 404 },
    // Difference: Durable Functions answers 412 for an instance that is not terminal.
    'DELETE ': { Running: 409, Suspended: 409, Completed: 200, Failed: 200, Terminated: 200, unknown: 404 },
  };

  it('answers each command in each state with the status the Durable Functions extension gives', async () => {
    const answered: Record<string, Record<State, number>> = {};
    let n = 0;
    for (const [command, expected] of Object.entries(EXPECTED)) {
      const [method, operation] = command.split(' ') as [string, string];
      answered[command] = {} as Record<State, number>;
      for (const state of Object.keys(expected) as State[]) {
        const id = `m${n++}`;
        await instanceIn(state, id);
        const response = await call(`/instances/${id}${operation ? `/${operation}` : ''}`, {
          method, ...(operation.startsWith('raiseEvent') ? { json: 'data' } : {}),
        });
        answered[command]![state] = response.status;
        await response.body?.cancel();
      }
    }
    expect(answered).toEqual(EXPECTED);
  });

  it('answers each command on a Pending instance (no worker has started it) as on a Running one', async () => {
    // Durable Functions answers a Pending instance as a Running one too: 202 (rewind, resume and purge differ, listed).
    const store = new MemoryStore();
    const client = createClient({ store });
    const alone = await serve(createHttpHandler(client, { key: KEY, logger: silentLogger }), { port: 0 });
    try {
      const answered: Record<string, number> = {};
      let n = 0;
      for (const command of Object.keys(EXPECTED)) {
        const [method, operation] = command.split(' ') as [string, string];
        const id = `p${n++}`;
        await client.startNew('Echo', { instanceId: id, input: 1 });
        const response = await fetch(`${alone.url}${WEBHOOK_PATH}/instances/${id}${operation ? `/${operation}` : ''}`, {
          method,
          headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
          ...(operation.startsWith('raiseEvent') ? { body: '"data"' } : {}),
        });
        answered[command] = response.status;
        await response.body?.cancel();
      }
      expect(answered).toEqual(Object.fromEntries(Object.entries(EXPECTED).map(([command, byState]) => [command, byState.Running])));
    } finally {
      await alone.close();
      await store.close();
    }
  });
});

describe('unknown routes and methods', () => {
  it('answers 404 for unknown routes and 405 with Allow for wrong methods', async () => {
    expect(await errorOf(call('/nothing/here'))).toEqual([404, 'not-found']);
    expect(await errorOf(fetch(`${server.url}/elsewhere`, { headers: { authorization: `Bearer ${KEY}` } }))).toEqual([404, 'not-found']);
    const put = await call('/instances/x', { method: 'PUT' });
    expect(put.status).toBe(405);
    expect(put.headers.get('allow')).toContain('GET');
    expect(put.headers.get('allow')).toContain('DELETE');
    expect(await put.json()).toMatchObject({ code: 'method-not-allowed' });
    expect(await errorOf(call('/orchestrators/Echo', { method: 'GET' }))).toEqual([405, 'method-not-allowed']);
    expect(await errorOf(call('/instances/x/terminate', { method: 'GET' }))).toEqual([405, 'method-not-allowed']);
  });
});

/** The status and error `code` of a response, checking that the body is `{ code, message, ExceptionMessage }` and nothing else. */
async function errorOf(pending: Promise<Response>): Promise<[number, string]> {
  const response = await pending;
  const body = (await response.json()) as Record<string, unknown>;
  expect(Object.keys(body).sort()).toEqual(['ExceptionMessage', 'code', 'message']);
  expect(body.ExceptionMessage).toBe(body.message);
  expect(response.headers.get('content-type')).toContain('application/json');
  return [response.status, body.code as string];
}
