import { silentLogger, UnavailableError, type DurableClient } from '@durable-rx/runtime';
import { createHttpHandler } from '@durable-rx/runtime/http';
import { serve, type NodeServer } from '@durable-rx/runtime/node';
import { filter, firstValueFrom } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { createRemoteClient } from '../src/index.js';
import { gatedHello, KEY, until, within } from './harness.js';

/**
 * The server process restarts in the middle of the hello sequence, and two steps commit while it is down (Seattle,
 * then London): the store keeps only the latest status, so the new server cannot send Seattle. A remote `status$` and
 * `customStatus$` know it from the commit version each status carries, and fail with `UnavailableError` rather than
 * skip Seattle silently; a wait for completion, which needs the latest status only, goes on. (When one step commits
 * while it is down, nothing is missed and the watches go on: server-restart.test.ts.) A server that sends no versions
 * (an older one) leaves the watches going on as before, Seattle skipped.
 */

const cleanups: (() => unknown)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** What a watch got: its values, and the error it ended with. */
interface Watched {
  readonly values: unknown[];
  error?: unknown;
}

/**
 * Runs the hello sequence behind a server over `serverClient(runtime.client)` that is down while Seattle and London
 * commit, with a remote `customStatus$`, `status$` (its custom statuses) and `waitForCompletion` watching throughout.
 */
async function restartWhileTwoStepsCommit(serverClient: (client: DurableClient) => DurableClient = (client) => client) {
  const { runtime, open } = await gatedHello();
  cleanups.push(() => runtime.stop());
  const up = (port = 0): Promise<NodeServer> =>
    serve(createHttpHandler(serverClient(runtime.client), { key: KEY, logger: silentLogger, reconnectDelayMs: 20 }), { port });
  let server = await up();
  cleanups.push(() => server.close());
  const client = createRemoteClient({ baseUrl: server.url, key: KEY, reconnect: { initialDelayMs: 20, maxDelayMs: 200 } });
  cleanups.push(() => client.close());
  const custom: Watched = { values: [] };
  const status: Watched = { values: [] };
  const watch = (watched: Watched) => ({ next: (value: unknown) => watched.values.push(value), error: (error: unknown) => (watched.error = error) });
  const watches = [
    client.customStatus$('hello').subscribe(watch(custom)),
    // The custom statuses of the statuses it gets, each once (a status changes more often than its custom status).
    client.status$('hello').subscribe({
      ...watch(status),
      next: (s) => {
        const city = s?.customStatus;
        if (!status.values.length || status.values.at(-1) !== city) status.values.push(city);
      },
    }),
  ];
  cleanups.push(() => watches.forEach((w) => w.unsubscribe()));
  await until(() => custom.values.length > 0 && status.values.length > 0, 'the first values');
  await runtime.client.startNew('E1_HelloSequence', { instanceId: 'hello' });
  const completed = client.waitForCompletion('hello', { timeoutMs: 120_000 });
  open('Tokyo');
  await until(() => custom.values.includes('Tokyo') && status.values.includes('Tokyo'), 'Tokyo');
  const { port } = server;
  await server.close();
  open('Seattle');
  await within(firstValueFrom(runtime.client.customStatus$('hello').pipe(filter((v) => v === 'Seattle'))), 'Seattle committed');
  open('London');
  await within(runtime.client.waitForCompletion('hello', { timeoutMs: 60_000 }), 'the sequence completing');
  server = await up(port);
  return { client, custom, status, completed };
}

describe('a server restarted while two steps commit', () => {
  it('fails the remote status$ and customStatus$ with UnavailableError rather than skip the value they missed; a wait for completion goes on', async () => {
    const { client, custom, status, completed } = await restartWhileTwoStepsCommit();
    expect((await within(completed, 'the remote wait')).runtimeStatus).toBe('Completed');
    await until(() => custom.error !== undefined && status.error !== undefined, 'both watches failing');
    for (const watched of [custom, status]) {
      expect(watched.values).toEqual([undefined, 'Tokyo']);
      expect(watched.error).toBeInstanceOf(UnavailableError);
      expect(watched.error).toMatchObject({
        code: 'unavailable', status: 503, message: 'values committed while disconnected could not be recovered',
      });
    }
    // Watching again starts from the current value.
    expect(await within(firstValueFrom(client.customStatus$('hello')), 'the current value')).toBe('London');
  });

  it('goes on as before behind a server that sends no commit versions (an older one): the value missed is skipped', async () => {
    const versionless = (client: DurableClient): DurableClient => new Proxy(client, {
      get: (target, key) => {
        const value: unknown = key === 'versionedStatus$' ? undefined : Reflect.get(target, key);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const { custom, status, completed } = await restartWhileTwoStepsCommit(versionless);
    expect((await within(completed, 'the remote wait')).runtimeStatus).toBe('Completed');
    await until(() => custom.values.includes('London') && status.values.includes('London'), 'London');
    for (const watched of [custom, status]) expect(watched).toEqual({ values: [undefined, 'Tokyo', 'London'] });
  });
});
