import { createClient, createRuntime, MemoryStore, silentLogger, type Orchestrator, type Store } from '@durable-rx/runtime';
import { createHttpHandler } from '@durable-rx/runtime/http';
import { VirtualClock } from '@durable-rx/runtime/testing';
import { filter, firstValueFrom } from 'rxjs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createRemoteClient } from '../src/index.js';
import { KEY, serveForTest } from './harness.js';

/**
 * A recursive terminate over HTTP: the server answers once the named instance's own terminate is applied (the tree
 * follows durably), however long its sub-orchestrations take to end, and the remote client's `terminate` resolves
 * once they have, waiting on its own event stream.
 */

const cleanups: (() => unknown)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const tree: Record<string, Orchestrator> = {
  TreeRoot: function* (ctx) {
    return yield ctx.callSubOrchestrator('TreeMid', undefined, `${ctx.instanceId}-mid`);
  },
  TreeMid: function* (ctx) {
    return yield ctx.callSubOrchestrator('TreeLeaf', undefined, `${ctx.instanceId}-leaf`);
  },
  TreeLeaf: function* (ctx) {
    return yield ctx.waitForExternalEvent('never');
  },
};

/**
 * A running root -> mid -> leaf tree in a MemoryStore with no worker, and a view of that store whose commits refuse to
 * apply a terminate handed on to a child (as when a worker holds it): those stay queued until a worker runs.
 */
async function treeWithHeldTerminates(): Promise<{ store: MemoryStore; refusing: Store }> {
  const store = new MemoryStore();
  const first = createRuntime({ store, orchestrators: tree, logger: silentLogger });
  await first.start();
  await first.client.startNew('TreeRoot', { instanceId: 'root' });
  await firstValueFrom(first.client.status$('root-mid-leaf').pipe(filter((s) => s?.runtimeStatus === 'Running')));
  await first.stop();
  const refusing: Store = new Proxy(store, {
    get: (target, key) => {
      if (key === 'commit') {
        return (writeSet: Parameters<Store['commit']>[0]) => (writeSet.lease?.kind === 'unclaimed' && writeSet.lease.takes !== undefined
          ? Promise.reject(new Error('held by a worker')) : target.commit(writeSet));
      }
      const value = Reflect.get(target, key, target) as unknown;
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { store, refusing };
}

describe('a recursive terminate over HTTP', () => {
  it('is answered once the instance is terminated, before its sub-orchestrations end; the remote terminate waits for them', async () => {
    // The server's client terminates the root itself but cannot apply the terminates it hands on (as when a worker
    // holds each child): they stay queued until a worker runs. Its clock never moves, so its own wait for the tree
    // would never end.
    const { store, refusing } = await treeWithHeldTerminates();
    const serverClient = createClient({ store: refusing, clock: new VirtualClock() });
    const handler = createHttpHandler(serverClient, { key: KEY, logger: silentLogger });
    const answers: number[] = [];
    const server = await serveForTest(Object.assign(async (request: Request) => {
      const response = await handler(request);
      if (new URL(request.url).pathname.endsWith('/terminate')) answers.push(response.status);
      return response;
    }, { close: () => handler.close() }));
    cleanups.push(() => server.close());
    const remote = createRemoteClient({ baseUrl: server.url, key: KEY, clock: new VirtualClock() });
    cleanups.push(() => remote.close());

    let resolved = false;
    const terminated = remote.terminate('root', 'stop', { recursive: true }).then(() => (resolved = true));
    await vi.waitFor(() => expect(answers).toEqual([202]), { timeout: 10_000 });
    expect(await remote.getStatus('root')).toMatchObject({ runtimeStatus: 'Terminated', output: 'stop' });
    expect((await remote.getStatus('root-mid'))?.runtimeStatus).toBe('Running');
    expect(resolved).toBe(false);

    // A worker applies the queued terminates, level by level: the remote terminate resolves once the tree has ended.
    const second = createRuntime({ store, orchestrators: tree, logger: silentLogger });
    await second.start();
    cleanups.push(() => second.stop());
    await terminated;
    for (const id of ['root', 'root-mid', 'root-mid-leaf']) {
      expect(await remote.getStatus(id)).toMatchObject({ runtimeStatus: 'Terminated', output: 'stop' });
    }
  });

  it('by filter is answered once each instance it takes up is terminated, before their sub-orchestrations end', async () => {
    // As above: the terminates handed on stay queued until a worker runs, and the server's clock never moves.
    const { store, refusing } = await treeWithHeldTerminates();
    const handler = createHttpHandler(createClient({ store: refusing, clock: new VirtualClock() }), { key: KEY, logger: silentLogger });
    const server = await serveForTest(handler);
    cleanups.push(() => server.close());
    const remote = createRemoteClient({ baseUrl: server.url, key: KEY, clock: new VirtualClock() });
    cleanups.push(() => remote.close());

    let result: unknown;
    void remote.terminateBy({ name: 'TreeRoot' }, 'stop', { recursive: true }).then((r) => (result = r), (error: unknown) => (result = error));
    await vi.waitFor(() => expect(result).toEqual({ instancesAffected: 1, instancesSkipped: 0 }), { timeout: 10_000 });
    expect(await remote.getStatus('root')).toMatchObject({ runtimeStatus: 'Terminated', output: 'stop' });
    expect((await remote.getStatus('root-mid'))?.runtimeStatus).toBe('Running');

    // A worker applies the queued terminates: the tree follows durably.
    const second = createRuntime({ store, orchestrators: tree, logger: silentLogger });
    await second.start();
    cleanups.push(() => second.stop());
    await vi.waitFor(async () => expect((await remote.getStatus('root-mid-leaf'))?.runtimeStatus).toBe('Terminated'), { timeout: 10_000 });
  });
});
