import { request as httpRequest, createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createGzip } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '@durable-rx/runtime';
import { createHttpHandler } from '@durable-rx/runtime/http';
import { createRemoteClient } from '../src/index.js';
import { gatedHello, KEY, ownedByEachTest, serveForTest, within } from './harness.js';

/**
 * A proxy that compresses what it is allowed to transform (RFC 9111 §5.2.2.6: not a response marked `no-transform`),
 * as Express's `compression` middleware and many CDNs do: gzip holds what it is given until it has a block worth
 * sending, so an event stream it compresses reaches the reader in bursts, or not at all while values are few.
 */
async function openCompressingProxy(target: string): Promise<{ readonly url: string; compressed: number; close(): Promise<void> }> {
  const { hostname, port } = new URL(target);
  const state = { compressed: 0 };
  const server = createServer((incoming: IncomingMessage, outgoing: ServerResponse) => {
    const upstream = httpRequest({ hostname, port, path: incoming.url, method: incoming.method, headers: incoming.headers }, (answer) => {
      const headers = { ...answer.headers };
      const transform = !/\bno-transform\b/i.test(String(headers['cache-control'] ?? ''))
        && /\bgzip\b/.test(String(incoming.headers['accept-encoding'] ?? ''));
      if (!transform) {
        outgoing.writeHead(answer.statusCode!, headers);
        answer.pipe(outgoing);
        return;
      }
      state.compressed++;
      delete headers['content-length'];
      outgoing.writeHead(answer.statusCode!, { ...headers, 'content-encoding': 'gzip' });
      answer.pipe(createGzip()).pipe(outgoing);
    });
    upstream.on('error', () => outgoing.destroy());
    incoming.pipe(upstream);
    outgoing.on('close', () => upstream.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    get compressed() { return state.compressed; },
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

const { record, cleanups } = ownedByEachTest();

describe('behind a proxy that compresses responses', () => {
  it('gets each custom status as it commits: the event streams are marked no-transform, so the proxy passes them through', async () => {
    const { runtime, open } = await gatedHello();
    cleanups.push(() => runtime.stop());
    const server = await serveForTest(createHttpHandler(runtime.client, { key: KEY, logger: silentLogger }));
    cleanups.push(() => server.close());
    const proxy = await openCompressingProxy(server.url);
    cleanups.push(() => proxy.close());
    const client = createRemoteClient({ baseUrl: proxy.url, key: KEY });
    cleanups.push(() => client.close());

    const custom = record<unknown>(client.customStatus$('hello'));
    await within(custom.seen((value) => value === undefined), 'the first value through the proxy');
    await client.startNew('E1_HelloSequence', { instanceId: 'hello' });
    // Each greeting waits for the test, and its city is set as the custom status once it returned: the next one is let
    // through only once the last value arrived, so each is a commit of its own that the stream must bring as it comes.
    for (const city of ['Tokyo', 'Seattle', 'London']) {
      open(city);
      await within(custom.seen((value) => value === city), `${city} through the proxy`);
    }
    expect(custom.values).toEqual([undefined, 'Tokyo', 'Seattle', 'London']);
    // The proxy did compress what it may (the answers to the commands, which the client read as usual).
    expect(proxy.compressed).toBeGreaterThan(0);
  });
});
