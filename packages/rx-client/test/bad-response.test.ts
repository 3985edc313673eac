import { WEBHOOK_PATH } from '@durable-rx/runtime/client-kit';
import { serve, type NodeServer } from '@durable-rx/runtime/node';
import { firstValueFrom } from 'rxjs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createRemoteClient, RemoteError } from '../src/index.js';

/**
 * A real server on 127.0.0.1 that speaks the stream protocol but answers with bodies this client cannot read: every
 * command gets `body`, and every stream subscription gets `events[kind]` as its value (`undefined`: no event).
 */
async function serveOdd(body: string, events: Record<string, string | undefined> = {}, contentType = 'text/event-stream') {
  let stream: ReadableStreamDefaultController<string> | undefined;
  const server = await serve(async (request) => {
    const path = new URL(request.url).pathname.slice(WEBHOOK_PATH.length);
    if (path === '/streams') {
      return new Response(
        new ReadableStream<string>({
          start(controller) {
            stream = controller;
            controller.enqueue('event: session\nid: s.0\ndata: {"session":"s"}\n\n');
          },
        }).pipeThrough(new TextEncoderStream()),
        { headers: { 'content-type': contentType } },
      );
    }
    if (path === '/streams/s/subscriptions') {
      const { subscribe } = (await request.json()) as { subscribe: { sub: string; kind: string }[] };
      for (const { sub, kind } of subscribe) {
        const value = events[kind];
        if (value !== undefined) stream?.enqueue(`event: ${kind}\nid: s.1\ndata: {"sub":"${sub}","data":${value}}\n\n`);
      }
      return Response.json({});
    }
    if (path.startsWith('/streams/')) return new Response(null, { status: 204 });
    return new Response(body, { headers: { 'content-type': 'application/json' } });
  });
  servers.push(server);
  return createRemoteClient({ baseUrl: server.url, key: 'k' });
}

const servers: NodeServer[] = [];

afterEach(async () => {
  for (const server of servers.splice(0)) await server.close();
});

const badResponse = { code: 'bad-response', status: 502 };

/** Every command that reads its answer rejects with RemoteError bad-response. */
async function expectEachCommandRefused(client: Awaited<ReturnType<typeof serveOdd>>): Promise<void> {
  for (const command of [
    client.startNew('Echo'),
    client.restart('x'),
    client.listInstances(),
    client.getStatus('x'),
    client.purgeInstanceHistory('x'),
    client.purgeInstanceHistoryBy({ createdTimeFrom: new Date(0) }),
  ]) {
    const error = await command.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RemoteError);
    expect(error).toMatchObject(badResponse);
  }
}

describe('a server answer the client cannot read', () => {
  it('rejects each command whose answer lacks what it returns with RemoteError bad-response', async () => {
    const client = await serveOdd('{"unexpected":true}');
    await expectEachCommandRefused(client);
    await expect(client.raiseEvent('x', 'E')).resolves.toBeUndefined(); // nothing to read: any 2xx will do
  });

  it('rejects each command whose 2xx answer is not JSON with RemoteError bad-response', async () => {
    const client = await serveOdd('<html>a proxy page</html>');
    await expectEachCommandRefused(client);
  });

  it('errors status$, customStatus$ and instances$ with RemoteError bad-response for a malformed value', async () => {
    const client = await serveOdd('{}', { status: '{"instanceId":1}', instances: '{"not":"a list"}' });
    await expect(firstValueFrom(client.status$('x'))).rejects.toMatchObject(badResponse);
    await expect(firstValueFrom(client.customStatus$('x'))).rejects.toMatchObject(badResponse);
    await expect(firstValueFrom(client.instances$())).rejects.toMatchObject(badResponse);
    const dates = await serveOdd('{}', {
      status: '{"instanceId":"x","name":"n","runtimeStatus":"Running","createdTime":"yesterday","lastUpdatedTime":"today"}',
    });
    await expect(firstValueFrom(dates.status$('x'))).rejects.toMatchObject(badResponse);
    // A delayed start's time that is no date makes no status either.
    const scheduled = await serveOdd('{}', {
      status: '{"instanceId":"x","name":"n","runtimeStatus":"Pending","createdTime":"2026-12-05T00:00:00.000Z","lastUpdatedTime":"2026-12-05T00:00:00.000Z","scheduledStartTime":"soon"}',
    });
    await expect(firstValueFrom(scheduled.status$('x'))).rejects.toMatchObject(badResponse);
  });

  it('errors every watcher with RemoteError bad-response when the stream is not an event stream or its data not JSON', async () => {
    const notSse = await serveOdd('{}', {}, 'application/json');
    await expect(firstValueFrom(notSse.status$('x'))).rejects.toMatchObject(badResponse);
    const notJson = await serveOdd('{}', { status: '{oops' });
    await expect(firstValueFrom(notJson.status$('x'))).rejects.toMatchObject(badResponse);
  });

  it('lets go of a 2xx stream answer that is not an event stream, also through a fetch that ignores the abort signal', async () => {
    const streams: AbortSignal[] = [];
    const server = await serve((request) => {
      if (!new URL(request.url).pathname.endsWith('/streams')) return new Response(null, { status: 204 });
      streams.push(request.signal);
      // A body that never ends (a proxy's stream, say): only the client letting it go closes the connection.
      const body = new ReadableStream<Uint8Array>({ start: (controller) => controller.enqueue(new TextEncoder().encode('not events')) });
      return new Response(body, { headers: { 'content-type': 'text/plain' } });
    });
    servers.push(server);
    /** Kept, so that nothing but the client's cancel lets the answer go (not a garbage collection). */
    const answers: Response[] = [];
    const client = createRemoteClient({
      baseUrl: server.url,
      key: 'k',
      // A fetch that drops `init.signal` (as some wrappers do): no abort reaches the answer.
      fetch: async (input, init) => {
        const { signal: _dropped, ...rest } = init ?? {};
        const response = await fetch(input, rest);
        answers.push(response);
        return response;
      },
    });
    await expect(firstValueFrom(client.status$('x'))).rejects.toMatchObject(badResponse);
    // The server sees the connection go: the client cancelled the body it will not read (it stayed open before).
    await vi.waitFor(() => expect(streams[0]!.aborted).toBe(true), { timeout: 30_000, interval: 10 });
    expect(streams).toHaveLength(1); // failed for good, not retried
    expect(answers).toHaveLength(1);
  });
});
