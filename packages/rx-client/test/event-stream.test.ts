import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { openEventStream } from '../src/event-stream.js';

/** One stream request the server got, and a promise settled when its connection closes. */
interface Connection {
  readonly closed: Promise<void>;
}

/** A real HTTP server on 127.0.0.1 whose every request gets an event stream that sends one event and stays open. */
async function serveStreams() {
  const connections: Connection[] = [];
  const arrivals: ((connection: Connection) => void)[] = [];
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const closed = new Promise<void>((resolve) => response.once('close', () => resolve()));
    response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
    response.write(`id: s.${connections.length + 1}\nevent: status\ndata: {"n":${connections.length + 1}}\n\n`);
    const connection = { closed };
    connections.push(connection);
    arrivals.splice(0).forEach((notify) => notify(connection));
    request.resume();
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/streams`,
    connections,
    /** Resolves with the `n`th connection (1-based) once it has arrived. */
    connection(n: number): Promise<Connection> {
      if (connections.length >= n) return Promise.resolve(connections[n - 1]!);
      return new Promise((resolve) => {
        const wait = () => (connections.length >= n ? resolve(connections[n - 1]!) : arrivals.push(wait));
        arrivals.push(wait);
      });
    },
  };
}

/** `promise`, or a rejection saying `what` did not happen within a bound no healthy run comes near. */
function within<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const bound = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} within 30 s`)), 30_000);
  });
  return Promise.race([promise, bound]).finally(() => clearTimeout(timer));
}

const servers: Server[] = [];
const stops: (() => void)[] = [];

afterEach(async () => {
  for (const stop of stops.splice(0)) stop();
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

describe('openEventStream', () => {
  it('closes the connection whose handling threw before it reconnects, so failures leak no connection', async () => {
    const server = await serveStreams();
    const failure = new Error('the handler could not take this event');
    const retried: unknown[] = [];
    const stop = openEventStream(
      { url: server.url, headers: {}, fetch: globalThis.fetch, reconnect: { initialDelayMs: 10 } },
      {
        event: () => {
          throw failure;
        },
        retrying: (error) => retried.push(error),
        end: () => undefined,
      },
    );
    stops.push(stop);
    const first = await server.connection(1);
    await server.connection(2); // the client reconnected after the throw ...
    await within(first.closed, 'the server saw the first connection closed'); // ... and let the first one go
    expect(retried[0]).toBe(failure);
  });
});
