import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { WEBHOOK_PATH } from '../src/client/http-management-payload.js';
import { apiWorkload, servedRuntimes, withKey } from './served-runtimes.js';
import { within } from './within.js';

/** The HTTP workload's registries: a runtime takes no member it does not know (`flaky` is the tests'). */
const registries = () => {
  const { orchestrators, activities } = apiWorkload();
  return { orchestrators, activities };
};

/**
 * serve(): an answer sent before the request body arrived whole (413 for a body over the limit, 401, 404, ... given
 * without reading it) says `Connection: close` (RFC 9112, 9.6), and the connection ends cleanly after it: the client
 * reads the whole answer, nothing resets the connection while the client is still sending, and its next request, on a
 * new connection, is answered. Before, the answer said `keep-alive` and @hono/node-server destroyed the socket about
 * 500 ms later, so the next request sent on it got no answer. A request whose body was read whole keeps its connection.
 */

const KEY = 'k3y-early-answer';
const served = servedRuntimes(KEY);

/** A parsed HTTP/1.1 response. */
interface RawResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/** A raw connection to the server: what it received, whether the server ended its side, how it closed. */
interface RawConnection {
  readonly socket: Socket;
  /** Resolves with the first `count` responses once they have arrived whole (rejects if the connection closes first). */
  responses(count: number): Promise<RawResponse[]>;
  /** Every response received whole so far. */
  received(): RawResponse[];
  /** Resolves when the server ended its side of the connection (its FIN). */
  readonly ended: Promise<void>;
  /** Resolves when the connection closed, with whether it closed on an error (a reset, a write to a reset connection). */
  readonly closed: Promise<{ readonly hadError: boolean; readonly errors: readonly string[] }>;
}

async function rawConnection(port: number): Promise<RawConnection> {
  const socket = connect(port, '127.0.0.1');
  const errors: string[] = [];
  socket.on('error', (error: NodeJS.ErrnoException) => errors.push(error.code ?? error.message));
  const ended = once(socket, 'end').then(() => undefined);
  const closed = once(socket, 'close').then(([hadError]) => ({ hadError: hadError as boolean, errors }));
  await once(socket, 'connect');
  let text = '';
  const waiting = new Set<() => void>();
  socket.on('data', (chunk: Buffer) => {
    text += chunk.toString('latin1');
    for (const check of waiting) check();
  });
  const received = (): RawResponse[] => parseResponses(text);
  return {
    socket,
    received,
    ended,
    closed,
    responses: (count) => within(new Promise<RawResponse[]>((resolve, reject) => {
      const check = (): void => {
        const whole = received();
        if (whole.length < count) return;
        waiting.delete(check);
        resolve(whole.slice(0, count));
      };
      waiting.add(check);
      check();
      void closed.then(() => {
        check();
        if (waiting.delete(check)) reject(new Error(`the connection closed after ${received().length} of ${count} responses`));
      });
    }), `${count} response(s)`),
  };
}

/** The whole responses at the start of `text` (bodies with Content-Length or chunked). */
function parseResponses(text: string): RawResponse[] {
  const responses: RawResponse[] = [];
  let rest = text;
  for (;;) {
    const headEnd = rest.indexOf('\r\n\r\n');
    if (headEnd < 0) return responses;
    const [statusLine, ...lines] = rest.slice(0, headEnd).split('\r\n');
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(':');
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    let body: string;
    let next: number;
    if (headers['content-length'] !== undefined) {
      next = headEnd + 4 + Number(headers['content-length']);
      if (rest.length < next) return responses;
      body = rest.slice(headEnd + 4, next);
    } else {
      const last = rest.indexOf('\r\n0\r\n\r\n', headEnd);
      if (last < 0) return responses;
      body = rest.slice(headEnd + 4, last).replace(/(?:^|\r\n)[0-9a-f]+\r\n/g, '');
      next = last + 7;
    }
    responses.push({ status: Number(statusLine!.split(' ')[1]), headers, body });
    rest = rest.slice(next);
  }
}

const head = (method: string, path: string, headers: Record<string, string | number>): string =>
  `${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`;

const CHUNK = 'x'.repeat(64 * 1024);

/** The connection ended as a clean close: the server's FIN, then no reset or failed write on the client's side. */
async function endsCleanly(connection: RawConnection): Promise<void> {
  await within(connection.ended, 'the server ending its side');
  connection.socket.end();
  expect(await within(connection.closed, 'the connection closing')).toEqual({ hadError: false, errors: [] });
}

describe('serve: an answer sent before the request body was read', () => {
  it('a 413 for a chunked body over the limit says Connection: close, arrives whole, and the connection ends cleanly', async () => {
    const { server, base } = await served.open(registries());
    const connection = await rawConnection(server.port);
    // 2.5 MiB in chunks (the limit is 1 MiB), all written at once, then a start pipelined behind the body.
    connection.socket.write(head('POST', `${WEBHOOK_PATH}/orchestrators/Echo/too-big`, {
      Authorization: `Bearer ${KEY}`, 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked',
    }) + '1\r\n"\r\n');
    for (let i = 0; i < 40; i++) connection.socket.write(`${CHUNK.length.toString(16)}\r\n${CHUNK}\r\n`);
    const behind = JSON.stringify('second');
    connection.socket.write('1\r\n"\r\n0\r\n\r\n' + head('POST', `${WEBHOOK_PATH}/orchestrators/Echo/behind`, {
      Authorization: `Bearer ${KEY}`, 'Content-Type': 'application/json', 'Content-Length': behind.length,
    }) + behind);
    const [answer] = await connection.responses(1);
    expect(answer!.status).toBe(413);
    expect(answer!.headers.connection).toBe('close');
    expect(JSON.parse(answer!.body)).toMatchObject({ code: 'payload-too-large' });
    await endsCleanly(connection);
    // The start sent behind the body on that connection was neither answered nor run: the answer said the connection
    // closes, so the client sends it again on a new one, where it must not have been applied already.
    expect(connection.received()).toHaveLength(1);
    // The next requests (on a new connection) are answered: nothing was started.
    for (const id of ['too-big', 'behind']) {
      const next = await fetch(`${base}/instances/${id}`, withKey(KEY));
      expect(next.status).toBe(404);
      await next.body?.cancel();
    }
  }, 60_000);

  it('a 413 for a Content-Length over the limit, sent before the body: the client keeps uploading without a reset', async () => {
    const { server, base } = await served.open(registries());
    const connection = await rawConnection(server.port);
    connection.socket.write(head('POST', `${WEBHOOK_PATH}/orchestrators/Echo/too-big`, {
      Authorization: `Bearer ${KEY}`, 'Content-Type': 'application/json', 'Content-Length': 3 * 1024 * 1024,
    }) + `"${CHUNK}`);
    const [answer] = await connection.responses(1);
    expect(answer!.status).toBe(413);
    expect(answer!.headers.connection).toBe('close');
    // A client still sending its body (as a browser uploading does) goes on after the answer: the server reads and
    // drops it, so these writes meet no reset (a close at once would reset them: EPIPE or ECONNRESET).
    for (let i = 0; i < 16; i++) connection.socket.write(CHUNK);
    await endsCleanly(connection);
    const next = await fetch(`${base}/instances`, withKey(KEY));
    expect(next.status).toBe(200);
    await next.body?.cancel();
  }, 60_000);

  it.each([
    { what: 'an HTTP/1.1 request without Host', head: `POST ${WEBHOOK_PATH}/orchestrators/Echo/no-host HTTP/1.1\r\n` },
    { what: 'a backslash in the path', head: `POST ${WEBHOOK_PATH}/orchestrators\\Echo/x HTTP/1.1\r\nHost: 127.0.0.1\r\n` },
  ])('a 400 serve() gives before the handler ($what), sent before the body: the client keeps uploading without a reset', async ({ head: start }) => {
    const { server, base } = await served.open(registries());
    const connection = await rawConnection(server.port);
    connection.socket.write(`${start}Authorization: Bearer ${KEY}\r\nContent-Type: application/json\r\nContent-Length: ${3 * 1024 * 1024}\r\n\r\n"${CHUNK}`);
    const [answer] = await connection.responses(1);
    expect(answer!.status).toBe(400);
    expect(answer!.headers.connection).toBe('close');
    expect(JSON.parse(answer!.body)).toMatchObject({ code: 'invalid-argument' });
    // As after a 413: the server reads and drops the rest of the body, so these writes meet no reset.
    for (let i = 0; i < 16; i++) connection.socket.write(CHUNK);
    await endsCleanly(connection);
    const next = await fetch(`${base}/instances`, withKey(KEY));
    expect(next.status).toBe(200);
    await next.body?.cancel();
  }, 60_000);

  it.each([
    { what: 'a wrong key (401)', path: `${WEBHOOK_PATH}/orchestrators/Echo/e`, key: 'wrong', status: 401 },
    { what: 'an unknown route (404)', path: `${WEBHOOK_PATH}/nowhere`, key: KEY, status: 404 },
  ])('$what, answered with the body unread, says Connection: close too', async ({ path, key, status }) => {
    const { server } = await served.open(registries());
    const connection = await rawConnection(server.port);
    // 100 000 bytes promised, a few sent: the answer comes before the body.
    connection.socket.write(head('POST', path, {
      Authorization: `Bearer ${key}`, 'Content-Type': 'application/json', 'Content-Length': 100_000,
    }) + '{"a":"');
    const [answer] = await connection.responses(1);
    expect(answer!.status).toBe(status);
    expect(answer!.headers.connection).toBe('close');
    await endsCleanly(connection);
  }, 60_000);

  it('a client that keeps sending after a 404 (the body dumped unread) is cut off past the 64 MiB cap', async () => {
    const { server } = await served.open(registries());
    // allowHalfOpen: the server's FIN does not end this side, so only the server's caps can close the connection.
    const socket = connect({ port: server.port, host: '127.0.0.1', allowHalfOpen: true });
    socket.on('error', () => undefined); // the cut-off fails the writes still under way (EPIPE, ECONNRESET)
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    await once(socket, 'connect');
    let text = '';
    socket.on('data', (chunk: Buffer) => void (text += chunk.toString('latin1')));
    const PUSH = 2 * 1024 * 1024 * 1024; // 32 times the cap, all promised by the request
    socket.write(head('POST', `${WEBHOOK_PATH}/nowhere`, {
      Authorization: `Bearer ${KEY}`, 'Content-Type': 'application/json', 'Content-Length': PUSH,
    }));
    await within(new Promise<void>((resolve) => {
      const answered = (): void => void (parseResponses(text).length > 0 && (socket.off('data', answered), resolve()));
      socket.on('data', answered);
    }), 'the 404');
    expect(parseResponses(text)[0]!.status).toBe(404);
    // Pushes the promised body as fast as the connection takes it, until it closes or all of it was written.
    const block = Buffer.alloc(1024 * 1024, 'x');
    let pushed = 0;
    let open = true;
    void closed.then(() => (open = false));
    while (open && pushed < PUSH) {
      pushed += block.byteLength;
      if (!socket.write(block)) await Promise.race([new Promise((resolve) => socket.once('drain', resolve)), closed]);
    }
    socket.end(); // all of it written (the server read it all): ending this side lets the server close at once
    await within(closed, 'the connection closing');
    // Before, the dumped body was never counted: the server read all of it (only its 30 s and 2 s caps would end it).
    expect(pushed).toBeLessThan(PUSH);
  }, 120_000);

  it('a request whose body was read whole keeps its connection: the next request on it is answered', async () => {
    const { server } = await served.open(registries());
    const connection = await rawConnection(server.port);
    const body = JSON.stringify({ n: 1 });
    connection.socket.write(head('POST', `${WEBHOOK_PATH}/orchestrators/Echo/kept`, {
      Authorization: `Bearer ${KEY}`, 'Content-Type': 'application/json', 'Content-Length': body.length,
    }) + body);
    const [started] = await connection.responses(1);
    expect(started!.status).toBe(202);
    expect(started!.headers.connection).not.toBe('close');
    connection.socket.write(head('GET', `${WEBHOOK_PATH}/instances/kept`, { Authorization: `Bearer ${KEY}` }));
    const [, status] = await connection.responses(2);
    expect(status!.status).toBe(200);
    expect(JSON.parse(status!.body)).toMatchObject({ instanceId: 'kept' });
    connection.socket.end();
    expect(await within(connection.closed, 'the connection closing')).toEqual({ hadError: false, errors: [] });
  }, 60_000);
});
