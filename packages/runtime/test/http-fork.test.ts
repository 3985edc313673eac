import { beforeEach, describe, expect, it } from 'vitest';
import { createHttpManagementPayload } from '../src/client/http-management-payload.js';
import type { NodeServer } from '../src/node/serve.js';
import type { Runtime } from '../src/runtime/create-runtime.js';
import { SETTLED } from '../src/testing/settled.js';
import { apiWorkload, servedRuntimes, withKey, type KeyedInit } from './served-runtimes.js';

/** `POST /instances/{id}/fork` (DurableClient.fork over HTTP), against a real server on 127.0.0.1. */

const KEY = 'test-key-0123456789';
const serving = servedRuntimes(KEY);
const { orchestrators, activities, flaky } = apiWorkload();
let runtime: Runtime;
let server: NodeServer;
let base: string;

beforeEach(async () => {
  flaky.fixed = false;
  ({ runtime, server, base } = await serving.open({ orchestrators, activities }));
});

function call(path: string, init: KeyedInit = {}): Promise<Response> {
  return fetch(`${base}${path}`, withKey(KEY, init));
}

describe('POST /instances/{id}/fork', () => {
  it('forks a failed instance under the id asked, keeping no result: 202 and its check-status body; the failed call runs again, the source stays Failed', async () => {
    await runtime.client.startNew('CallsFlaky', { instanceId: 'broken' });
    expect((await runtime.client.waitForCompletion('broken', SETTLED)).runtimeStatus).toBe('Failed');
    flaky.fixed = true;
    const response = await call('/instances/broken/fork?newInstanceId=mended&keepResults=0', { method: 'POST' });
    expect(response.status).toBe(202);
    expect(await response.json()).toEqual(createHttpManagementPayload('mended', server.url));
    expect(await runtime.client.waitForCompletion('mended', SETTLED)).toMatchObject({ runtimeStatus: 'Completed', output: 2 });
    expect((await runtime.client.getStatus('broken'))?.runtimeStatus).toBe('Failed');
  });

  it('forks under a new id keeping every result by default; with timeout it answers the output once the fork completes', async () => {
    await runtime.client.startNew('E1_HelloSequence', { instanceId: 'hello' });
    const { output } = await runtime.client.waitForCompletion('hello', SETTLED);
    const response = await call('/instances/hello/fork', { method: 'POST' });
    expect(response.status).toBe(202);
    const { id } = (await response.json()) as { id: string };
    expect(id).not.toBe('hello');
    expect((await runtime.client.waitForCompletion(id, SETTLED)).output).toEqual(output);
    const waited = await call('/instances/hello/fork?newInstanceId=hello-3&timeout=10', { method: 'POST' });
    expect(waited.status).toBe(200);
    expect(await waited.json()).toEqual(output);
  });

  it('raises the events not kept to the fork by default, and not with reapplyEvents=false', async () => {
    await runtime.client.startNew('WaitForEvents', { instanceId: 'ev', input: 2 });
    await runtime.client.raiseEvent('ev', 'Item', 'a');
    await runtime.client.raiseEvent('ev', 'Item', 'b');
    expect((await runtime.client.waitForCompletion('ev', SETTLED)).output).toEqual(['a', 'b']);
    expect((await call('/instances/ev/fork?newInstanceId=ev-1&keepResults=1', { method: 'POST' })).status).toBe(202);
    expect((await runtime.client.waitForCompletion('ev-1', SETTLED)).output).toEqual(['a', 'b']);
    expect((await call('/instances/ev/fork?newInstanceId=ev-own&keepResults=1&reapplyEvents=false', { method: 'POST' })).status).toBe(202);
    await runtime.client.raiseEvent('ev-own', 'Item', 'x');
    expect((await runtime.client.waitForCompletion('ev-own', SETTLED)).output).toEqual(['a', 'x']);
  });

  it('answers 404 for an unknown source, 400 for a bad id, keepResults or reapplyEvents, 409 for a taken id, creating nothing', async () => {
    await runtime.client.startNew('E1_HelloSequence', { instanceId: 'src' });
    await runtime.client.waitForCompletion('src', SETTLED);
    const statusOf = async (path: string) => {
      const response = await call(path, { method: 'POST' });
      return [response.status, ((await response.json()) as { code: string }).code];
    };
    expect(await statusOf('/instances/nobody/fork')).toEqual([404, 'instance-not-found']);
    for (const query of ['keepResults=4', 'keepResults=-1', 'keepResults=one', 'keepResults=1.5', 'newInstanceId=%40x', 'reapplyEvents=yes']) {
      expect(await statusOf(`/instances/src/fork?${query}`), query).toEqual([400, 'invalid-argument']);
    }
    expect(await statusOf('/instances/src/fork?newInstanceId=src')).toEqual([409, 'instance-already-exists']);
    expect((await runtime.client.listInstances()).instances.map((s) => s.instanceId)).toEqual(['src']);
  });
});
