import * as df from 'durable-functions';
import { filter, firstValueFrom } from 'rxjs';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { WEBHOOK_PATH } from '../src/client/http-management-payload.js';
import type { Activity, Orchestrator } from '../src/engine/orchestration-context.js';
import { createHttpHandler } from '../src/http/create-http-handler.js';
import type { InstanceStatus } from '../src/model/instance-status.js';
import { serve, type NodeServer } from '../src/node/serve.js';
import { MemoryStore } from '../src/store/memory-store.js';
import { echo, sampleActivities, sampleOrchestrators, waitForEvents } from '../src/testing/samples.js';
import { createRuntime, type Runtime } from '../src/runtime/create-runtime.js';
import { silentLogger } from '../src/env/logger.js';
import { SETTLED } from '../src/testing/settled.js';
import { dfClient, type DfClient } from './durable-functions-binding.js';

/**
 * The real `durable-functions` (v3) DurableClient against our HTTP API on 127.0.0.1, built the way the Functions
 * host builds it: binding data whose `creationUrls` and `managementUrls` point at our server, the key as the `code`
 * the extension puts there, `WEBSITE_HOSTNAME` naming the server (or the client rewrites every URL to
 * localhost:7071), and no `rpcBaseUrl` (or it would use the extension's private RPC paths). Every management method
 * of the client is driven (entities excepted), and the fields and types Durable Functions code reads are asserted.
 */

const KEY = 'df-client-key-0123456789';
const TASK_HUB = 'TestHub';

type DfRequest = NonNullable<Parameters<DfClient['createCheckStatusResponse']>[0]>;

let runtime: Runtime;
let server: NodeServer;
let client: DfClient;
let flakyFixed: boolean;
let savedHostname: string | undefined;

const orchestrators: Record<string, Orchestrator> = {
  ...sampleOrchestrators,
  Echo: echo,
  WaitForEvents: waitForEvents,
  CallsFlaky: function* (ctx) {
    const first: number = yield ctx.callActivity('Step', 1);
    return first + (yield ctx.callActivity('Flaky', first));
  },
};
const activities: Record<string, Activity> = {
  ...sampleActivities,
  Step: (n: number) => n * 10,
  Flaky: (n: number) => {
    if (!flakyFixed) throw new Error('flaky is broken');
    return n + 1;
  },
};

/** An incoming HTTP request of a user's starter function, as `createCheckStatusResponse` reads it (its `url`). */
function starterRequest(url: string): DfRequest {
  return { url, method: 'POST' } as unknown as DfRequest;
}

function until(id: string, predicate: (s: InstanceStatus | undefined) => boolean): Promise<InstanceStatus | undefined> {
  return firstValueFrom(runtime.client.status$(id).pipe(filter(predicate)));
}

beforeAll(() => {
  savedHostname = process.env.WEBSITE_HOSTNAME;
});

afterAll(() => {
  if (savedHostname === undefined) delete process.env.WEBSITE_HOSTNAME;
  else process.env.WEBSITE_HOSTNAME = savedHostname;
});

beforeEach(async () => {
  flakyFixed = false;
  runtime = createRuntime({ store: new MemoryStore(), orchestrators, activities, logger: silentLogger });
  await runtime.start();
  server = await serve(createHttpHandler(runtime.client, { key: KEY, logger: silentLogger }), { port: 0 });
  process.env.WEBSITE_HOSTNAME = new URL(server.url).host;
  client = dfClient({ origin: server.url, basePath: WEBHOOK_PATH, taskHub: TASK_HUB, key: KEY });
});

afterEach(async () => {
  await server.close();
  await runtime.stop();
});

/** What Durable Functions code reads from a DurableOrchestrationStatus, with the types it relies on. */
function expectStatusShape(status: Awaited<ReturnType<DfClient['getStatus']>>): void {
  expect(typeof status.name).toBe('string');
  expect(typeof status.instanceId).toBe('string');
  expect(status.createdTime).toBeInstanceOf(Date);
  expect(Number.isNaN(status.createdTime.getTime())).toBe(false);
  expect(status.lastUpdatedTime).toBeInstanceOf(Date);
  expect(Number.isNaN(status.lastUpdatedTime.getTime())).toBe(false);
  expect(Object.values(df.OrchestrationRuntimeStatus)).toContain(status.runtimeStatus);
  expect(status.input).not.toBeUndefined();
  expect(status.output).not.toBeUndefined();
  expect(status.customStatus).not.toBeUndefined();
}

describe('the durable-functions DurableClient against the durable-rx HTTP API', () => {
  describe('startNew and getStatus', () => {
    it('starts with and without an id and input, and reads a Running instance with null output and custom status', async () => {
      const id = await client.startNew('WaitForEvents', { input: 1 });
      expect(typeof id).toBe('string');
      await until(id, (s) => s?.runtimeStatus === 'Running');
      const running = await client.getStatus(id);
      expectStatusShape(running);
      expect(running).toMatchObject({
        name: 'WaitForEvents', instanceId: id, runtimeStatus: df.OrchestrationRuntimeStatus.Running, input: 1, output: null, customStatus: null,
      });
      expect(running.createdTime.getTime()).toBeLessThanOrEqual(running.lastUpdatedTime.getTime());

      // Without an input the client posts the JSON string "" (axios encodes its empty body), so the input is "", as on
      // the Functions host; an instance started without any body has input null.
      expect(await client.startNew('Echo', { instanceId: 'chosen-id' })).toBe('chosen-id');
      await until('chosen-id', (s) => s?.runtimeStatus === 'Completed');
      const emptyInput = await client.getStatus('chosen-id');
      expectStatusShape(emptyInput);
      expect(emptyInput).toMatchObject({ runtimeStatus: 'Completed', input: '', output: '', customStatus: null });
      await runtime.client.startNew('Echo', { instanceId: 'no-input' });
      await until('no-input', (s) => s?.runtimeStatus === 'Completed');
      expect(await client.getStatus('no-input')).toMatchObject({ runtimeStatus: 'Completed', input: null, output: null, customStatus: null });
    });

    it('rejects a start with a version, which durable-rx cannot record, and starts nothing', async () => {
      await expect(client.startNew('Echo', { instanceId: 'versioned', input: 1, version: '2.0' })).rejects.toThrow(/400/);
      expect(await runtime.client.getStatus('versioned')).toBeUndefined();
    });

    it('reads a Pending instance, hides the input with showInput: false and accepts the history flags', async () => {
      await runtime.stop(); // nothing runs: the instance stays Pending
      const id = await client.startNew('Echo', { input: { secret: 42 } });
      const pending = await client.getStatus(id);
      expectStatusShape(pending);
      expect(pending).toMatchObject({ runtimeStatus: df.OrchestrationRuntimeStatus.Pending, input: { secret: 42 }, output: null });
      expect((await client.getStatus(id, { showInput: false })).input).toBeNull();
      expectStatusShape(await client.getStatus(id, { showHistory: true, showHistoryOutput: true }));
      runtime = createRuntime({ store: new MemoryStore(), orchestrators, activities, logger: silentLogger });
      await runtime.start(); // for afterEach
    });

    it('reads a Failed instance, whose output is the error message', async () => {
      await runtime.client.startNew('CallsFlaky', { instanceId: 'failed' });
      await runtime.client.waitForCompletion('failed', SETTLED);
      const failed = await client.getStatus('failed');
      expectStatusShape(failed);
      expect(failed.runtimeStatus).toBe(df.OrchestrationRuntimeStatus.Failed);
      expect(typeof failed.output).toBe('string');
      expect(failed.output).toContain('flaky is broken');
    });

    it('rejects an unknown instance with the 404 error of the client', async () => {
      await expect(client.getStatus('nobody')).rejects.toThrow(/404/);
    });
  });

  describe('the seed scenarios', () => {
    it('runs the hello sequence: Tokyo, Seattle, London', async () => {
      const id = await client.startNew('E1_HelloSequence');
      const response = await client.waitForCompletionOrCreateCheckStatusResponse(starterRequest(`${server.url}/api/start`), id, {
        timeoutInMilliseconds: 30_000, retryIntervalInMilliseconds: 50,
      });
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual(['Hello Tokyo!', 'Hello Seattle!', 'Hello London!']);
      const done = await client.getStatus(id);
      expect(done).toMatchObject({
        name: 'E1_HelloSequence', runtimeStatus: df.OrchestrationRuntimeStatus.Completed, customStatus: 'London',
        output: ['Hello Tokyo!', 'Hello Seattle!', 'Hello London!'],
      });
    });

    it('runs ReserveTicket: the discount as custom status, then BookingConfirmed decides', async () => {
      const id = await client.startNew('ReserveTicket', { input: 'user-1' });
      const waiting = await until(id, (s) => s?.customStatus !== undefined);
      const status = await client.getStatus(id);
      expect(status.runtimeStatus).toBe(df.OrchestrationRuntimeStatus.Running);
      expect(status.customStatus).toEqual(waiting?.customStatus);
      expect(status.customStatus).toMatchObject({ discountTimeout: 60, bookingUrl: 'https://www.myawesomebookingweb.com' });
      expect(typeof (status.customStatus as { discount: unknown }).discount).toBe('number');
      await client.raiseEvent(id, 'BookingConfirmed', true);
      await until(id, (s) => s?.runtimeStatus === 'Completed');
      expect(await client.getStatus(id)).toMatchObject({
        runtimeStatus: 'Completed', output: true, customStatus: { message: 'Thank you for confirming your booking.' },
      });
    });

    it('shows the { nextActions, foo } custom status while Running, exactly as the seed documents it', async () => {
      const id = await client.startNew('SetStatusTest');
      await until(id, (s) => s?.customStatus !== undefined);
      const status = await client.getStatus(id);
      expect(status).toMatchObject({ runtimeStatus: 'Running', customStatus: { nextActions: ['A', 'B', 'C'], foo: 2 }, output: null });
      await client.raiseEvent(id, 'Proceed', null);
      await until(id, (s) => s?.runtimeStatus === 'Completed');
      expect((await client.getStatus(id)).output).toBe('done');
    });

    it('rewinds a Failed instance: no longer Failed once rewind resolves, then Completed without redoing work', async () => {
      const id = await client.startNew('CallsFlaky');
      await until(id, (s) => s?.runtimeStatus === 'Failed');
      flakyFixed = true;
      await client.rewind(id, 'fixed 100% of the cause');
      expect((await client.getStatus(id)).runtimeStatus).not.toBe(df.OrchestrationRuntimeStatus.Failed);
      await until(id, (s) => s?.runtimeStatus === 'Completed');
      expect(await client.getStatus(id)).toMatchObject({ runtimeStatus: 'Completed', output: 21 });
      const rewound = (await runtime.client.getStatus(id, { showHistory: true }))?.history?.find((e) => e.type === 'ExecutionRewound');
      expect(rewound).toMatchObject({ reason: 'fixed 100% of the cause' });
      await expect(client.rewind(id, 'again')).rejects.toThrow(/410/);
    });
  });

  describe('getStatusAll and getStatusBy', () => {
    beforeEach(async () => {
      for (const id of ['done-1', 'done-2']) {
        await runtime.client.startNew('Echo', { instanceId: id, input: id });
        await runtime.client.waitForCompletion(id, SETTLED);
      }
      await runtime.client.startNew('WaitForEvents', { instanceId: 'waiting', input: 1 });
      await until('waiting', (s) => s?.runtimeStatus === 'Running');
    });

    const ids = (list: { instanceId: string }[]) => list.map((s) => s.instanceId).sort();

    it('lists every instance in the status shape', async () => {
      const all = await client.getStatusAll();
      expect(ids(all)).toEqual(['done-1', 'done-2', 'waiting']);
      for (const status of all) {
        expect(Object.keys(status).sort()).toEqual(
          ['createdTime', 'customStatus', 'input', 'instanceId', 'lastUpdatedTime', 'name', 'output', 'runtimeStatus'],
        );
        expect(typeof status.createdTime).toBe('string'); // getStatusAll hands over the JSON as it came
      }
      expect(all.find((s) => s.instanceId === 'waiting')).toMatchObject({ runtimeStatus: 'Running', output: null, input: 1 });
    });

    it('filters by runtime status (Canceled included), created time, and follows continuation tokens', async () => {
      const { Completed, Running, Pending, Canceled } = df.OrchestrationRuntimeStatus;
      expect(ids(await client.getStatusBy({ runtimeStatus: [Completed] }))).toEqual(['done-1', 'done-2']);
      expect(ids(await client.getStatusBy({ runtimeStatus: [Running, Pending] }))).toEqual(['waiting']);
      expect(await client.getStatusBy({ runtimeStatus: [Canceled] })).toEqual([]);
      expect(await client.getStatusBy({ createdTimeFrom: new Date(Date.now() + 60_000) })).toEqual([]);
      expect(ids(await client.getStatusBy({ createdTimeFrom: new Date(Date.now() - 60_000), createdTimeTo: new Date(Date.now() + 60_000) })))
        .toEqual(['done-1', 'done-2', 'waiting']);
      // More instances than one page (100): the client follows x-ms-continuation-token to the end.
      for (let i = 0; i < 120; i++) await runtime.client.startNew('WaitForEvents', { instanceId: `many-${String(i).padStart(3, '0')}`, input: 1 });
      const all = await client.getStatusAll();
      expect(all).toHaveLength(123);
      expect(new Set(all.map((s) => s.instanceId)).size).toBe(123);
    });
  });

  describe('raiseEvent, terminate, suspend, resume', () => {
    it('raises events (buffered before the wait), and answers an unknown instance with an error', async () => {
      const id = await client.startNew('WaitForEvents', { input: 2 });
      await client.raiseEvent(id, 'Item', { a: 1 });
      await client.raiseEvent(id, 'Item', 'two');
      await until(id, (s) => s?.runtimeStatus === 'Completed');
      expect((await client.getStatus(id)).output).toEqual([{ a: 1 }, 'two']);
      await expect(client.raiseEvent('nobody', 'Item', 1)).rejects.toThrow(/nobody/);
      await expect(client.raiseEvent(id, 'Item', 3)).resolves.toBeUndefined(); // 410: the client ignores it, as in Durable Functions
    });

    it('terminates with the reason as output', async () => {
      const id = await client.startNew('WaitForEvents', { input: 1 });
      await client.terminate(id, 'enough');
      await until(id, (s) => s?.runtimeStatus === 'Terminated');
      expect(await client.getStatus(id)).toMatchObject({ runtimeStatus: df.OrchestrationRuntimeStatus.Terminated, output: 'enough' });
      await expect(client.terminate('nobody', 'x')).rejects.toThrow(/nobody/);
    });

    it('suspends and resumes', async () => {
      const id = await client.startNew('WaitForEvents', { input: 1 });
      await until(id, (s) => s?.runtimeStatus === 'Running');
      await client.suspend(id, 'hold on');
      await until(id, (s) => s?.runtimeStatus === 'Suspended');
      expect((await client.getStatus(id)).runtimeStatus).toBe(df.OrchestrationRuntimeStatus.Suspended);
      await client.raiseEvent(id, 'Item', 'kept');
      await client.resume(id, 'go');
      await until(id, (s) => s?.runtimeStatus === 'Completed');
      expect((await client.getStatus(id)).output).toEqual(['kept']);
      await expect(client.suspend('nobody', 'x')).rejects.toThrow(/nobody/);
      await expect(client.resume('nobody', 'x')).rejects.toThrow(/nobody/);
    });

    it('refuses a terminate or suspend of the id "." (its URL resolves to the command by filter\'s route) and changes no instance', async () => {
      // The client puts the id into its URL as written; the URL parser removes the segment `.` (or `%2e`), so the
      // request names `/instances/terminate`, the route of a command by filter, with no filter but its reason.
      const ids = ['dot-a', 'dot-b', 'dot-c'];
      for (const id of ids) await client.startNew('WaitForEvents', { instanceId: id, input: 1 });
      for (const id of ids) await until(id, (s) => s?.runtimeStatus === 'Running');
      for (const dot of ['.', '%2e', '%2E']) {
        await expect(client.suspend(dot, 'pause one'), dot).rejects.toThrow(/400/);
        await expect(client.terminate(dot, 'one bad id'), dot).rejects.toThrow(/400/);
        await expect(client.resume(dot, 'go'), dot).rejects.toThrow(/400/);
      }
      for (const id of ids) expect((await client.getStatus(id)).runtimeStatus, id).toBe(df.OrchestrationRuntimeStatus.Running);
    });

    it('takes reasons and an instance id with a bare %, which the client puts into its URLs as written', async () => {
      // The client fills its URL templates without encoding: `?reason=50%%20done`, `/instances/50%off`. A `%` that
      // begins no escape is kept as written, as Durable Functions reads it.
      const id = '50%off';
      expect(await client.startNew('WaitForEvents', { instanceId: id, input: 2 })).toBe(id);
      await until(id, (s) => s?.runtimeStatus === 'Running');
      await client.suspend(id, 'at 50% of it');
      await until(id, (s) => s?.runtimeStatus === 'Suspended');
      await client.raiseEvent(id, 'Item', '100%');
      await client.resume(id, '100%');
      await client.terminate(id, '50% done');
      await until(id, (s) => s?.runtimeStatus === 'Terminated');
      expect(await client.getStatus(id)).toMatchObject({ instanceId: id, runtimeStatus: 'Terminated', input: 2, output: '50% done' });
      const history = (await runtime.client.getStatus(id, { showHistory: true }))?.history ?? [];
      expect(history.filter((e) => e.type === 'ExecutionSuspended' || e.type === 'ExecutionResumed').map((e) => [e.type, e.reason]))
        .toEqual([['ExecutionSuspended', 'at 50% of it'], ['ExecutionResumed', '100%']]);
      expect(history.filter((e) => e.type === 'EventRaised').map((e) => e.name)).toEqual(['Item']);
    });
  });

  describe('purgeInstanceHistory and purgeInstanceHistoryBy', () => {
    it('purges one instance, reports 0 for an unknown one, and purges by filter', async () => {
      const from = new Date(Date.now() - 60_000);
      for (const id of ['p1', 'p2', 'p3']) {
        await client.startNew('Echo', { instanceId: id, input: id });
        await until(id, (s) => s?.runtimeStatus === 'Completed');
      }
      expect(await client.purgeInstanceHistory('p1')).toEqual({ instancesDeleted: 1 });
      expect(await runtime.client.getStatus('p1')).toBeUndefined();
      expect(await client.purgeInstanceHistory('p1')).toEqual({ instancesDeleted: 0 });
      const { Completed, Failed, Canceled } = df.OrchestrationRuntimeStatus;
      expect(await client.purgeInstanceHistoryBy({ createdTimeFrom: from, runtimeStatus: [Failed] })).toEqual({ instancesDeleted: 0 });
      expect(await client.purgeInstanceHistoryBy({ createdTimeFrom: from, runtimeStatus: [Canceled] })).toEqual({ instancesDeleted: 0 });
      expect(await client.purgeInstanceHistoryBy({ createdTimeFrom: from, runtimeStatus: [Completed] })).toEqual({ instancesDeleted: 2 });
      expect(await runtime.client.getStatusAll()).toEqual([]);
    });
  });

  describe('createCheckStatusResponse, createHttpManagementPayload, waitForCompletionOrCreateCheckStatusResponse', () => {
    it('builds check-status bodies whose every URL works against our server', async () => {
      const id = await client.startNew('WaitForEvents', { input: 2 });
      const response = client.createCheckStatusResponse(starterRequest(`${server.url}/api/orchestrators/WaitForEvents`), id);
      expect(response.status).toBe(202);
      const body = (await response.json()) as Record<string, string>;
      expect(response.headers.get('location')).toBe(body.statusQueryGetUri);
      expect(client.createHttpManagementPayload(id)).toEqual(body);
      expect(Object.keys(body).sort()).toEqual([
        'id', 'purgeHistoryDeleteUri', 'restartPostUri', 'resumePostUri', 'rewindPostUri', 'sendEventPostUri',
        'statusQueryGetUri', 'suspendPostUri', 'terminatePostUri',
      ]);
      expect(body.id).toBe(id);

      expect((await fetch(body.statusQueryGetUri!)).status).toBe(202);
      expect((await fetch(body.sendEventPostUri!.replace('{eventName}', 'Item'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: '"one"' })).status).toBe(202);
      expect((await fetch(body.suspendPostUri!.replace('{text}', 'pause'), { method: 'POST' })).status).toBe(202);
      await until(id, (s) => s?.runtimeStatus === 'Suspended');
      expect((await fetch(body.resumePostUri!.replace('{text}', 'go'), { method: 'POST' })).status).toBe(202);
      expect((await fetch(body.terminatePostUri!.replace('{text}', 'stop'), { method: 'POST' })).status).toBe(202);
      await until(id, (s) => s?.runtimeStatus === 'Terminated');
      const restarted = await fetch(body.restartPostUri!, { method: 'POST' });
      expect(restarted.status).toBe(202);
      const newId = ((await restarted.json()) as { id: string }).id;
      expect(newId).not.toBe(id);
      expect((await fetch(body.purgeHistoryDeleteUri!, { method: 'DELETE' })).status).toBe(200);
      expect((await fetch(body.statusQueryGetUri!)).status).toBe(404);
      expect((await fetch(body.rewindPostUri!.replace('{text}', 'x'), { method: 'POST' })).status).toBe(404);
    });

    it('answers 202 with the check-status body when the instance does not complete in time', async () => {
      const id = await client.startNew('WaitForEvents', { input: 1 });
      const response = await client.waitForCompletionOrCreateCheckStatusResponse(starterRequest(`${server.url}/api/start`), id, {
        timeoutInMilliseconds: 100, retryIntervalInMilliseconds: 50,
      });
      expect(response.status).toBe(202);
      const body = (await response.json()) as { id: string; statusQueryGetUri: string };
      expect(body.id).toBe(id);
      expect(response.headers.get('location')).toBe(body.statusQueryGetUri);
    });

    it('answers 200 with the status for a Terminated instance and 500 for a Failed one', async () => {
      const request = starterRequest(`${server.url}/api/start`);
      const terminated = await client.startNew('WaitForEvents', { input: 1 });
      await client.terminate(terminated, 'stop');
      await until(terminated, (s) => s?.runtimeStatus === 'Terminated');
      const t = await client.waitForCompletionOrCreateCheckStatusResponse(request, terminated, { timeoutInMilliseconds: 5000, retryIntervalInMilliseconds: 50 });
      expect(t.status).toBe(200);
      expect(await t.json()).toMatchObject({ instanceId: terminated, runtimeStatus: 'Terminated', output: 'stop' });
      const failed = await client.startNew('CallsFlaky');
      await until(failed, (s) => s?.runtimeStatus === 'Failed');
      const f = await client.waitForCompletionOrCreateCheckStatusResponse(request, failed, { timeoutInMilliseconds: 5000, retryIntervalInMilliseconds: 50 });
      expect(f.status).toBe(500);
      expect(await f.json()).toMatchObject({ instanceId: failed, runtimeStatus: 'Failed', output: expect.stringContaining('flaky is broken') });
    });
  });
});
