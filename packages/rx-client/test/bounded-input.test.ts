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
 * A hostile server on 127.0.0.1: its event stream opens a session, then, once the first subscription request arrives,
 * writes `start` and then `piece` again and again until the client lets go of the connection (`streamClosed`); a later
 * one, on a later stream, is answered with a status event for each watch it subscribes (the instance as named). Every
 * command is answered 200 with a JSON body that never ends (`[` then `0,` for ever) until its client lets go
 * (`commandClosed`). `deleted` resolves when the client deletes its (first) session.
 */
async function serveHostile(piece: string, start = 'event: status\n') {
  let closeStream!: () => void;
  let closeCommand!: () => void;
  let deleteSession!: () => void;
  const streamClosed = new Promise<void>((resolve) => (closeStream = resolve));
  const commandClosed = new Promise<void>((resolve) => (closeCommand = resolve));
  const deleted = new Promise<void>((resolve) => (deleteSession = resolve));
  let stream: ServerResponse | undefined;
  let streams = 0;
  let requests = 0;
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
  const server = createServer(async (request, response) => {
    const path = request.url!.slice(WEBHOOK_PATH.length);
    let body = '';
    for await (const text of request.setEncoding('utf8')) body += text;
    if (path === '/streams') {
      stream = response.writeHead(200, { 'content-type': 'text/event-stream' });
      stream.write(`event: session\nid: s${++streams}.0\ndata: {"session":"s${streams}"}\n\n`);
    } else if (path.endsWith('/subscriptions')) {
      response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      if (++requests === 1) flood(stream!, start, piece, closeStream);
      else {
        for (const { sub, instanceId } of (JSON.parse(body) as { subscribe?: { sub: string; instanceId: string }[] }).subscribe ?? []) {
          const status = { instanceId, name: 'N', runtimeStatus: 'Running', createdTime: '2026-01-01T00:00:00.000Z', lastUpdatedTime: '2026-01-01T00:00:00.000Z' };
          stream!.write(`event: status\nid: s${streams}.${requests}\ndata: ${JSON.stringify({ sub, data: status })}\n\n`);
        }
      }
    } else if (request.method === 'DELETE') {
      response.writeHead(204).end();
      if (path.startsWith('/streams/s1')) deleteSession();
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

  // A client's first subscription is `1`: the flood names the watch of `a`, subscribed first.
  for (const [what, start, piece] of [
    ['a data line that never ends', 'event: status\ndata: {"sub":"1","data":"', 'x'.repeat(4096)],
    ['data lines never closed by an empty line', 'event: status\ndata: {"sub":"1","data":[\n', `data: ${'0,'.repeat(2045)}\n`],
  ] as const) {
    it(`fails the watch an endless event names for good, then the stream once ${what} passes twice maxResponseBytes; the other watches read on when subscribed again`, async () => {
      const server = await serveHostile(piece, start);
      const states: ConnectionState[] = [];
      server.client.connection$.subscribe((state) => states.push(state));
      // Subscribed in one request: `a` first.
      const named = firstValueFrom(server.client.status$('a')).catch((e: unknown) => e);
      const other = firstValueFrom(server.client.status$('b')).catch((e: unknown) => e);
      const error = await within(named, 'the named watch failed');
      expect(error).toBeInstanceOf(RemoteError);
      expect(error).toMatchObject(tooLong);
      expect(isRetryableForHooks(error)).toBe(false);
      // The rest of the event is skipped for another maxResponseBytes at most, not read for ever: then the stream fails.
      const streamError = await within(other, 'the stream failed');
      expect(streamError).toBeInstanceOf(RemoteError);
      expect(streamError).toMatchObject(tooLong);
      expect(states.at(-1)).toEqual({ state: 'failed', error: streamError });
      // The watch it named has failed for good (and stays so for the hooks): the others are not denied for it, the
      // hooks subscribe them again.
      expect(isRetryableForHooks(streamError)).toBe(true);
      expect(isRetryableForHooks(error)).toBe(false);
      await within(server.streamClosed, 'the stream connection was let go');
      await within(server.deleted, 'the session was deleted');
      expect(server.streams()).toBe(1);
      await vi.waitFor(() => expect(server.clock.pendingTimers).toBe(0), { timeout: 10_000 });
      // Subscribed again, as the hooks do: read on a new stream.
      const again = await within(firstValueFrom(server.client.status$('b')), 'b on a new stream');
      expect(again).toMatchObject({ instanceId: 'b', runtimeStatus: 'Running' });
      expect(server.streams()).toBe(2);
      expect(states.at(-1)).toEqual({ state: 'live' });
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
   * `custom(instanceId)`), its UTF-8 bytes written as `cut` splits them, the events of one request in the order
   * subscribed; every command is answered with `{ id }`.
   */
  async function serveSized(custom: (instanceId: string) => string, cut: (event: Buffer) => Buffer[], id = '') {
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
            for (const piece of cut(Buffer.from(statusEvent(++seq, sub, instanceId, custom(instanceId))))) stream!.write(piece);
          }
        } else if (request.method === 'DELETE') {
          response.writeHead(204).end();
        } else {
          response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ id }));
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
  /** Characters of 1, 2, 3 and 4 bytes in UTF-8 (10 bytes, 5 UTF-16 code units). */
  const MIXED = 'a\u00e9\u20ac\u{1F600}';
  /** `unit` repeated, then `y`s, to fill `bytes` bytes of UTF-8. */
  const fill = (bytes: number, unit: string): string => {
    const n = Math.floor(bytes / Buffer.byteLength(unit));
    return unit.repeat(n) + 'y'.repeat(bytes - n * Buffer.byteLength(unit));
  };
  /** The custom status whose event (the first, subscription 1, of instance `instanceId`) is `bytes` bytes on the wire. */
  const customOf = (bytes: number, instanceId: string, unit = 'y'): string =>
    fill(bytes - Buffer.byteLength(statusEvent(1, '1', instanceId, '')), unit);
  /**
   * Cut into five chunks: in the middle of its data (inside a character of several bytes when one is there), at the end
   * of its data line, and between its two line ends.
   */
  const cutFive = (event: Buffer): Buffer[] => {
    let a = event.length >> 1;
    while ((event[a]! & 0xc0) !== 0x80 && a < (event.length >> 1) + 4) a++;
    return [event.subarray(0, a), event.subarray(a, -3), event.subarray(-3, -2), event.subarray(-2, -1), event.subarray(-1)];
  };

  for (const unit of ['y', MIXED]) {
    const of = unit === 'y' ? '' : ', in characters of 1 to 4 bytes';
    it(`reads an event and an answer of exactly maxResponseBytes bytes${of}, however the event is cut`, async () => {
      const value = customOf(LIMIT, 'a', unit);
      expect(Buffer.byteLength(statusEvent(1, '1', 'a', value))).toBe(LIMIT);
      const id = fill(LIMIT - '{"id":""}'.length, unit);
      const client = await serveSized(() => value, cutFive, id);
      await expect(client.startNew('N')).resolves.toBe(id);
      const custom = await within(firstValueFrom(client.customStatus$('a').pipe(filter((c) => c !== undefined))), 'the status');
      expect(custom).toBe(value);
    });

    it(`rejects a command whose answer is one byte over maxResponseBytes${of}`, async () => {
      const client = await serveSized(() => '', cutFive, fill(LIMIT + 1 - '{"id":""}'.length, unit));
      const error = await within(client.startNew('N').catch((e: unknown) => e), 'the command failed');
      expect(error).toBeInstanceOf(RemoteError);
      expect(error).toMatchObject({ ...tooLong, message: expect.stringContaining('An answer') });
    });
  }

  it('fails only the watch whose event is one byte over maxResponseBytes, in characters of 1 to 4 bytes; the stream reads on past it', async () => {
    const value = customOf(LIMIT + 1, 'big', MIXED);
    expect(Buffer.byteLength(statusEvent(1, '1', 'big', value))).toBe(LIMIT + 1);
    // Fewer characters than bytes: counted in characters, the event would be read.
    expect(statusEvent(1, '1', 'big', value).length).toBeLessThan(LIMIT * 0.6);
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
