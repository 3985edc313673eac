import { createRuntime, MemoryStore, silentLogger, type Activity, type InstanceStatus, type Orchestrator } from '@durable-rx/runtime';
import { createHttpHandler } from '@durable-rx/runtime/http';
import { serve, type NodeServer } from '@durable-rx/runtime/node';
import { afterEach, describe, expect, it } from 'vitest';
import { createRemoteClient } from '../src/index.js';
import { gates, KEY, until } from './harness.js';

/**
 * An instance terminated while three activities it called run: each result that lands later is recorded on the ended
 * instance, a commit whose status is as it was (a new version the server sends no status for). When they land while
 * the server is down, the status the watch gets from the new session is versions ahead of the one it holds, yet
 * nothing it shows was missed: the watch goes on.
 */

const cleanups: (() => unknown)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('a terminated instance whose activity results land while the server is down', () => {
  it('keeps the remote status$ and customStatus$ going: the versions they skipped changed nothing they show', async () => {
    const gate = gates();
    const started = new Set<string>();
    const activities: Record<string, Activity> = {
      Gated: async (call: unknown) => {
        started.add(String(call));
        await gate.passed(String(call));
        return call;
      },
    };
    const orchestrators: Record<string, Orchestrator> = {
      ThreeAtOnce: function* (ctx) {
        ctx.setCustomStatus('running');
        return yield ctx.Task.all(['a', 'b', 'c'].map((call) => ctx.callActivity('Gated', call)));
      },
      WaitForDone: function* (ctx) {
        ctx.setCustomStatus('waiting');
        yield ctx.waitForExternalEvent('Done');
      },
    };
    const store = new MemoryStore();
    const runtime = createRuntime({ store, orchestrators, activities, logger: silentLogger });
    await runtime.start();
    cleanups.push(() => runtime.stop());
    let streamRequests = 0;
    const up = (port = 0): Promise<NodeServer> => {
      const handler = createHttpHandler(runtime.client, { key: KEY, logger: silentLogger, reconnectDelayMs: 20 });
      return serve(Object.assign((request: Request) => {
        if (/\/streams?$/.test(new URL(request.url).pathname)) streamRequests++;
        return handler(request);
      }, { close: () => handler.close() }), { port });
    };
    let server = await up();
    cleanups.push(() => server.close());
    const client = createRemoteClient({ baseUrl: server.url, key: KEY, reconnect: { initialDelayMs: 20, maxDelayMs: 200 } });
    cleanups.push(() => client.close());

    const statuses: (InstanceStatus | undefined)[] = [];
    const customs: unknown[] = [];
    const errors: unknown[] = [];
    // A second instance whose watch shows when the watches are back on a new session.
    await runtime.client.startNew('WaitForDone', { instanceId: 'other' });
    const others: (InstanceStatus | undefined)[] = [];
    const watches = [
      client.status$('par').subscribe({ next: (s) => statuses.push(s), error: (e: unknown) => errors.push(e) }),
      client.customStatus$('par').subscribe({ next: (c) => customs.push(c), error: (e: unknown) => errors.push(e) }),
      client.status$('other').subscribe({ next: (s) => others.push(s), error: (e: unknown) => errors.push(e) }),
    ];
    cleanups.push(() => watches.forEach((w) => w.unsubscribe()));

    await runtime.client.startNew('ThreeAtOnce', { instanceId: 'par' });
    await until(() => started.size === 3, 'the three activities running');
    await until(() => others.at(-1)?.customStatus === 'waiting', 'the other instance waiting');
    await runtime.client.terminate('par', 'enough');
    await until(() => statuses.at(-1)?.runtimeStatus === 'Terminated', 'the remote watch seeing Terminated');
    const terminated = (await store.getInstance('par'))!.version;

    const { port } = server;
    await server.close();
    // One result at a time, each its own commit: the version moves by three.
    for (const [i, call] of ['a', 'b', 'c'].entries()) {
      gate.open(call);
      await until(async () => (await store.getInstance('par'))!.version === terminated + i + 1, `the result of ${call} recorded`);
    }
    expect((await runtime.client.getStatus('par'))?.runtimeStatus).toBe('Terminated');

    const requestsBefore = streamRequests;
    server = await up(port);
    await until(() => streamRequests > requestsBefore, 'the client connecting again');
    await runtime.client.raiseEvent('other', 'Done');
    await until(() => others.at(-1)?.runtimeStatus === 'Completed', 'the watches back on a new session');
    const after = statuses.length;
    // The watches of the instance are still open: a start over it reaches them.
    for (const call of ['a', 'b', 'c']) started.delete(call);
    await runtime.client.startNew('ThreeAtOnce', { instanceId: 'par' });
    await until(() => statuses.slice(after).some((s) => s?.runtimeStatus === 'Running'), 'the watch seeing the new start');

    expect(errors).toEqual([]);
    expect(statuses.slice(0, after).map((s) => s?.runtimeStatus)).toContain('Terminated');
    await until(() => customs.at(-1) === 'running', 'the custom status of the new start');
  });
});
