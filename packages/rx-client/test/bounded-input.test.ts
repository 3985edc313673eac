import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WEBHOOK_PATH } from '@durable-rx/runtime/client-kit';
import { VirtualClock } from '@durable-rx/runtime/testing';
import { filter, firstValueFrom } from 'rxjs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createRemoteClient, RemoteError, type ConnectionState, type RemoteClient } from '../src/index.js';
import { isRetryableForHooks } from '../src/remote-error.js';
import { within } from './harness.js';

const LIMIT = 64 * 1024;
const servers: Server[] = [];
const clients: RemoteClient[] = [];

afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

/**
 * A hostile server on 127.0.0.1: its event stream opens a session, then, once a subscription arrives, writes `piece`
 * again and again until the client lets go of the connection (`streamClosed`); every command is answered 200 with a
 * JSON body that never ends (`[` then `0,` for ever) until its client lets go (`commandClosed`). `deleted` resolves
 * when the client deletes its session.
 */
async function serveHostile(piece: string) {
  let closeStream!: () => void;
  let closeCommand!: () => void;
  let deleteSession!: () => void;
  const streamClosed = new Promise<void>((resolve) => (closeStream = resolve));
  const commandClosed = new Promise<void>((resolve) => (closeCommand = resolve));
  const deleted = new Promise<void>((resolve) => (deleteSession = resolve));
  let stream: ServerResponse | undefined;
  let streams = 0;
  /** Writes `first`, then `next` whenever the socket has room, until the client leaves. */
  const flood = (response: ServerResponse, first: string, next: string, closed: () => void): void => {
    let gone = false;
    response.on('close', () => ((gone = true), closed()));
    const write = (): void => {
      while (!gone && response.write(next));
      if (!gone) response.once('drain', write);
    };
    response.write(first);
    write();
  };
  const server = createServer((request, response) => {
    const path = request.url!.slice(WEBHOOK_PATH.length);
    request.resume();
    if (path === '/streams') {
      streams++;
      stream = response.writeHead(200, { 'content-type': 'text/event-stream' });
      stream.write('event: session\nid: s.0\ndata: {"session":"s"}\n\n');
    } else if (path === '/streams/s/subscriptions') {
      response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      flood(stream!, 'event: status\n', piece, closeStream);
    } else if (request.method === 'DELETE') {
      response.writeHead(204).end();
      deleteSession();
    } else {
      flood(response.writeHead(200, { 'content-type': 'application/json' }), '[', '0,', closeCommand);
    }
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const clock = new VirtualClock();
  const client = createRemoteClient({
    baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, maxResponseBytes: LIMIT, clock,
  });
  clients.push(client);
  return { client, clock, streamClosed, commandClosed, deleted, streams: () => streams };
}

const tooLong = { code: 'bad-response', status: 502, message: expect.stringContaining(`maxResponseBytes (${LIMIT})`) };

describe('input the client would otherwise buffer without end', () => {
  for (const [what, piece] of [
    ['a line that never ends', 'data: ' + 'x'.repeat(4096)],
    ['an event that is never closed by an empty line', `data: ${'x'.repeat(4090)}\n`],
  ] as const) {
    it(`fails the stream with RemoteError bad-response on ${what}, lets go of the connection and leaves no timer`, async () => {
      const server = await serveHostile(piece);
      const states: ConnectionState[] = [];
      server.client.connection$.subscribe((state) => states.push(state));
      const error = await within(firstValueFrom(server.client.status$('a')).catch((e: unknown) => e), 'the watch failed');
      expect(error).toBeInstanceOf(RemoteError);
      expect(error).toMatchObject(tooLong);
      // The path of an event that is not JSON: `failed` with that error, not a reconnect that would read it again.
      expect(states.at(-1)).toEqual({ state: 'failed', error });
      // A broken server or proxy: the hooks retry it, as an event that is not JSON.
      expect(isRetryableForHooks(error)).toBe(true);
      await within(server.streamClosed, 'the stream connection was let go');
      await within(server.deleted, 'the session was deleted');
      expect(server.streams()).toBe(1);
      // The delete's deadline is cleared once it is answered; nothing else is armed.
      await vi.waitFor(() => expect(server.clock.pendingTimers).toBe(0), { timeout: 10_000 });
    });
  }

  it('rejects a command whose answer body never ends with RemoteError bad-response and lets go of the connection', async () => {
    const server = await serveHostile('');
    const error = await within(server.client.getStatus('a').catch((e: unknown) => e), 'the command failed');
    expect(error).toBeInstanceOf(RemoteError);
    expect(error).toMatchObject(tooLong);
    await within(server.commandClosed, 'the answer connection was let go');
    // The command's deadline went with it.
    expect(server.clock.pendingTimers).toBe(0);
  });

  /**
   * A server on 127.0.0.1 whose stream answers each subscription to a status with one `status` event (custom status
   * `custom(instanceId)`), written as `cut` splits it, the events of one request in the order subscribed; every command
   * is answered with `{ id }`, `id` of `answerLength` characters.
   */
  async function serveSized(custom: (instanceId: string) => string, cut: (event: string) => string[], answerLength = 0) {
    let stream: ServerResponse | undefined;
    let seq = 0;
    const server = createServer((request, response) => {
      const path = request.url!.slice(WEBHOOK_PATH.length);
      let body = '';
      request.setEncoding('utf8').on('data', (text: string) => (body += text));
      request.on('end', () => {
        if (path === '/streams') {
          response.writeHead(200, { 'content-type': 'text/event-stream' }).write('event: session\nid: s.0\ndata: {"session":"s"}\n\n');
          stream = response;
        } else if (path === '/streams/s/subscriptions') {
          response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
          for (const { sub, instanceId } of (JSON.parse(body) as { subscribe: { sub: string; instanceId: string }[] }).subscribe) {
            for (const piece of cut(statusEvent(++seq, sub, instanceId, custom(instanceId)))) stream!.write(piece);
          }
        } else if (request.method === 'DELETE') {
          response.writeHead(204).end();
        } else {
          response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ id: 'i'.repeat(answerLength) }));
        }
      });
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const client = createRemoteClient({ baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, maxResponseBytes: LIMIT });
    clients.push(client);
    return client;
  }

  /** A `status` event of subscription `sub` as the server writes it, whole on the wire. */
  const statusEvent = (seq: number, sub: string, instanceId: string, customStatus: string): string => {
    const status = { instanceId, name: 'N', runtimeStatus: 'Running', customStatus, createdTime: '2026-01-01T00:00:00.000Z', lastUpdatedTime: '2026-01-01T00:00:00.000Z' };
    return `event: status\nid: s.${seq}\ndata: ${JSON.stringify({ sub, data: status })}\n\n`;
  };
  /** The custom status whose event (the first, subscription 1, of instance `instanceId`) is `length` characters on the wire. */
  const customOf = (length: number, instanceId: string): string => 'y'.repeat(length - statusEvent(1, '1', instanceId, '').length);
  /** Cut into five chunks: in the middle of its data, at the end of its data line, and between its two line ends. */
  const cutFive = (event: string): string[] => {
    const a = event.length >> 1;
    return [event.slice(0, a), event.slice(a, -3), event.slice(-3, -2), event.slice(-2, -1), event.slice(-1)];
  };

  it('reads an event and an answer of exactly maxResponseBytes characters, however the event is cut', async () => {
    const value = customOf(LIMIT, 'a');
    expect(statusEvent(1, '1', 'a', value).length).toBe(LIMIT);
    const client = await serveSized(() => value, cutFive, LIMIT - '{"id":""}'.length);
    await expect(client.startNew('N')).resolves.toHaveLength(LIMIT - 9);
    const custom = await within(firstValueFrom(client.customStatus$('a').pipe(filter((c) => c !== undefined))), 'the status');
    expect(custom).toBe(value);
  });

  it('fails only the watch whose event is one character over maxResponseBytes; the stream reads on past it', async () => {
    const value = customOf(LIMIT + 1, 'big');
    expect(statusEvent(1, '1', 'big', value).length).toBe(LIMIT + 1);
    const client = await serveSized((id) => (id === 'big' ? value : 'small'), cutFive);
    const states: ConnectionState[] = [];
    client.connection$.subscribe((state) => states.push(state));
    // Subscribed in one request: the big event comes first, then the small one.
    const big = firstValueFrom(client.status$('big')).catch((e: unknown) => e);
    const small = firstValueFrom(client.status$('small'));
    const error = await within(big, 'the big watch failed');
    expect(error).toBeInstanceOf(RemoteError);
    expect(error).toMatchObject(tooLong);
    // The same value would come again as long: the React hooks do not subscribe again.
    expect(isRetryableForHooks(error)).toBe(false);
    expect(await within(small, 'the small status')).toMatchObject({ instanceId: 'small', customStatus: 'small' });
    expect(states.at(-1)).toEqual({ state: 'live' });
  });

  it('refuses a maxResponseBytes that is not a positive integer', () => {
    for (const maxResponseBytes of [0, -1, 1.5, NaN, Infinity]) {
      expect(() => createRemoteClient({ baseUrl: 'http://127.0.0.1:1', maxResponseBytes })).toThrow(/maxResponseBytes/);
    }
  });
});
