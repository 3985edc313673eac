import { silentLogger } from '@durable-rx/runtime';
import { createHttpHandler } from '@durable-rx/runtime/http';
import { serve, type NodeServer } from '@durable-rx/runtime/node';
import { filter, firstValueFrom } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { createRemoteClient, type ConnectionState } from '../src/index.js';
import { gatedHello, KEY, within } from './harness.js';

/**
 * The server process restarts in the middle of the hello sequence: its HTTP server goes away (connections refused),
 * the orchestration goes on, and a new server comes up on the same port. One step commits while it is down. The
 * custom status watch gets Tokyo, Seattle, London whole and in order, none twice.
 */

const cleanups: (() => unknown)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('a server restarted mid-sequence', () => {
  it('delivers Tokyo, Seattle, London once each, in order, the step committed while it was down included', async () => {
    const { runtime, open } = await gatedHello();
    cleanups.push(() => runtime.stop());
    const up = (port = 0): Promise<NodeServer> =>
      serve(createHttpHandler(runtime.client, { key: KEY, logger: silentLogger, reconnectDelayMs: 20 }), { port });
    let server = await up();
    cleanups.push(() => server.close());
    const client = createRemoteClient({ baseUrl: server.url, key: KEY, reconnect: { initialDelayMs: 20, maxDelayMs: 200 } });
    cleanups.push(() => client.close());
    const states: ConnectionState['state'][] = [];
    const watching = client.connection$.subscribe(({ state }) => states.push(state));
    cleanups.push(() => watching.unsubscribe());
    const values: unknown[] = [];
    const watch = client.customStatus$('hello').subscribe((value) => values.push(value));
    cleanups.push(() => watch.unsubscribe());
    const seen = (value: string) => within(firstValueFrom(client.customStatus$('hello').pipe(filter((v) => v === value))), value);
    // The watch has its first value (no such instance yet), so nothing that follows is missed.
    await within(new Promise<void>((resolve) => {
      const poll = (): unknown => (values.length ? resolve() : setTimeout(poll, 10));
      poll();
    }), 'the first value');
    await runtime.client.startNew('E1_HelloSequence', { instanceId: 'hello' });
    open('Tokyo');
    await seen('Tokyo');
    // The server goes away; Seattle commits while it is down.
    const { port } = server;
    await server.close();
    open('Seattle');
    await within(firstValueFrom(runtime.client.customStatus$('hello').pipe(filter((v) => v === 'Seattle'))), 'Seattle committed');
    // A new server on the same port: the client reconnects by itself and gets the step it missed.
    server = await up(port);
    await seen('Seattle');
    open('London');
    await within(runtime.client.waitForCompletion('hello', { timeoutMs: 60_000 }), 'the sequence completing');
    await seen('London');
    expect(values).toEqual([undefined, 'Tokyo', 'Seattle', 'London']);
    expect(states).toContain('reconnecting');
    expect(states).not.toContain('failed');
  });
});
