import { filter, firstValueFrom } from 'rxjs';
import { beforeEach, describe, expect, it } from 'vitest';
import { WEBHOOK_PATH } from '../src/client/http-management-payload.js';
import type { NodeServer } from '../src/node/serve.js';
import type { Runtime } from '../src/runtime/create-runtime.js';
import { echo, waitForEvents } from '../src/testing/samples.js';
import { SETTLED, within } from '../src/testing/settled.js';
import { servedRuntimes } from './served-runtimes.js';

/**
 * Case in the HTTP API's URLs, against a real server on 127.0.0.1: as in Azure Functions (ASP.NET Core route
 * templates and the Durable Functions extension compare literals ignoring case; the host reads the `code` key as any
 * query parameter, in any case), the literal route segments and the `code` key match in any case, while instance ids,
 * event and orchestrator names keep theirs. A malformed request is refused with a typed 400 and changes nothing.
 */

const KEY = 'case-key';
/** The webhook path in another case, as a hand-written URL may spell it. */
const SHOUTED = '/RUNTIME/Webhooks/DurableTask';

const serving = servedRuntimes(KEY);
let runtime: Runtime;
let server: NodeServer;

beforeEach(async () => {
  ({ runtime, server } = await serving.open({ orchestrators: { Echo: echo, WaitForEvents: waitForEvents } }));
});

function call(path: string, method = 'GET', headers: Record<string, string> = { authorization: `Bearer ${KEY}` }): Promise<Response> {
  return fetch(`${server.url}${path}`, { method, headers });
}

async function statusOf(pending: Promise<Response>): Promise<number> {
  const response = await pending;
  await response.body?.cancel();
  return response.status;
}

async function errorOf(pending: Promise<Response>): Promise<[number, string]> {
  const response = await pending;
  return [response.status, ((await response.json()) as { code: string }).code];
}

describe('route literals', () => {
  it('match in any case on every route, while ids, event and orchestrator names keep their case', async () => {
    const started = await fetch(`${server.url}${SHOUTED}/Orchestrators/WaitForEvents/Mixed-Case-Id`, {
      method: 'POST', headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' }, body: '2',
    });
    expect(started.status).toBe(202);
    expect(await started.json()).toMatchObject({ id: 'Mixed-Case-Id' });
    expect(await runtime.client.getStatus('Mixed-Case-Id')).toMatchObject({ name: 'WaitForEvents', input: 2 });
    // The orchestrator name is a parameter: another case names another (unknown) orchestrator.
    expect(await errorOf(call(`${SHOUTED}/ORCHESTRATORS/waitforevents/other`, 'POST'))).toEqual([400, 'invalid-argument']);

    const status = await call(`${SHOUTED}/INSTANCES/Mixed-Case-Id`);
    expect(status.status).toBe(202);
    expect(await status.json()).toMatchObject({ instanceId: 'Mixed-Case-Id' });
    expect(await errorOf(call(`${SHOUTED}/instances/mixed-case-id`))).toEqual([404, 'instance-not-found']);
    // Slashes after the base, in any case, are made one (as Durable Functions trims them).
    expect(await statusOf(call(`${SHOUTED}//INSTANCES/Mixed-Case-Id//`))).toBe(202);
    expect(((await (await call(`${SHOUTED}/Instances/`)).json()) as { instanceId: string }[]).map((s) => s.instanceId)).toEqual(['Mixed-Case-Id']);

    expect(await statusOf(call(`${SHOUTED}/instances/Mixed-Case-Id/SUSPEND?Reason=pause`, 'POST'))).toBe(202);
    expect(await runtime.client.getStatus('Mixed-Case-Id')).toMatchObject({ runtimeStatus: 'Suspended' });
    expect(await statusOf(call(`${SHOUTED}/instances/Mixed-Case-Id/Resume`, 'POST'))).toBe(202);
    expect(await statusOf(call(`${SHOUTED}/instances/Mixed-Case-Id/RaiseEvent/Item`, 'POST'))).toBe(202);
    await firstValueFrom(runtime.client.customStatus$('Mixed-Case-Id').pipe(filter((c) => c !== undefined)));

    const history = await call(`${SHOUTED}/Instances/Mixed-Case-Id/History/Stream?untilTerminal=true`, 'GET', {
      authorization: `Bearer ${KEY}`, accept: 'text/event-stream',
    });
    expect(history.status).toBe(200);
    expect(history.headers.get('content-type')).toContain('text/event-stream');
    await history.body?.cancel();

    expect(await statusOf(call(`${SHOUTED}/instances/Mixed-Case-Id/TERMINATE?reason=stop`, 'POST'))).toBe(202);
    expect((await runtime.client.waitForCompletion('Mixed-Case-Id', SETTLED)).runtimeStatus).toBe('Terminated');
    const restarted = await call(`${SHOUTED}/instances/Mixed-Case-Id/ReStart?restartWithNewInstanceId=false`, 'POST');
    expect(restarted.status).toBe(202);
    expect(await restarted.json()).toMatchObject({ id: 'Mixed-Case-Id' });
    expect(await statusOf(call(`${SHOUTED}/instances/Mixed-Case-Id/Terminate`, 'POST'))).toBe(202);
    expect(await statusOf(call(`${SHOUTED}/Instances/Mixed-Case-Id`, 'DELETE'))).toBe(200);
    expect(await runtime.client.getStatus('Mixed-Case-Id')).toBeUndefined();
  });

  it('rewind a Failed instance through /Rewind', async () => {
    let failures = 1;
    await server.close();
    await runtime.stop();
    ({ runtime, server } = await serving.open({
      orchestrators: { Flaky: function* (ctx) { return yield ctx.callActivity('Flaky'); } },
      activities: { Flaky: () => { if (failures-- > 0) throw new Error('broken'); return 'fixed'; } },
    }));
    await runtime.client.startNew('Flaky', { instanceId: 'f' });
    expect((await runtime.client.waitForCompletion('f', SETTLED)).runtimeStatus).toBe('Failed');
    expect(await statusOf(call(`${SHOUTED}/instances/f/REWIND`, 'POST'))).toBe(202);
    expect(await runtime.client.waitForCompletion('f', SETTLED)).toMatchObject({ runtimeStatus: 'Completed', output: 'fixed' });
  });

  it('keep an id that is spelled as a literal: /instances/STREAM is the status of instance STREAM', async () => {
    await runtime.client.startNew('Echo', { instanceId: 'STREAM', input: 1 });
    await runtime.client.waitForCompletion('STREAM', SETTLED);
    const response = await call(`${WEBHOOK_PATH}/Instances/STREAM`);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ instanceId: 'STREAM', output: 1 });
    // The list stream lives under /streams/, in any case; a session id is a parameter (an unknown one is 404).
    const list = await call(`${WEBHOOK_PATH}/STREAMS/Instances`, 'GET', { authorization: `Bearer ${KEY}`, accept: 'text/event-stream' });
    expect(list.headers.get('content-type')).toContain('text/event-stream');
    await list.body?.cancel();
    expect(await errorOf(call(`${WEBHOOK_PATH}/Streams/INSTANCES-session`, 'DELETE'))).toEqual([404, 'session-not-found']);
  });

  it('are matched among the routes of the request\'s method: DELETE /streams/INSTANCES closes session INSTANCES', async () => {
    // GET /streams/instances is the list stream, but no DELETE route has that literal: the session id stays as written.
    const response = await call(`${WEBHOOK_PATH}/streams/INSTANCES`, 'DELETE');
    expect(response.status).toBe(404);
    expect(await response.json()).toMatchObject({ code: 'session-not-found', message: expect.stringContaining('"INSTANCES"') });
    const head = await call(`${WEBHOOK_PATH}/STREAMS/instances`, 'POST');
    expect(head.status).toBe(405);
    await head.body?.cancel();
  });

  it('in another case still answer 405 with Allow for a wrong method, and 404 for unknown routes', async () => {
    const wrong = await call(`${SHOUTED}/Instances/x/Terminate`, 'GET');
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('allow')).toBe('POST');
    await wrong.body?.cancel();
    expect(await errorOf(call(`${SHOUTED}/Instances/x/Terminated`, 'POST'))).toEqual([404, 'not-found']);
    expect(await errorOf(call('/RUNTIME/webhooks/other/instances'))).toEqual([404, 'not-found']);
  });
});

describe('the Location of a running instance\'s status', () => {
  const BASE_URL = 'https://public.example/api/';
  const PUBLIC = 'https://public.example/api/runtime/webhooks/durabletask';
  /** One running (or pending) instance, asked for in every spelling the routes accept. */
  const SPELLINGS = [
    `${WEBHOOK_PATH}/instances/Loc%20A`,
    `/%52untime/webhooks/durabletask/instances/Loc%20A`, // an encoded `R`
    `/runtime/webhooks/durabletask/%69nstances/Loc%20A`, // an encoded `i`
    `${SHOUTED}/INSTANCES/Loc%20A`,
    `${WEBHOOK_PATH}/instances/Loc%20A/`,
    `${SHOUTED}/Instances/Loc%20A/`,
  ];

  async function locationOf(path: string): Promise<string | null> {
    const response = await call(path);
    expect(response.status).toBe(202);
    expect(await response.json()).toMatchObject({ instanceId: 'Loc A' });
    return response.headers.get('location');
  }

  it('is the canonical status URL, under baseUrl, whatever the request\'s spelling', async () => {
    await server.close();
    ({ server } = await serving.serve(runtime, { baseUrl: BASE_URL }));
    await runtime.client.startNew('WaitForEvents', { instanceId: 'Loc A', input: 1 });
    for (const path of SPELLINGS) {
      expect({ path, location: await locationOf(path) }).toEqual({ path, location: `${PUBLIC}/instances/Loc%20A` });
    }
    expect(await locationOf(`${SHOUTED}/Instances/Loc%20A/?showInput=false`)).toBe(`${PUBLIC}/instances/Loc%20A?showInput=false`);
  });

  it('is the canonical status URL, as are the check-status URLs, under a baseUrl that ends with the webhook path in any case', async () => {
    // Durable Functions builds them from the origin and its own webhook path; a base that names that path already, in
    // another case or with a trailing slash, names the same routes (it is not a prefix to put the path under again).
    await runtime.client.startNew('WaitForEvents', { instanceId: 'Loc A', input: 1 });
    for (const baseUrl of [`https://public.example/api${SHOUTED}`, `https://public.example/api${SHOUTED}/`, `https://public.example/api${WEBHOOK_PATH}//`]) {
      await server.close();
      ({ server } = await serving.serve(runtime, { baseUrl }));
      expect({ baseUrl, location: await locationOf(`${SHOUTED}/Instances/Loc%20A`) }).toEqual({ baseUrl, location: `${PUBLIC}/instances/Loc%20A` });
      const started = await fetch(`${server.url}${WEBHOOK_PATH}/orchestrators/Echo/?code=${KEY}`, {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: '1',
      });
      const body = (await started.json()) as { id: string; statusQueryGetUri: string; terminatePostUri: string };
      expect(body.statusQueryGetUri).toBe(`${PUBLIC}/instances/${body.id}?code=${KEY}`);
      expect(body.terminatePostUri).toBe(`${PUBLIC}/instances/${body.id}/terminate?reason={text}&code=${KEY}`);
      // What the proxy forwards from that URL is served.
      expect([200, 202]).toContain(await statusOf(fetch(body.statusQueryGetUri.replace('https://public.example/api', server.url))));
      // The clients' own builders take the same base the same way.
      const response = runtime.client.createCheckStatusResponse(new Request(`${server.url}/start`), 'Loc A', { baseUrl });
      expect(response.headers.get('location')).toBe(`${PUBLIC}/instances/Loc%20A`);
      await response.body?.cancel();
    }
  });

  it('is the canonical status URL on the server\'s origin without baseUrl', async () => {
    await runtime.client.startNew('WaitForEvents', { instanceId: 'Loc A', input: 1 });
    for (const path of SPELLINGS) {
      expect({ path, location: await locationOf(path) }).toEqual({ path, location: `${server.url}${WEBHOOK_PATH}/instances/Loc%20A` });
    }
  });

  it('is not given for malformed escapes, which are a typed 400 and change nothing', async () => {
    await runtime.client.startNew('WaitForEvents', { instanceId: 'Loc A', input: 1 });
    for (const path of [`${SHOUTED}/INSTANCES/%E0%A4%A`, `${SHOUTED}/INSTANCES/%C0%AF/`, `${SHOUTED}/INSTANCES/%FF%FE`]) {
      const response = await call(path);
      expect(response.status, path).toBe(400);
      expect(response.headers.get('location')).toBeNull();
      await response.body?.cancel();
      expect(await statusOf(call(path, 'DELETE'))).toBeGreaterThanOrEqual(400);
    }
    expect(await runtime.client.getStatus('Loc A')).toMatchObject({ runtimeStatus: expect.stringMatching(/^(Pending|Running)$/) });
  });
});

describe('percent-escapes that are no UTF-8 text', () => {
  /** A cut three-byte sequence, an overlong `/`, a lone surrogate, a lone byte (after a bare `%` too). */
  const MALFORMED = ['%E0%A4%A', '%C0%AF', '%ED%A0%80', 'a%FFb', '5%%FF'];

  it('is refused with 400 invalid-argument on every route that takes an id, in any position, and nothing is done', async () => {
    await runtime.client.startNew('WaitForEvents', { instanceId: 'live', input: 1 });
    for (const bad of MALFORMED) {
      const routes: [string, string][] = [
        ['POST', `/orchestrators/Echo/${bad}`],
        ['POST', `/orchestrators/${bad}/some-id`],
        ['GET', `/instances/${bad}`],
        ['DELETE', `/instances/${bad}`],
        ...['terminate', 'suspend', 'resume', 'rewind', 'restart'].map((op): [string, string] => ['POST', `/instances/${bad}/${op}`]),
        ['POST', `/instances/${bad}/raiseEvent/go`],
        ['POST', `/instances/live/raiseEvent/${bad}`],
        ['GET', `/instances/${bad}/stream`],
        ['GET', `/instances/${bad}/history/stream`],
      ];
      for (const [method, route] of routes) {
        const response = await call(`${WEBHOOK_PATH}${route}`, method, { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' });
        expect({ method, route, status: response.status }).toEqual({ method, route, status: 400 });
        const body = (await response.json()) as { code: string; message: string; ExceptionMessage: string };
        expect(body).toEqual({ code: 'invalid-argument', message: expect.stringContaining('malformed percent-escape'), ExceptionMessage: body.message });
      }
    }
    expect((await runtime.client.getStatusAll()).map((s) => [s.instanceId, s.runtimeStatus])).toEqual([['live', expect.stringMatching(/^(Pending|Running)$/)]]);
    // The key is still checked first: without it, 401.
    expect(await errorOf(call(`${WEBHOOK_PATH}/instances/%FF`, 'GET', {}))).toEqual([401, 'unauthorized']);
  });

  it('is refused in a query parameter too (URLSearchParams would read U+FFFD), and nothing is done', async () => {
    await runtime.client.startNew('WaitForEvents', { instanceId: 'queried', input: 1 });
    for (const bad of MALFORMED) {
      const routes: [string, string][] = [
        ['POST', `/instances/queried/terminate?reason=${bad}`],
        ['GET', `/instances?instanceIdPrefix=${bad}`],
        ['GET', `/instances/queried?showInput=true&x=${bad}`],
        ['POST', `/orchestrators/Echo/fresh?timeout=${bad}`],
      ];
      for (const [method, route] of routes) {
        const response = await call(`${WEBHOOK_PATH}${route}`, method, { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' });
        expect({ method, route, status: response.status }).toEqual({ method, route, status: 400 });
        expect(await response.json()).toMatchObject({ code: 'invalid-argument', message: expect.stringContaining('request query has a malformed percent-escape') });
      }
    }
    expect((await runtime.client.getStatusAll()).map((s) => s.instanceId)).not.toContain('fresh');
    expect(await runtime.client.getStatus('queried')).toMatchObject({ runtimeStatus: expect.stringMatching(/^(Pending|Running)$/) });
    // A correctly encoded reason is taken as sent.
    expect(await statusOf(call(`${WEBHOOK_PATH}/instances/queried/terminate?reason=100%25%20%C3%A9`, 'POST'))).toBe(202);
    expect(await runtime.client.getStatus('queried')).toMatchObject({ runtimeStatus: 'Terminated', output: '100% é' });
  });

  it('is told from a correctly encoded id, which round-trips: spaces, Unicode, an encoded % and an encoded %2F', async () => {
    const id = 'a b é 例 😀 %2F 100%';
    const started = await fetch(`${server.url}${WEBHOOK_PATH}/orchestrators/WaitForEvents/${encodeURIComponent(id)}`, {
      method: 'POST', headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' }, body: '1',
    });
    expect(started.status).toBe(202);
    const body = (await started.json()) as { id: string; statusQueryGetUri: string };
    expect(body.id).toBe(id);
    expect(body.statusQueryGetUri).toBe(`${server.url}${WEBHOOK_PATH}/instances/${encodeURIComponent(id)}`);
    const status = await call(new URL(body.statusQueryGetUri).pathname);
    expect(status.status).toBe(202);
    expect(await status.json()).toMatchObject({ instanceId: id });
    // Raw Unicode in the path is encoded by the URL parser: the same id.
    expect(await statusOf(call(`${WEBHOOK_PATH}/instances/a b é 例 😀 %252F 100%25`))).toBe(202);
    // `%2F` itself is a `/`, which no id may hold: refused by the id rule, with the same code.
    expect(await errorOf(call(`${WEBHOOK_PATH}/instances/a%2Fb`))).toEqual([400, 'invalid-argument']);
    expect(await statusOf(call(`${WEBHOOK_PATH}/instances/${encodeURIComponent(id)}/terminate?reason=x`, 'POST'))).toBe(202);
    expect(await runtime.client.getStatus(id)).toMatchObject({ runtimeStatus: 'Terminated', output: 'x' });
  });
});

describe('a % that begins no escape', () => {
  /** A raw path segment or query value with a bare `%` (not followed by two hex digits), and what it is read as. */
  const BARE: [string, string][] = [['50%off', '50%off'], ['x%', 'x%'], ['%ZZ', '%ZZ'], ['%%41', '%A'], ['5%%20off', '5% off'], ['1%2', '1%2']];

  it('is a % as written in an id or name of the path, as the durable-functions client sends ids it does not encode', async () => {
    for (const [raw, id] of BARE) {
      const started = await fetch(`${server.url}${WEBHOOK_PATH}/orchestrators/WaitForEvents/${raw}`, {
        method: 'POST', headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' }, body: '1',
      });
      expect({ raw, status: started.status }).toEqual({ raw, status: 202 });
      const body = (await started.json()) as { id: string; statusQueryGetUri: string };
      expect(body.id).toBe(id);
      expect(body.statusQueryGetUri).toBe(`${server.url}${WEBHOOK_PATH}/instances/${encodeURIComponent(id)}`);
      // Reached by the raw spelling and by the encoded one alike.
      for (const path of [`/instances/${raw}`, `/INSTANCES/${encodeURIComponent(id)}/`]) {
        const status = await call(`${WEBHOOK_PATH}${path}`);
        expect({ path, status: status.status }).toEqual({ path, status: 202 });
        expect(await status.json()).toMatchObject({ instanceId: id });
      }
    }
    expect((await runtime.client.getStatusAll()).map((s) => s.instanceId).sort()).toEqual(BARE.map(([, id]) => id).sort());
    // An event name too: `Item%` is not `Item`, so the instance still waits. The 202 says the event is queued; the
    // worker's next step records it in the history.
    expect(await statusOf(call(`${WEBHOOK_PATH}/instances/50%off/raiseEvent/Item%`, 'POST'))).toBe(202);
    await within(firstValueFrom(runtime.client.history$('50%off').pipe(filter((e) => e.type === 'EventRaised'))), 'the event being recorded');
    const status = await runtime.client.getStatus('50%off', { showHistory: true });
    expect(status?.runtimeStatus).toBe('Running');
    expect(status?.history?.filter((e) => e.type === 'EventRaised').map((e) => e.name)).toEqual(['Item%']);
  });

  it('is a % as written in a query value: reasons and filters are read as sent', async () => {
    await runtime.client.startNew('WaitForEvents', { instanceId: '50%off', input: 1 });
    await firstValueFrom(runtime.client.status$('50%off').pipe(filter((s) => s?.runtimeStatus === 'Running')));
    expect(await statusOf(call(`${WEBHOOK_PATH}/instances/50%off/suspend?reason=50%%20done`, 'POST'))).toBe(202);
    expect(await statusOf(call(`${WEBHOOK_PATH}/instances/50%off/resume?reason=100%`, 'POST'))).toBe(202);
    const listed = await call(`${WEBHOOK_PATH}/instances?instanceIdPrefix=50%`);
    expect(((await listed.json()) as { instanceId: string }[]).map((s) => s.instanceId)).toEqual(['50%off']);
    expect(await statusOf(call(`${WEBHOOK_PATH}/instances/50%off/terminate?reason=%ZZ%%C3%A9%`, 'POST'))).toBe(202);
    expect(await runtime.client.waitForCompletion('50%off', SETTLED)).toMatchObject({ runtimeStatus: 'Terminated', output: '%ZZ%é%' });
    const history = (await runtime.client.getStatus('50%off', { showHistory: true }))?.history ?? [];
    expect(history.filter((e) => e.type === 'ExecutionSuspended' || e.type === 'ExecutionResumed').map((e) => e.reason)).toEqual(['50% done', '100%']);
  });
});

describe('a + in a path segment', () => {
  it('is a +, as the durable-functions client means it when it puts an id into its URL templates as written (Durable Functions reads a space)', async () => {
    const started = await fetch(`${server.url}${WEBHOOK_PATH}/orchestrators/WaitForEvents/a+b`, {
      method: 'POST', headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' }, body: '1',
    });
    expect(started.status).toBe(202);
    expect(await started.json()).toMatchObject({ id: 'a+b', statusQueryGetUri: `${server.url}${WEBHOOK_PATH}/instances/a%2Bb` });
    expect((await runtime.client.getStatusAll()).map((s) => s.instanceId)).toEqual(['a+b']);
    for (const path of ['/instances/a+b', '/instances/a%2Bb']) expect(await statusOf(call(`${WEBHOOK_PATH}${path}`)), path).toBe(202);
    expect(await errorOf(call(`${WEBHOOK_PATH}/instances/a%20b`))).toEqual([404, 'instance-not-found']);
    expect(await statusOf(call(`${WEBHOOK_PATH}/instances/a+b/terminate?reason=x`, 'POST'))).toBe(202);
    expect(await runtime.client.getStatus('a+b')).toMatchObject({ runtimeStatus: 'Terminated', output: 'x' });
  });
});

describe('the code key', () => {
  it('is read in any case, and goes into the check-status URLs as code=', async () => {
    const started = await call(`${WEBHOOK_PATH}/orchestrators/Echo/c1?CODE=${KEY}`, 'POST', {});
    expect(started.status).toBe(202);
    expect(((await started.json()) as { statusQueryGetUri: string }).statusQueryGetUri).toMatch(new RegExp(`/instances/c1\\?code=${KEY}$`));
    expect(await statusOf(call(`${WEBHOOK_PATH}/instances?Code=${KEY}`, 'GET', {}))).toBe(200);
    expect(await errorOf(call(`${WEBHOOK_PATH}/instances?Code=wrong`, 'GET', {}))).toEqual([401, 'unauthorized']);
  });

  it('given twice, in any case, is refused with 400 and starts nothing', async () => {
    expect(await errorOf(call(`${WEBHOOK_PATH}/orchestrators/Echo/twice?code=${KEY}&CODE=${KEY}`, 'POST', {}))).toEqual([400, 'invalid-argument']);
    expect(await errorOf(call(`${WEBHOOK_PATH}/orchestrators/Echo/twice?code=${KEY}&code=${KEY}`, 'POST', {}))).toEqual([400, 'invalid-argument']);
    expect(await runtime.client.getStatus('twice')).toBeUndefined();
  });
});
