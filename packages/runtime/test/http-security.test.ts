import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { BehaviorSubject, defer, filter, finalize, firstValueFrom, timeout } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import type { DurableClient } from '../src/client/durable-client.js';
import { WEBHOOK_PATH } from '../src/client/http-management-payload.js';
import type { Orchestrator } from '../src/engine/orchestration-context.js';
import { createHttpHandler, type HttpHandlerOptions } from '../src/http/create-http-handler.js';
import { KeyVerifier } from '../src/http/key-verifier.js';
import { serve, type NodeServer } from '../src/node/serve.js';
import { MemoryStore } from '../src/store/memory-store.js';
import { echo, sampleActivities, sampleOrchestrators } from '../src/testing/samples.js';
import { createRuntime, type Runtime } from '../src/runtime/create-runtime.js';
import type { Logger } from '../src/env/logger.js';
import { silentLogger } from '../src/env/logger.js';
import { SETTLED } from '../src/testing/settled.js';

/**
 * Bad and hostile requests: each gets the right status and a `{ code, message }` body, and changes nothing.
 */

const KEY = 'k3y-0123456789-abcdef';
const opened: { server: NodeServer; runtime: Runtime }[] = [];

afterEach(async () => {
  for (const { server, runtime } of opened.splice(0)) {
    await server.close();
    await runtime.stop();
  }
});

const orchestrators: Record<string, Orchestrator> = {
  ...sampleOrchestrators,
  Echo: echo,
  WaitForEvent: function* (ctx) {
    return yield ctx.waitForExternalEvent('Item');
  },
  Broken: function* (ctx) {
    yield ctx.callActivity('Explode');
  },
  // eslint-disable-next-line require-yield
  ThrowsObject: function* () {
    throw { message: 'orchestrator obj msg', stack: 'SECRET STACK at x.js:1' };
  },
  CallsObjectThrower: function* (ctx) {
    yield ctx.callActivity('ObjectThrower');
  },
};
const activities = {
  ...sampleActivities,
  Explode: () => {
    throw new Error('activity exploded');
  },
  ObjectThrower: () => {
    throw { message: 'activity obj msg', stack: 'SECRET STACK at y.js:2' };
  },
};

async function open(options: Partial<HttpHandlerOptions> = {}, wrap: (client: DurableClient) => DurableClient = (c) => c) {
  const runtime = createRuntime({ store: new MemoryStore(), orchestrators, activities, logger: silentLogger });
  await runtime.start();
  const handlerOptions = { logger: silentLogger, ...(options.anonymous ? {} : { key: KEY }), ...options } as HttpHandlerOptions;
  const server = await serve(createHttpHandler(wrap(runtime.client), handlerOptions), { port: 0 });
  opened.push({ server, runtime });
  const base = `${server.url}${WEBHOOK_PATH}`;
  return { runtime, server, base, client: runtime.client };
}

async function errorOf(pending: Promise<Response>): Promise<[number, string]> {
  const response = await pending;
  const text = await response.text();
  const body = JSON.parse(text) as Record<string, unknown>;
  expect(Object.keys(body).sort()).toEqual(['ExceptionMessage', 'code', 'message']);
  expect(body.ExceptionMessage).toBe(body.message);
  expect(text).not.toMatch(/\n\s+at /); // never a stack trace
  return [response.status, body.code as string];
}

describe('configuration', () => {
  it('requires a key unless anonymous access is configured explicitly', async () => {
    const { client } = await open();
    expect(() => createHttpHandler(client, {})).toThrow(/key is required/);
    expect(() => createHttpHandler(client, { key: '' })).toThrow(/key is required/);
    expect(() => createHttpHandler(client, { key: [] })).toThrow(/key is required/);
    expect(() => createHttpHandler(client, { key: 'x', anonymous: true })).toThrow(/not both/);
    expect(() => createHttpHandler(client, { key: 'x', maxBodyBytes: -1 })).toThrow(/maxBodyBytes/);
    // Sent as Retry-After and the SSE retry field (whole numbers only), or counted.
    for (const option of ['retryAfterSeconds', 'reconnectDelayMs', 'resumeBufferBytes', 'maxStreams']) {
      for (const value of [0.5, 1e21]) {
        expect(() => createHttpHandler(client, { key: 'x', [option]: value }), `${option}: ${value}`)
          .toThrow(expect.objectContaining({ code: 'invalid-argument', message: expect.stringContaining(`${option} must be a positive integer`) }));
      }
    }
    // The count of events resumeBufferBytes replaced is refused rather than ignored (the default would apply unseen).
    expect(() => createHttpHandler(client, { key: 'x', resumeBufferSize: 100 } as Parameters<typeof createHttpHandler>[1]))
      .toThrow(expect.objectContaining({ code: 'invalid-argument', message: expect.stringContaining('give resumeBufferBytes') }));
    // One timer each: a longer delay would fire at once (Node, browsers), a heartbeat in a loop.
    for (const option of ['heartbeatMs', 'resumeWindowMs']) {
      expect(() => createHttpHandler(client, { key: 'x', [option]: 2 ** 31 }), option)
        .toThrow(expect.objectContaining({ code: 'invalid-argument', message: `${option} must be at most 2147483647 ms (24.8 days)` }));
      expect(() => createHttpHandler(client, { key: 'x', [option]: 2 ** 31 - 1 }), option).not.toThrow();
    }
    // A baseUrl check-status URLs could not be built on is refused when the handler is made, not per request.
    expect(() => createHttpHandler(client, { key: 'x', baseUrl: 'durable.example.com' }))
      .toThrow(expect.objectContaining({ code: 'invalid-argument', status: 400 }));
  });

  it('refuses, when the handler is made, what would fail every request: no client, a clock or logger without its methods, a key no header carries', async () => {
    const { client } = await open();
    const invalid = { code: 'invalid-argument', status: 400 };
    for (const made of [
      () => createHttpHandler(null as never, { anonymous: true }),
      () => createHttpHandler({} as never, { anonymous: true }),
      () => createHttpHandler(client, { anonymous: true, clock: {} as never }),
      () => createHttpHandler(client, { anonymous: true, logger: 5 as never }),
      () => createHttpHandler(client, { key: 'a\n' }),
      () => createHttpHandler(client, { key: ['ok', 'ключ'] }),
    ]) {
      expect(made).toThrow(expect.objectContaining(invalid));
    }
  });

  it('serves without a key only with anonymous: true', async () => {
    const { base } = await open({ anonymous: true });
    expect((await fetch(`${base}/instances`)).status).toBe(200);
  });
});

describe('keys', () => {
  it('answers 401 with WWW-Authenticate without a key or with a wrong one, on every route, and starts nothing', async () => {
    const { base, client } = await open();
    const attempts: Record<string, string>[] = [{}, { authorization: 'Bearer wrong' }, { authorization: `Basic ${KEY}` }, { authorization: `Bearer ${KEY}x` }];
    for (const headers of attempts) {
      const response = await fetch(`${base}/orchestrators/Echo/x`, { method: 'POST', headers });
      expect(response.headers.get('www-authenticate')).toBe('Bearer');
      expect(await errorOf(Promise.resolve(response))).toEqual([401, 'unauthorized']);
    }
    expect(await errorOf(fetch(`${base}/orchestrators/Echo/x?code=${KEY.slice(0, -1)}`, { method: 'POST' }))).toEqual([401, 'unauthorized']);
    expect(await errorOf(fetch(`${base}/no/such/route`))).toEqual([401, 'unauthorized']);
    expect(await errorOf(fetch(`${base}/instances/x/stream`))).toEqual([401, 'unauthorized']);
    expect(await client.getStatusAll()).toEqual([]);
  });

  it('accepts the key as a Bearer token, an x-functions-key header or a code query parameter', async () => {
    const { base } = await open();
    expect((await fetch(`${base}/instances`, { headers: { authorization: `Bearer ${KEY}` } })).status).toBe(200);
    expect((await fetch(`${base}/instances`, { headers: { 'x-functions-key': KEY } })).status).toBe(200);
    expect((await fetch(`${base}/instances?code=${encodeURIComponent(KEY)}`)).status).toBe(200);
  });

  it('accepts a key with spaces in it however it is sent, Bearer included (what the remote client sends)', async () => {
    const key = 'a key with  spaces';
    const { base } = await open({ key });
    // Before, the Bearer token was read up to its first space: such a key got 401 from rx-client, which sends it so.
    expect((await fetch(`${base}/instances`, { headers: { authorization: `Bearer ${key}` } })).status).toBe(200);
    expect((await fetch(`${base}/instances`, { headers: { authorization: `bearer   ${key}  ` } })).status).toBe(200);
    expect((await fetch(`${base}/instances`, { headers: { 'x-functions-key': key } })).status).toBe(200);
    expect((await fetch(`${base}/instances?code=${encodeURIComponent(key)}`)).status).toBe(200);
    // Only the whole rest of the header is the key: a part of it, or more, is not.
    for (const authorization of ['Bearer a key', 'Bearer a key with spaces', `Bearer ${key} x`, `Bearer${key}`]) {
      expect(await errorOf(fetch(`${base}/instances`, { headers: { authorization } })), authorization).toEqual([401, 'unauthorized']);
    }
  });

  it('accepts the key beside an Authorization header meant for someone else, as the Functions host (which never reads it for keys)', async () => {
    const { base } = await open();
    // An App Service Authentication token, or Basic credentials for a proxy, with the key as x-functions-key or ?code=.
    for (const authorization of ['Bearer eyJhbGciOiJSUzI1NiJ9.easy-auth.token', 'Basic dXNlcjpwYXNz']) {
      expect((await fetch(`${base}/instances`, { headers: { authorization, 'x-functions-key': KEY } })).status, authorization).toBe(200);
      expect((await fetch(`${base}/instances?code=${encodeURIComponent(KEY)}`, { headers: { authorization } })).status, authorization).toBe(200);
      expect(await errorOf(fetch(`${base}/instances?code=wrong`, { headers: { authorization, 'x-functions-key': 'wrong' } })), authorization)
        .toEqual([401, 'unauthorized']);
    }
    // The key that came in the URL goes into the check-status URLs, as when it comes alone.
    const started = await fetch(`${base}/orchestrators/Echo/beside?code=${encodeURIComponent(KEY)}`, {
      method: 'POST', headers: { authorization: 'Bearer easy-auth-token' },
    });
    expect(started.status).toBe(202);
    expect(((await started.json()) as { statusQueryGetUri: string }).statusQueryGetUri).toMatch(/\/instances\/beside\?code=/);
  });

  it('accepts any of several keys (rotation)', async () => {
    const { base } = await open({ key: ['old-key', 'new-key'] });
    expect((await fetch(`${base}/instances?code=old-key`)).status).toBe(200);
    expect((await fetch(`${base}/instances?code=new-key`)).status).toBe(200);
    expect((await fetch(`${base}/instances?code=other-key`)).status).toBe(401);
  });

  it('compares keys by SHA-256 digest, whatever their lengths', async () => {
    const verifier = new KeyVerifier(['short', 'x'.repeat(10_000)]);
    expect(await verifier.verify('short')).toBe(true);
    expect(await verifier.verify('x'.repeat(10_000))).toBe(true);
    expect(await verifier.verify('shor')).toBe(false);
    expect(await verifier.verify('shortt')).toBe(false);
    expect(await verifier.verify('')).toBe(false);
    expect(await verifier.verify(undefined)).toBe(false);
  });
});

describe('bodies', () => {
  const headers = { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' };

  it('answers 413 for a body over maxBodyBytes, declared or streamed, and starts nothing', async () => {
    const { base, client } = await open({ maxBodyBytes: 1024 });
    const big = JSON.stringify({ data: 'x'.repeat(2000) });
    expect(await errorOf(fetch(`${base}/orchestrators/Echo/big`, { method: 'POST', headers, body: big }))).toEqual([413, 'payload-too-large']);
    const chunks = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < 4; i++) controller.enqueue(new TextEncoder().encode(i === 0 ? '{"data":"' : 'x'.repeat(500)));
        controller.close();
      },
    });
    const streamed = fetch(`${base}/orchestrators/Echo/big2`, { method: 'POST', headers, body: chunks, duplex: 'half' } as RequestInit);
    expect(await errorOf(streamed)).toEqual([413, 'payload-too-large']);
    await client.startNew('WaitForEvent', { instanceId: 'w' });
    expect(await errorOf(fetch(`${base}/instances/w/raiseEvent/Item`, { method: 'POST', headers, body: big }))).toEqual([413, 'payload-too-large']);
    expect((await client.getStatusAll()).map((s) => s.instanceId)).toEqual(['w']);
    expect((await client.getStatus('w', { showHistory: true }))?.history?.some((e) => e.type === 'EventRaised')).toBe(false);
  });

  it('answers 400 for malformed JSON and invalid UTF-8, whatever the declared type, and starts nothing', async () => {
    const { base, client } = await open();
    const auth = { authorization: `Bearer ${KEY}` };
    expect(await errorOf(fetch(`${base}/orchestrators/Echo/a`, { method: 'POST', headers, body: '{"a":' }))).toEqual([400, 'invalid-argument']);
    // Not JSON as RFC 8259 writes it, though Newtonsoft.Json reads some of it leniently (single quotes, unquoted names,
    // comments, NaN); a trailing comma, two values, `undefined`.
    for (const body of ["{'a':1}", '{a:1}', '{"a":1 /* c */}', '[NaN]', '[1,]', '{"a":1}{"b":2}', 'undefined']) {
      expect(await errorOf(fetch(`${base}/orchestrators/Echo/lenient`, { method: 'POST', headers, body })), body).toEqual([400, 'invalid-argument']);
    }
    expect(await errorOf(fetch(`${base}/orchestrators/Echo/b`, {
      method: 'POST', headers: { ...auth, 'content-type': 'text/plain' }, body: '{"a":',
    }))).toEqual([400, 'invalid-argument']);
    expect(await errorOf(fetch(`${base}/orchestrators/Echo/form`, {
      method: 'POST', headers: { ...auth, 'content-type': 'application/x-www-form-urlencoded' }, body: 'a=1&b=2',
    }))).toEqual([400, 'invalid-argument']);
    expect(await errorOf(fetch(`${base}/orchestrators/Echo/c`, {
      method: 'POST', headers: auth, body: new Uint8Array([0x7b, 0x7d, 0x7d]),
    }))).toEqual([400, 'invalid-argument']);
    expect(await errorOf(fetch(`${base}/orchestrators/Echo/d`, { method: 'POST', headers, body: new Uint8Array([0x22, 0xff, 0xfe, 0x22]) }))).toEqual([400, 'invalid-argument']);
    expect(await errorOf(fetch(`${base}/orchestrators/Echo/e`, {
      method: 'POST', headers: { ...auth, 'content-type': 'text/plain' }, body: new Uint8Array([0x22, 0xff, 0xfe, 0x22]),
    }))).toEqual([400, 'invalid-argument']);
    expect(await client.getStatusAll()).toEqual([]);
  });

  it('answers 400 for an integer a JavaScript number would round (Durable Functions keeps it exact), and starts or delivers nothing', async () => {
    const { base, client } = await open();
    for (const body of ['{"orderId":1234567890123456789}', '[9007199254740993]', '[-9007199254740993]', '[100000000000000000001]', `{"a":[1,{"b":${'9'.repeat(400)}}]}`]) {
      expect(await errorOf(fetch(`${base}/orchestrators/Echo/big`, { method: 'POST', headers, body })), body).toEqual([400, 'invalid-argument']);
    }
    await client.startNew('WaitForEvent', { instanceId: 'w' });
    const raised = fetch(`${base}/instances/w/raiseEvent/Item`, { method: 'POST', headers, body: '{"id":1234567890123456789}' });
    expect(await errorOf(raised)).toEqual([400, 'invalid-argument']);
    expect((await client.getStatusAll()).map((s) => s.instanceId)).toEqual(['w']);
    expect((await client.getStatus('w', { showHistory: true }))?.history?.some((e) => e.type === 'EventRaised')).toBe(false);
    // The safe range itself, fractions and exponents (doubles in Durable Functions too), and digits in strings are taken;
    // so is a literal that reads back as itself, as JSON.stringify writes a number beyond the safe range (2 ** 53,
    // 2 ** 60, 1e20), which the local client takes: it leaves as the same text; and one a double holds exactly (2^60's
    // own digits), which nothing rounds. 2^53+1 (9007199254740993), neither, is refused above.
    const taken = '{"max":9007199254740991,"min":-9007199254740991,"short":-123456789012345,"f":12345678901234567.5,'
      + '"e":1e21,"ef":1.2345678901234567e+30,"s":"1234567890123456789","q":"\\\"12345678901234567890",'
      + `"p53":${JSON.stringify(2 ** 53)},"n53":${JSON.stringify(-(2 ** 53))},"p60":${JSON.stringify(2 ** 60)},"e20":${JSON.stringify(1e20)},`
      + '"x60":1152921504606846976,"nx60":-1152921504606846976}';
    const started = await fetch(`${base}/orchestrators/Echo/taken`, { method: 'POST', headers, body: taken });
    expect(started.status).toBe(202);
    const output = (await client.waitForCompletion('taken', SETTLED)).output;
    expect(output).toEqual(JSON.parse(taken));
    expect(output).toMatchObject({ p53: 2 ** 53, n53: -(2 ** 53), p60: 2 ** 60, e20: 1e20, x60: 2 ** 60, nx60: -(2 ** 60) });
    const shown = await (await fetch(`${base}/instances/taken`, { headers })).text();
    expect(shown).toContain('"p60":1152921504606847000,"e20":100000000000000000000');
  });

  it('answers 400 (never 500) for JSON nested 100,000 levels deep, and starts or delivers nothing', async () => {
    const { base, client } = await open();
    const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
    expect(await errorOf(fetch(`${base}/orchestrators/Echo/deep`, { method: 'POST', headers, body: deep }))).toEqual([400, 'invalid-argument']);
    expect(await client.getStatusAll()).toEqual([]);
    await client.startNew('WaitForEvent', { instanceId: 'waits' });
    expect(await errorOf(fetch(`${base}/instances/waits/raiseEvent/Item`, { method: 'POST', headers, body: deep }))).toEqual([400, 'invalid-argument']);
    expect(await errorOf(fetch(`${base}/instances/waits/terminate`, { method: 'POST', headers, body: deep }))).toEqual([400, 'invalid-argument']);
    await client.raiseEvent('waits', 'Item', { $set: { 'a.b': 1 } });
    expect((await client.waitForCompletion('waits', SETTLED)).output).toEqual({ $set: { 'a.b': 1 } });
  });

  it('reads a body sent to suspend, resume, rewind or restart (which use none): a malformed one is 400 and changes nothing', async () => {
    const { base, client } = await open();
    const until = (id: string, runtimeStatus: string) =>
      firstValueFrom(client.status$(id).pipe(filter((s) => s?.runtimeStatus === runtimeStatus)));
    const post = (path: string, init: RequestInit) => fetch(`${base}${path}`, { method: 'POST', ...init });
    const text = { headers: { authorization: `Bearer ${KEY}`, 'content-type': 'text/plain' }, body: 'because' };
    const broken = { headers, body: '{"reason":' };
    await client.startNew('WaitForEvent', { instanceId: 'w' });
    await until('w', 'Running');
    expect(await errorOf(post('/instances/w/suspend', text))).toEqual([400, 'invalid-argument']);
    expect(await errorOf(post('/instances/w/suspend', broken))).toEqual([400, 'invalid-argument']);
    expect((await client.getStatus('w'))?.runtimeStatus).toBe('Running');
    await client.suspend('w');
    expect(await errorOf(post('/instances/w/resume', text))).toEqual([400, 'invalid-argument']);
    expect((await client.getStatus('w'))?.runtimeStatus).toBe('Suspended');
    await client.startNew('Broken', { instanceId: 'b' });
    await until('b', 'Failed');
    expect(await errorOf(post('/instances/b/rewind', broken))).toEqual([400, 'invalid-argument']);
    expect(await errorOf(post('/instances/b/restart', text))).toEqual([400, 'invalid-argument']);
    expect((await client.getStatus('b'))?.runtimeStatus).toBe('Failed');
    expect((await client.getStatusAll()).map((s) => s.instanceId).sort()).toEqual(['b', 'w']);
  });

  it('does not refuse an integer beyond the safe range in a body the route ignores (suspend, resume, rewind, restart, terminate with ?reason=): nothing would be altered', async () => {
    const { base, client } = await open();
    const until = (id: string, runtimeStatus: string) =>
      firstValueFrom(client.status$(id).pipe(filter((s) => s?.runtimeStatus === runtimeStatus)));
    const post = (path: string) => fetch(`${base}${path}`, { method: 'POST', headers, body: '{"id":1234567890123456789}' });
    const accepted = async (path: string) => {
      const response = await post(path);
      await response.body?.cancel();
      expect(response.status, path).toBe(202);
    };
    await client.startNew('WaitForEvent', { instanceId: 'w' });
    await until('w', 'Running');
    await accepted('/instances/w/suspend');
    await until('w', 'Suspended');
    await accepted('/instances/w/resume');
    await until('w', 'Running');
    // Without ?reason= the body is terminate's reason: still refused, the instance runs on.
    expect(await errorOf(post('/instances/w/terminate'))).toEqual([400, 'invalid-argument']);
    expect((await client.getStatus('w'))?.runtimeStatus).toBe('Running');
    await accepted('/instances/w/terminate?reason=stop');
    expect((await until('w', 'Terminated'))?.output).toBe('stop');
    await client.startNew('Broken', { instanceId: 'b' });
    await until('b', 'Failed');
    await accepted('/instances/b/rewind');
    // The rewind took effect: its event is in the instance's history (a wait that ends with the test's timeout).
    await firstValueFrom(client.history$('b').pipe(filter((event) => event.type === 'ExecutionRewound')));
    await accepted('/instances/w/restart?restartWithNewInstanceId=false');
    await until('w', 'Running');
  });

  it('accepts a whole body sent in chunks, without a Content-Length', async () => {
    const { base, client } = await open();
    const parts = ['{"city":', '"Tokyo"}'];
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        const part = parts.shift();
        if (part === undefined) controller.close();
        else controller.enqueue(new TextEncoder().encode(part));
      },
    });
    const response = await fetch(`${base}/orchestrators/Echo/chunked`, { method: 'POST', headers, body, duplex: 'half' } as RequestInit);
    expect(response.status).toBe(202);
    expect((await client.waitForCompletion('chunked', SETTLED)).output).toEqual({ city: 'Tokyo' });
  });

  it('accepts application/json with parameters and +json media types', async () => {
    const { base, client } = await open();
    const ok = await fetch(`${base}/orchestrators/Echo/e`, {
      method: 'POST', headers: { ...headers, 'content-type': 'application/vnd.api+json; charset=utf-8' }, body: '"x"',
    });
    expect(ok.status).toBe(202);
    expect((await client.waitForCompletion('e', SETTLED)).output).toBe('x');
    // Event data too (Durable Functions takes only application/json there: a difference the docs list).
    await client.startNew('WaitForEvent', { instanceId: 'w' });
    const raised = await fetch(`${base}/instances/w/raiseEvent/Item`, {
      method: 'POST', headers: { ...headers, 'content-type': 'application/merge-patch+json' }, body: '{"a":1}',
    });
    expect(raised.status).toBe(202);
    expect((await client.waitForCompletion('w', SETTLED)).output).toEqual({ a: 1 });
  });

  it('keeps __proto__ and constructor keys as plain data and pollutes nothing', async () => {
    const { base, client } = await open();
    const hostile = '{"__proto__":{"polluted":"yes"},"constructor":{"prototype":{"polluted":"yes"}},"a":1}';
    expect((await fetch(`${base}/orchestrators/Echo/proto?__proto__=x&constructor=y`, { method: 'POST', headers, body: hostile })).status).toBe(202);
    const done = await client.waitForCompletion('proto', SETTLED);
    expect(Object.keys(done.output as object)).toEqual(['__proto__', 'constructor', 'a']);
    expect(Object.getPrototypeOf(done.output)).toBe(Object.prototype);
    const served = await (await fetch(`${base}/instances/proto`, { headers })).text();
    expect(JSON.parse(served)).toMatchObject({ output: JSON.parse(hostile) as object });
    await client.startNew('WaitForEvent', { instanceId: 'ev' });
    expect((await fetch(`${base}/instances/ev/raiseEvent/Item`, { method: 'POST', headers, body: hostile })).status).toBe(202);
    expect((await client.waitForCompletion('ev', SETTLED)).output).toEqual(JSON.parse(hostile));
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    expect((Object.prototype as Record<string, unknown>)['polluted']).toBeUndefined();
  });
});

describe('bodies not declared JSON', () => {
  const auth = { authorization: `Bearer ${KEY}` };
  const evil = 'https://evil.example';

  it('reads a start\'s body as JSON whatever its declared type, as Durable Functions does (fetch with a string body, curl -d, none)', async () => {
    const { base, client } = await open();
    // What `fetch(url, { method: 'POST', body: JSON.stringify(input) })` sends.
    const text = await fetch(`${base}/orchestrators/Echo/text`, {
      method: 'POST', headers: { ...auth, 'content-type': 'text/plain;charset=UTF-8' }, body: '{"city":"Tokyo"}',
    });
    expect(text.status).toBe(202);
    // What `curl -d '{"a":1}'` sends without -H 'Content-Type: application/json'.
    const form = await fetch(`${base}/orchestrators/Echo/form`, {
      method: 'POST', headers: { ...auth, 'content-type': 'application/x-www-form-urlencoded' }, body: '{"a":1}',
    });
    expect(form.status).toBe(202);
    const none = await fetch(`${base}/orchestrators/Echo/none`, { method: 'POST', headers: auth, body: new Uint8Array([0x5b, 0x31, 0x5d]) });
    expect(none.status).toBe(202);
    expect((await client.waitForCompletion('text', SETTLED)).output).toEqual({ city: 'Tokyo' });
    expect((await client.waitForCompletion('form', SETTLED)).output).toEqual({ a: 1 });
    expect((await client.waitForCompletion('none', SETTLED)).output).toEqual([1]);
    // The same rules as a declared body: an integer a JavaScript number would round is refused, nothing started.
    expect(await errorOf(fetch(`${base}/orchestrators/Echo/big`, {
      method: 'POST', headers: { ...auth, 'content-type': 'text/plain' }, body: '{"orderId":1234567890123456789}',
    }))).toEqual([400, 'invalid-argument']);
    expect(await client.getStatus('big')).toBeUndefined();
  });

  it('reads a command\'s body whatever its declared type too (Durable Functions ignores it): a text/plain JSON body is taken', async () => {
    const { base, client } = await open();
    await client.startNew('WaitForEvent', { instanceId: 'w' });
    await firstValueFrom(client.status$('w').pipe(filter((s) => s?.runtimeStatus === 'Running')));
    const post = (path: string) =>
      fetch(`${base}${path}`, { method: 'POST', headers: { ...auth, 'content-type': 'text/plain' }, body: '"enough"' });
    const suspended = await post('/instances/w/suspend');
    expect(suspended.status).toBe(202);
    expect((await client.getStatus('w'))?.runtimeStatus).toBe('Suspended');
    const terminated = await post('/instances/w/terminate');
    expect(terminated.status).toBe(202);
    const done = await client.waitForCompletion('w', SETTLED);
    expect([done.runtimeStatus, done.output]).toEqual(['Terminated', 'enough']);
  });

  it('refuses a body not declared JSON from a page on another origin with 403 and does nothing (a browser\'s cross-site form post)', async () => {
    const { base, client } = await open();
    for (const [id, type] of [['text', 'text/plain'], ['form', 'application/x-www-form-urlencoded'], ['multi', 'multipart/form-data; boundary=x']] as const) {
      const refused = fetch(`${base}/orchestrators/Echo/${id}`, { method: 'POST', headers: { ...auth, origin: evil, 'content-type': type }, body: '{"a":1}' });
      expect(await errorOf(refused), type).toEqual([403, 'cross-origin-body']);
    }
    const untyped = fetch(`${base}/orchestrators/Echo/none`, { method: 'POST', headers: { ...auth, origin: evil }, body: new Uint8Array([0x31]) });
    expect(await errorOf(untyped)).toEqual([403, 'cross-origin-body']);
    // A sandboxed frame or a file: page sends the opaque origin "null".
    const opaque = fetch(`${base}/orchestrators/Echo/opaque`, { method: 'POST', headers: { ...auth, origin: 'null', 'content-type': 'text/plain' }, body: '1' });
    expect(await errorOf(opaque)).toEqual([403, 'cross-origin-body']);
    expect(await client.getStatusAll()).toEqual([]);
    await client.startNew('WaitForEvent', { instanceId: 'w' });
    await firstValueFrom(client.status$('w').pipe(filter((s) => s?.runtimeStatus === 'Running')));
    for (const command of ['terminate', 'suspend', 'terminate?reason=x']) {
      const refused = fetch(`${base}/instances/w/${command}`, { method: 'POST', headers: { ...auth, origin: evil, 'content-type': 'text/plain' }, body: '{}' });
      expect(await errorOf(refused), command).toEqual([403, 'cross-origin-body']);
    }
    expect((await client.getStatus('w'))?.runtimeStatus).toBe('Running');
    // What another origin may send anyway: a declared JSON body (only after a CORS preflight in a browser). Not an
    // empty body of another type: a form without fields acts as well as one with them (below).
    const declared = await fetch(`${base}/orchestrators/Echo/declared`, {
      method: 'POST', headers: { ...auth, origin: evil, 'content-type': 'application/json' }, body: '2',
    });
    expect(declared.status).toBe(202);
    const empty = fetch(`${base}/orchestrators/Echo/empty`, { method: 'POST', headers: { ...auth, origin: evil, 'content-type': 'text/plain' } });
    expect(await errorOf(empty)).toEqual([403, 'cross-origin-body']);
    expect((await client.getStatusAll()).map((s) => s.instanceId).sort()).toEqual(['declared', 'w']);
  });

  it('refuses an empty form post from another origin on every POST route of an anonymous handler, and changes nothing', async () => {
    // What `<form method=post action=...>` without fields sends from any page: no body, no CORS preflight.
    const { base, server, client } = await open({ anonymous: true, cors: { origins: ['https://app.example.com'] } });
    const formPost = (path: string, origin = evil) =>
      fetch(`${base}${path}`, { method: 'POST', headers: { origin, 'content-type': 'application/x-www-form-urlencoded' } });
    await client.startNew('Echo', { instanceId: 'done', input: 'kept' });
    expect((await client.waitForCompletion('done', SETTLED)).output).toBe('kept');
    await client.startNew('WaitForEvent', { instanceId: 'w' });
    await client.startNew('WaitForEvent', { instanceId: 's' });
    for (const id of ['w', 's']) await firstValueFrom(client.status$(id).pipe(filter((s) => s?.runtimeStatus === 'Running')));
    await client.suspend('s');
    const paths = [
      '/orchestrators/Echo/fresh', '/orchestrators/Echo', '/orchestrators/Echo/done', '/instances/done/restart',
      '/instances/done/restart?restartWithNewInstanceId=false', '/instances/done/rewind', '/instances/w/suspend',
      '/instances/s/resume', '/instances/w/terminate?reason=x', '/instances/w/terminate', '/instances/w/raiseEvent/Item',
      '/streams/no-such-session/subscriptions',
    ];
    for (const path of paths) expect(await errorOf(formPost(path)), path).toEqual([403, 'cross-origin-body']);
    // An opaque origin (a sandboxed frame, a file: page) is another origin too.
    expect(await errorOf(formPost('/instances/w/raiseEvent/Item', 'null'))).toEqual([403, 'cross-origin-body']);
    const done = await client.getStatus('done');
    expect([done?.runtimeStatus, done?.output]).toEqual(['Completed', 'kept']);
    expect((await client.getStatus('w'))?.runtimeStatus).toBe('Running');
    expect((await client.getStatus('s'))?.runtimeStatus).toBe('Suspended');
    expect((await client.getStatus('w', { showHistory: true }))?.history?.some((e) => e.type === 'EventRaised')).toBe(false);
    expect((await client.getStatusAll()).map((s) => s.instanceId).sort()).toEqual(['done', 's', 'w']);
    // The handler's own origin and its cors origins post so, and act.
    expect((await formPost('/instances/s/resume', server.url)).status).toBe(202);
    expect((await client.getStatus('s'))?.runtimeStatus).toBe('Running');
    expect((await formPost('/instances/w/raiseEvent/Item', 'https://app.example.com')).status).toBe(202);
    expect((await client.waitForCompletion('w', SETTLED)).runtimeStatus).toBe('Completed');
    // So does a caller that names no origin (curl -X POST, a server).
    const curl = await fetch(`${base}/instances/s/terminate?reason=x`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(curl.status).toBe(202);
    expect((await client.waitForCompletion('s', SETTLED)).runtimeStatus).toBe('Terminated');
  });

  it('reads a body not declared JSON from the handler\'s own origin and from an origin its cors option allows', async () => {
    const { base, server, client } = await open({ cors: { origins: ['https://app.example.com'] } });
    const same = await fetch(`${base}/orchestrators/Echo/same`, {
      method: 'POST', headers: { ...auth, origin: server.url, 'content-type': 'text/plain' }, body: '"same"',
    });
    expect(same.status).toBe(202);
    const allowed = await fetch(`${base}/orchestrators/Echo/allowed`, {
      method: 'POST', headers: { ...auth, origin: 'https://app.example.com', 'content-type': 'text/plain' }, body: '"allowed"',
    });
    expect(allowed.status).toBe(202);
    expect(allowed.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
    expect((await client.waitForCompletion('same', SETTLED)).output).toBe('same');
    expect((await client.waitForCompletion('allowed', SETTLED)).output).toBe('allowed');
    const other = fetch(`${base}/orchestrators/Echo/other`, {
      method: 'POST', headers: { ...auth, origin: 'https://other.example.com', 'content-type': 'text/plain' }, body: '"other"',
    });
    expect(await errorOf(other)).toEqual([403, 'cross-origin-body']);
    expect(await client.getStatus('other')).toBeUndefined();
  });

  it('serves a form post its browser marks Sec-Fetch-Site: same-origin, which sends Origin: null under Referrer-Policy: no-referrer', async () => {
    const { base, client } = await open();
    await client.startNew('WaitForEvent', { instanceId: 'w' });
    await firstValueFrom(client.status$('w').pipe(filter((s) => s?.runtimeStatus === 'Running')));
    const formPost = (path: string, site: string, body?: string) => fetch(`${base}${path}`, {
      method: 'POST',
      headers: { ...auth, origin: 'null', 'sec-fetch-site': site, 'content-type': 'text/plain' },
      ...(body === undefined ? {} : { body }),
    });
    // A page a browser calls same-site (a sibling subdomain) or cross-site is not the handler's own.
    for (const site of ['same-site', 'cross-site', 'none']) {
      expect(await errorOf(formPost('/orchestrators/Echo/other', site, '"other"')), site).toEqual([403, 'cross-origin-body']);
      expect(await errorOf(formPost('/instances/w/suspend', site)), site).toEqual([403, 'cross-origin-body']);
    }
    expect(await client.getStatus('other')).toBeUndefined();
    expect((await client.getStatus('w'))?.runtimeStatus).toBe('Running');
    expect((await formPost('/orchestrators/Echo/own', 'same-origin', '"own"')).status).toBe(202);
    expect((await client.waitForCompletion('own', SETTLED)).output).toBe('own');
    expect((await formPost('/instances/w/suspend', 'same-origin')).status).toBe(202);
    expect((await client.getStatus('w'))?.runtimeStatus).toBe('Suspended');
  });

  it('refuses at creation a cors option whose origins are not an array of origins as a browser sends them', () => {
    const client = createRuntime({ store: new MemoryStore(), orchestrators, activities, logger: silentLogger }).client;
    const refused = expect.objectContaining({ code: 'invalid-argument', status: 400 });
    // A string would trust its substrings (`https://app.example.co`); the others would match no request.
    const bad: unknown[] = [
      'https://app.example.com', undefined, null, [42], [''], ['null'], ['https://app.example.com/'], ['https://App.example.com'],
      ['https://app.example.com/api'], ['app.example.com'], ['https://例え.jp'], ['file:///tmp/x'], ['file://host'],
      ['tauri://localhost/'], ['tauri://LOCALHOST'],
      ['https://app.example.com', 'https://other.example.com/'],
    ];
    for (const origins of bad) {
      const cors = { origins } as unknown as { origins: string[] };
      expect(() => createHttpHandler(client, { anonymous: true, cors }), JSON.stringify(origins)).toThrow(refused);
    }
    expect(() => createHttpHandler(client, { anonymous: true, cors: 'https://app.example.com' as never })).toThrow(refused);
    for (const origins of [[], ['https://app.example.com', 'http://localhost:5173', 'https://xn--r8jz45g.jp', 'tauri://localhost']]) {
      expect(() => createHttpHandler(client, { anonymous: true, cors: { origins } })).not.toThrow();
    }
  });

  it('takes the handler\'s own origin from baseUrl when one is set, as the URLs it answers with', async () => {
    const { client } = await open();
    const handler = createHttpHandler(client, { key: KEY, logger: silentLogger, baseUrl: 'https://public.example/api' });
    // Behind a proxy the request arrives on an inner address; the page that is the API's own is on the public one.
    const start = (id: string, origin: string) => handler(new Request(`http://10.0.0.7:7071${WEBHOOK_PATH}/orchestrators/Echo/${id}`, {
      method: 'POST', headers: { ...auth, origin, 'content-type': 'text/plain' }, body: `"${id}"`,
    }));
    const own = await start('own', 'https://public.example');
    expect(own.status).toBe(202);
    expect((await client.waitForCompletion('own', SETTLED)).output).toBe('own');
    expect(await errorOf(start('inner', 'http://10.0.0.7:7071'))).toEqual([403, 'cross-origin-body']);
    expect(await client.getStatus('inner')).toBeUndefined();
  });

  it('never reads request.mode on a server: a POST that reads as a navigation (Bun before 2026) or whose mode throws (older Cloudflare Workers) is served', async () => {
    const { client } = await open();
    const handler = createHttpHandler(client, { anonymous: true, logger: silentLogger });
    // Bun reported every request as mode 'navigate' (oven-sh/bun#26099), Bun.serve's too; old workerd threw on reading it.
    const post = (id: string, type: string, mode: PropertyDescriptor) => {
      const request = new Request(`http://127.0.0.1:7071${WEBHOOK_PATH}/orchestrators/Echo/${id}`, {
        method: 'POST', headers: { 'content-type': type }, body: JSON.stringify(id),
      });
      Object.defineProperty(request, 'mode', mode);
      return handler(request);
    };
    const modeThrows = { get: () => { throw new TypeError('mode is not implemented'); } };
    expect((await post('nav-json', 'application/json', { value: 'navigate' })).status).toBe(202);
    expect((await post('nav-text', 'text/plain', { value: 'navigate' })).status).toBe(202);
    expect((await post('throws', 'text/plain', modeThrows)).status).toBe(202);
    for (const id of ['nav-json', 'nav-text', 'throws']) expect((await client.waitForCompletion(id, SETTLED)).output).toBe(id);
  });

  it('in a browser (a Service Worker, where another site\'s form post arrives without Origin) refuses every POST not declared JSON, whatever its origin, and does nothing', async () => {
    const { client } = await open();
    await client.startNew('WaitForEvent', { instanceId: 'w' });
    await firstValueFrom(client.status$('w').pipe(filter((s) => s?.runtimeStatus === 'Running')));
    // A Service Worker's global, as the handler sees it when created: WorkerGlobalScope with importScripts.
    const handler = createdWith(client, { WorkerGlobalScope: class WorkerGlobalScope {}, importScripts: () => undefined }, { process: undefined });
    const post = (path: string, headers: Record<string, string>, body?: string) => handler(new Request(
      `http://127.0.0.1:7071${WEBHOOK_PATH}${path}`, { method: 'POST', headers, ...(body === undefined ? {} : { body }) },
    ));
    // What `<form method=post enctype=text/plain>` with a field named `{"a":1,"b":"` and the value `"}` sends: in a
    // Service Worker's FetchEvent, without Origin (and glue code that rebuilds the request loses its navigate mode).
    const form = { 'content-type': 'text/plain' };
    expect(await errorOf(post('/orchestrators/Echo/form', form, '{"a":1,"b":"="}'))).toEqual([403, 'cross-origin-body']);
    expect(await errorOf(post('/orchestrators/Echo/own', { ...form, origin: 'http://127.0.0.1:7071' }, '"own"')))
      .toEqual([403, 'cross-origin-body']);
    for (const path of ['/instances/w/suspend', '/instances/w/terminate?reason=x', '/instances/w/raiseEvent/Item']) {
      expect(await errorOf(post(path, form)), path).toEqual([403, 'cross-origin-body']);
    }
    expect(await client.getStatus('form')).toBeUndefined();
    expect(await client.getStatus('own')).toBeUndefined();
    expect((await client.getStatus('w'))?.runtimeStatus).toBe('Running');
    expect((await client.getStatus('w', { showHistory: true }))?.history?.some((e) => e.type === 'EventRaised')).toBe(false);
    // Declared JSON (what rx-client sends; another site's page sends it only after a CORS preflight) is served.
    const json = { 'content-type': 'application/json' };
    expect((await post('/orchestrators/Echo/api', json, '"api"')).status).toBe(202);
    expect((await client.waitForCompletion('api', SETTLED)).output).toBe('api');
    expect((await post('/instances/w/terminate?reason=x', json)).status).toBe(202);
    expect((await client.waitForCompletion('w', SETTLED)).runtimeStatus).toBe('Terminated');
  });

  it('tells a browser host by its globals at creation: a page\'s document counts, a worker scope without importScripts (Cloudflare Workers) does not, nor a Node process with a DOM on its global (jsdom, happy-dom)', async () => {
    const { client } = await open();
    const textStart = (handler: ReturnType<typeof createHttpHandler>, id: string) => handler(new Request(
      `http://127.0.0.1:7071${WEBHOOK_PATH}/orchestrators/Echo/${id}`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: JSON.stringify(id) },
    ));
    const page = createdWith(client, { document: {} }, { process: undefined });
    expect(await errorOf(textStart(page, 'page'))).toEqual([403, 'cross-origin-body']);
    expect(await client.getStatus('page')).toBeUndefined();
    for (const [id, handler] of [
      ['workerd', createdWith(client, { WorkerGlobalScope: class WorkerGlobalScope {} }, { process: undefined })],
      ['jsdom', createdWith(client, { document: {} })],
    ] as const) {
      expect((await textStart(handler, id)).status, id).toBe(202);
      expect((await client.waitForCompletion(id, SETTLED)).output).toBe(id);
    }
  });

  it('takes a POST without Origin that a browser marks Sec-Fetch-Site cross-site or same-site for the browser\'s, and refuses it', async () => {
    const { client } = await open();
    const handler = createHttpHandler(client, { anonymous: true, logger: silentLogger });
    const start = (id: string, site: string) => handler(new Request(`http://127.0.0.1:7071${WEBHOOK_PATH}/orchestrators/Echo/${id}`, {
      method: 'POST', headers: { 'content-type': 'text/plain', 'sec-fetch-site': site }, body: JSON.stringify(id),
    }));
    for (const site of ['cross-site', 'same-site']) {
      expect(await errorOf(start(site, site)), site).toEqual([403, 'cross-origin-body']);
      expect(await client.getStatus(site)).toBeUndefined();
    }
    for (const site of ['same-origin', 'none']) {
      expect((await start(site, site)).status, site).toBe(202);
      expect((await client.waitForCompletion(site, SETTLED)).output).toBe(site);
    }
  });

  it('keeps an event\'s data to declared JSON, as Durable Functions does: text/plain is 400 and delivers nothing', async () => {
    const { base, server, client } = await open();
    await client.startNew('WaitForEvent', { instanceId: 'w' });
    for (const extra of [{}, { origin: server.url }] as Record<string, string>[]) {
      const raised = fetch(`${base}/instances/w/raiseEvent/Item`, { method: 'POST', headers: { ...auth, ...extra, 'content-type': 'text/plain' }, body: '"x"' });
      expect(await errorOf(raised)).toEqual([400, 'invalid-argument']);
      const untyped = fetch(`${base}/instances/w/raiseEvent/Item`, { method: 'POST', headers: { ...auth, ...extra }, body: new Uint8Array([0x31]) });
      expect(await errorOf(untyped)).toEqual([400, 'invalid-argument']);
    }
    expect((await client.getStatus('w', { showHistory: true }))?.history?.some((e) => e.type === 'EventRaised')).toBe(false);
  });
});

describe('bodies that never arrive whole', () => {
  const reported: unknown[] = [];
  const logger: Logger = { warn: () => {}, error: (_message, details) => reported.push(details) };

  it.each([
    ['a Content-Length', 'Content-Length: 100\r\n\r\n{"a":'],
    ['chunked encoding', 'Transfer-Encoding: chunked\r\n\r\n5\r\n{"a":\r\n'],
    ['a Content-Length, before any byte of it', 'Content-Length: 100\r\n\r\n'],
    ['chunked encoding, before any chunk', 'Transfer-Encoding: chunked\r\n\r\n'],
  ])('answer a client that cuts the connection mid-body (%s) with a typed 400, log nothing and start nothing', async (_framing, rest) => {
    reported.length = 0;
    const runtime = createRuntime({ store: new MemoryStore(), orchestrators, activities, logger: silentLogger });
    await runtime.start();
    const handler = createHttpHandler(runtime.client, { key: KEY, logger });
    let arrived!: () => void;
    let left!: () => void;
    let answered!: (response: Response) => void;
    const arrival = new Promise<void>((resolve) => { arrived = resolve; });
    const departure = new Promise<void>((resolve) => { left = resolve; });
    const answer = new Promise<Response>((resolve) => { answered = resolve; });
    const server = await serve(Object.assign(async (request: Request) => {
      arrived();
      await departure; // the body is read only after the client left
      const response = await handler(request);
      answered(response.clone()); // the server sends the original
      return response;
    }, { close: handler.close }), { port: 0 });
    opened.push({ server, runtime });
    server.server.once('connection', (accepted: Socket) => accepted.once('close', left));
    const socket = connect(server.port, '127.0.0.1');
    await once(socket, 'connect');
    socket.write(`POST ${WEBHOOK_PATH}/orchestrators/Echo/cut HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${KEY}\r\n`
      + `Content-Type: application/json\r\n${rest}`);
    await arrival;
    socket.destroy(); // the rest of the body never comes
    const response = await answer;
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ code: 'invalid-argument' });
    expect(reported).toEqual([]);
    expect(await runtime.client.getStatusAll()).toEqual([]);
  });

  it('answer a body stream that fails with a typed 400 on every route that reads a body, and log nothing', async () => {
    reported.length = 0;
    const { runtime } = await open();
    await runtime.client.startNew('WaitForEvent', { instanceId: 'w' });
    // Running (its first step is the worker's), so what the refused requests leave is known.
    await firstValueFrom(runtime.client.status$('w').pipe(filter((s) => s?.runtimeStatus === 'Running')));
    const handler = createHttpHandler(runtime.client, { key: KEY, logger });
    for (const path of ['/orchestrators/Echo/failing', '/instances/w/raiseEvent/Item', '/instances/w/terminate', '/instances/w/suspend']) {
      let sent = false;
      const body = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (sent) controller.error(new TypeError('terminated'));
          else controller.enqueue(new TextEncoder().encode('{"a":'));
          sent = true;
        },
      });
      const response = await handler(new Request(`http://127.0.0.1${WEBHOOK_PATH}${path}`, {
        method: 'POST', headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' }, body, duplex: 'half',
      } as RequestInit));
      expect(response.status, path).toBe(400);
      expect(await response.json(), path).toMatchObject({ code: 'invalid-argument' });
    }
    expect(reported).toEqual([]);
    expect((await runtime.client.getStatusAll()).map((s) => [s.instanceId, s.runtimeStatus])).toEqual([['w', 'Running']]);
    expect((await runtime.client.getStatus('w', { showHistory: true }))?.history?.some((e) => e.type === 'EventRaised')).toBe(false);
  });
});

describe('hostile ids and names', () => {
  const headers = { authorization: `Bearer ${KEY}` };

  it.each([
    ['an encoded traversal', '..%2F..%2Fetc%2Fpasswd'],
    ['an encoded backslash traversal', '..%5C..%5Cwindows'],
    ['a NUL character', 'a%00b'],
    ['a newline', 'a%0Ab'],
    ['a DEL character', 'a%7Fb'],
    ['an encoded question mark', 'a%3Fb'],
    ['an encoded hash', 'a%23b'],
    ['a leading @', '%40entity'],
    ['an overlong id', 'x'.repeat(257)],
  ])('answers 400 for an instance id with %s, on every route, and changes nothing', async (_what, segment) => {
    const { base, client } = await open();
    await client.startNew('Echo', { instanceId: 'keep', input: 1 });
    await client.waitForCompletion('keep', SETTLED);
    const requests: [string, string][] = [
      ['POST', `/orchestrators/Echo/${segment}`],
      ['GET', `/instances/${segment}`],
      ['GET', `/instances/${segment}/stream`],
      ['GET', `/instances/${segment}/history/stream`],
      ['POST', `/instances/${segment}/raiseEvent/Item`],
      ['POST', `/instances/${segment}/terminate`],
      ['POST', `/instances/${segment}/suspend`],
      ['POST', `/instances/${segment}/resume`],
      ['POST', `/instances/${segment}/rewind`],
      ['DELETE', `/instances/${segment}`],
    ];
    for (const [method, path] of requests) {
      expect([method, path, await errorOf(fetch(`${base}${path}`, { method, headers }))]).toEqual([method, path, [400, 'invalid-argument']]);
    }
    expect((await client.getStatusAll()).map((s) => s.instanceId)).toEqual(['keep']);
  });

  it('never resolves dot segments to another route or instance', async () => {
    const { base, client } = await open();
    await client.startNew('Echo', { instanceId: 'keep', input: 1 });
    await client.waitForCompletion('keep', SETTLED);
    for (const path of ['/instances/%2E%2E', '/instances/..', '/instances/keep/..', '/instances/%2e%2e/keep']) {
      const response = await fetch(`${base}${path}`, { method: 'DELETE', headers });
      expect([path, response.status]).not.toEqual([path, 200]);
      await response.body?.cancel();
    }
    expect((await client.getStatusAll()).map((s) => s.instanceId)).toEqual(['keep']);
  });

  it('answers 400 for orchestrator and event names with control characters', async () => {
    const { base, client } = await open();
    expect(await errorOf(fetch(`${base}/orchestrators/E1%00x`, { method: 'POST', headers }))).toEqual([400, 'invalid-argument']);
    await client.startNew('WaitForEvent', { instanceId: 'w' });
    expect(await errorOf(fetch(`${base}/instances/w/raiseEvent/a%0Db`, { method: 'POST', headers }))).toEqual([400, 'invalid-argument']);
    expect((await client.getStatusAll()).map((s) => s.instanceId)).toEqual(['w']);
  });
});

describe('failures', () => {
  it('answers an unexpected error with a generic 500 that reveals nothing, and reports it to the logger', async () => {
    const reported: unknown[] = [];
    const logger: Logger = { warn: () => {}, error: (_message, details) => reported.push(details) };
    const { base } = await open({ logger }, (client) => new Proxy(client, {
      get(target, property, receiver) {
        if (property === 'getStatus') return () => Promise.reject(new Error('secret database password in /srv/app/db.ts'));
        return Reflect.get(target, property, receiver) as unknown;
      },
    }));
    const response = await fetch(`${base}/instances/x`, { headers: { authorization: `Bearer ${KEY}` } });
    const text = await response.text();
    expect(response.status).toBe(500);
    expect(JSON.parse(text)).toEqual({ code: 'internal', message: 'Internal server error', ExceptionMessage: 'Internal server error' });
    expect(text).not.toContain('secret');
    expect(reported).toHaveLength(1);
  });

  it('still answers 500 when its logger throws: the handler that reports a failure never rejects', async () => {
    const { runtime } = await open();
    const report = (): never => {
      throw new Error('the log stream is closed');
    };
    const failing = new Proxy(runtime.client, {
      get(target, property, receiver) {
        if (property === 'getStatus') return () => Promise.reject(new Error('store unreachable'));
        return Reflect.get(target, property, receiver) as unknown;
      },
    });
    const handler = createHttpHandler(failing, { key: KEY, logger: { warn: report, error: report } });
    const response = await handler(new Request(`http://127.0.0.1${WEBHOOK_PATH}/instances/x`, { headers: { authorization: `Bearer ${KEY}` } }));
    expect(response.status).toBe(500);
    expect(await response.json()).toEqual({ code: 'internal', message: 'Internal server error', ExceptionMessage: 'Internal server error' });
  });
});

describe('CORS', () => {
  it('answers preflights for allowed origins without a key and exposes the paging header', async () => {
    const { base } = await open({ cors: { origins: ['https://app.example.com'] } });
    const preflight = await fetch(`${base}/instances`, {
      method: 'OPTIONS',
      headers: { origin: 'https://app.example.com', 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
    expect(preflight.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('authorization');
    const list = await fetch(`${base}/instances`, { headers: { origin: 'https://app.example.com', authorization: `Bearer ${KEY}` } });
    expect(list.headers.get('access-control-expose-headers')).toContain('x-ms-continuation-token');
    const other = await fetch(`${base}/instances`, { headers: { origin: 'https://evil.example.com', authorization: `Bearer ${KEY}` } });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
    expect((await fetch(`${base}/instances`, { headers: { origin: 'https://app.example.com' } })).status).toBe(401);
  });

  it('allows the trace context headers in a preflight: a page whose fetch calls carry traceparent and tracestate is not blocked', async () => {
    // OpenTelemetry's fetch instrumentation adds both to every request; Durable Functions' HTTP API reads them.
    const { base } = await open({ cors: { origins: ['https://app.example.com'] } });
    const requested = ['authorization', 'content-type', 'traceparent', 'tracestate'];
    const preflight = await fetch(`${base}/instances/x/terminate`, {
      method: 'OPTIONS',
      headers: { origin: 'https://app.example.com', 'access-control-request-method': 'POST', 'access-control-request-headers': requested.join(',') },
    });
    expect(preflight.status).toBe(204);
    const allowed = (preflight.headers.get('access-control-allow-headers') ?? '').toLowerCase().split(',').map((h) => h.trim());
    for (const header of requested) expect(allowed, header).toContain(header);
  });
});

describe('failure details', () => {
  it('sends no stack traces of failed orchestrations or activities unless exposeStackTraces is set', async () => {
    for (const exposeStackTraces of [false, true]) {
      const { base, client } = await open({ exposeStackTraces });
      const id = await client.startNew('Broken');
      const done = await client.waitForCompletion(id, SETTLED);
      expect(done.failureDetails?.stackTrace).toMatch(/\n\s+at /); // the runtime keeps it ...
      const response = await fetch(`${base}/instances/${id}?showHistory=true&showHistoryOutput=true&code=${KEY}`);
      const text = await response.text();
      const body = JSON.parse(text) as { runtimeStatus: string; failureDetails: { errorMessage: string } };
      expect(body.runtimeStatus).toBe('Failed');
      expect(body.failureDetails.errorMessage).toContain('activity exploded');
      // ... the wire shows it only when asked to, on every route and stream
      const texts = [
        text,
        await (await fetch(`${base}/instances?code=${KEY}`)).text(),
        await streamUntil(`${base}/instances/${id}/history/stream?code=${KEY}`, '"ExecutionCompleted"'),
        await streamUntil(`${base}/instances/${id}/stream?code=${KEY}`, '"Failed"'),
        await streamUntil(`${base}/streams/instances?code=${KEY}`, '"Failed"'),
      ];
      for (const sent of texts) {
        expect(sent).toContain('activity exploded');
        if (exposeStackTraces) expect(sent).toMatch(/stackTrace/);
        else expect(sent).not.toMatch(/stackTrace/);
      }
    }
  });
});

describe('failure details of thrown values that are not Errors', () => {
  it('sends the message of a thrown { message, stack } and, by default, its stack nowhere', async () => {
    const { base, client } = await open();
    const cases = [
      { name: 'ThrowsObject', message: 'orchestrator obj msg' },
      { name: 'CallsObjectThrower', message: 'activity obj msg' },
    ];
    for (const { name, message } of cases) {
      const id = await client.startNew(name);
      expect((await client.waitForCompletion(id, SETTLED)).runtimeStatus).toBe('Failed');
      const status = `${base}/instances/${id}?showHistory=true&showHistoryOutput=true&code=${KEY}`;
      const text = await (await fetch(status)).text();
      const body = JSON.parse(text) as { output: unknown; failureDetails: { errorMessage: string } };
      expect(body.failureDetails.errorMessage).toContain(message);
      expect(body.output).toBe(body.failureDetails.errorMessage); // Durable Functions' output of a Failed instance
      const texts = [
        text,
        await (await fetch(`${status}&format=native`)).text(),
        await (await fetch(`${base}/instances?code=${KEY}`)).text(),
        await (await fetch(`${base}/instances?format=native&code=${KEY}`)).text(),
        await streamUntil(`${base}/instances/${id}/history/stream?code=${KEY}`, '"ExecutionCompleted"'),
        await streamUntil(`${base}/instances/${id}/stream?code=${KEY}`, '"Failed"'),
        await streamUntil(`${base}/streams/instances?code=${KEY}`, '"Failed"'),
      ];
      for (const sent of texts) {
        expect(sent).toContain(message);
        expect(sent).not.toContain('SECRET STACK');
      }
    }
  });
});

describe('waits of start requests (?timeout=)', () => {
  /** Wraps a client to count live `status$` subscriptions, which each hold the store feed and the wait's timer. */
  function counting(): { wrap: (client: DurableClient) => DurableClient; live: BehaviorSubject<number> } {
    const live = new BehaviorSubject(0);
    const wrap = (client: DurableClient): DurableClient =>
      new Proxy(client, {
        get: (target, key) => {
          if (key === 'status$') {
            return (id: string) => defer(() => {
              live.next(live.value + 1);
              return target.status$(id).pipe(finalize(() => live.next(live.value - 1)));
            });
          }
          const value = Reflect.get(target, key, target) as unknown;
          return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
        },
      });
    return { wrap, live };
  }
  const reaches = (live: BehaviorSubject<number>, n: number) =>
    firstValueFrom(live.pipe(filter((v) => v === n), timeout({ first: SETTLED.timeoutMs, with: () => { throw new Error(`${live.value} waits still live, expected ${n}`); } })));

  it('releases the wait (store subscription and timer) when the client disconnects', async () => {
    const { wrap, live } = counting();
    const { base } = await open({}, wrap);
    const abort = new AbortController();
    const request = fetch(`${base}/orchestrators/WaitForEvent?timeout=250&code=${KEY}`, { method: 'POST', signal: abort.signal });
    request.catch(() => undefined);
    await reaches(live, 1);
    abort.abort();
    await reaches(live, 0);
  });

  it('keeps every wait when the runtime stops: another worker on the store completes the instances and the requests answer 200', async () => {
    const { wrap, live } = counting();
    const { base, runtime } = await open({}, wrap);
    const responses = [0, 1].map(() => fetch(`${base}/orchestrators/WaitForEvent?timeout=250&code=${KEY}`, { method: 'POST' }));
    await reaches(live, 2);
    await runtime.stop(); // the worker only: the handler's client follows the store on
    expect(live.value).toBe(2);
    // Another worker on the same store (another process on a shared one) takes the instances over.
    const other = createRuntime({ store: runtime.store, orchestrators, activities, logger: silentLogger });
    await other.start();
    try {
      const { instances } = await other.client.listInstances();
      expect(instances).toHaveLength(2);
      for (const { instanceId } of instances) await other.client.raiseEvent(instanceId, 'Item', instanceId);
      const answered = await Promise.all(responses);
      expect(answered.map((r) => r.status)).toEqual([200, 200]);
      expect((await Promise.all(answered.map((r) => r.json()))).sort()).toEqual(instances.map((s) => s.instanceId).sort());
      await reaches(live, 0);
    } finally {
      await other.stop();
    }
  });

  it("releases every wait when the runtime's client closes, however long its timeout", async () => {
    const { wrap, live } = counting();
    const { base, client } = await open({}, wrap);
    const responses = [0, 1].map(() => fetch(`${base}/orchestrators/WaitForEvent?timeout=250&code=${KEY}`, { method: 'POST' }));
    await reaches(live, 2);
    client.close();
    await reaches(live, 0);
    for (const response of await Promise.all(responses)) expect(response.status).toBe(202); // still answered
  });

  it('releases every wait when the server closes, however long its timeout', async () => {
    const { wrap, live } = counting();
    const { base, server } = await open({}, wrap);
    for (let i = 0; i < 3; i++) {
      fetch(`${base}/orchestrators/WaitForEvent?timeout=250&code=${KEY}`, { method: 'POST' }).catch(() => undefined);
    }
    await reaches(live, 3);
    await server.close();
    await reaches(live, 0);
  });
});

/** Reads an event stream until its text contains `marker`, then disconnects; returns the text read. */
async function streamUntil(url: string, marker: string, headers: Record<string, string> = {}): Promise<string> {
  const abort = new AbortController();
  const response = await fetch(url, { headers, signal: abort.signal });
  expect(response.status).toBe(200);
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  let text = '';
  try {
    while (!text.includes(marker)) {
      const { done, value } = await reader.read();
      if (done) break;
      text += value;
    }
  } finally {
    abort.abort();
    await reader.cancel().catch(() => undefined);
  }
  return text;
}

/**
 * A handler created while the global object has `globals` defined and the `hidden` ones shadowed (as `undefined`),
 * as in another host; every property is put back as it was before the handler serves anything.
 */
function createdWith(client: DurableClient, globals: Record<string, unknown>, hidden: Record<string, undefined> = {}): ReturnType<typeof createHttpHandler> {
  const all = { ...globals, ...hidden };
  const saved = Object.keys(all).map((name) => [name, Object.getOwnPropertyDescriptor(globalThis, name)] as const);
  try {
    for (const [name, value] of Object.entries(all)) Object.defineProperty(globalThis, name, { value, configurable: true, writable: true });
    return createHttpHandler(client, { anonymous: true, logger: silentLogger });
  } finally {
    for (const [name, descriptor] of saved) {
      if (descriptor) Object.defineProperty(globalThis, name, descriptor);
      else delete (globalThis as Record<string, unknown>)[name];
    }
  }
}
