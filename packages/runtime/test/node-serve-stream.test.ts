import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WEBHOOK_PATH } from '../src/client/http-management-payload.js';
import { createHttpHandler } from '../src/http/create-http-handler.js';
import { toNativeWireStatus } from '../src/http/wire-status.js';
import { versionedStatus$ } from '../src/client/versioned-status.js';
import { silentLogger } from '../src/env/logger.js';
import { serve, type NodeServer } from '../src/node/serve.js';
import { MemoryStore } from '../src/store/memory-store.js';
import { createRuntime, type Runtime } from '../src/runtime/create-runtime.js';
import { echo } from '../src/testing/samples.js';
import { SETTLED } from '../src/testing/settled.js';

/**
 * `serve` writes event streams to the socket itself, framing each event as one HTTP/1.1 chunk. Read here from raw
 * sockets, so that the framing is checked byte by byte: values larger than one copy (written without copying),
 * non-ASCII text (byte lengths, not string lengths), an HTTP/1.0 client (no chunked encoding) and a pipelined
 * request whose response waits behind another one (written through the response object until it gets the socket;
 * past the backlog limit its session waits for that response's `drain`). And a request without `Host` (HTTP/1.0),
 * whose answer names URLs on the listening host and port.
 */

const KEY = 'node-key';
const opened: { server: NodeServer; runtime: Runtime }[] = [];
const sockets: Socket[] = [];

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  for (const { server, runtime } of opened.splice(0)) {
    await server.close();
    await runtime.stop();
  }
});

async function open(): Promise<{ runtime: Runtime; server: NodeServer }> {
  const runtime = createRuntime({ store: new MemoryStore(), orchestrators: { Echo: echo }, activities: {}, logger: silentLogger });
  await runtime.start();
  const server = await serve(createHttpHandler(runtime.client, { key: KEY, logger: silentLogger }), { port: 0 });
  opened.push({ server, runtime });
  return { runtime, server };
}

/** Every status `status$` pushes for `id`, in the wire form (with its commit version, as the stream sends it), until it is terminal. */
function reference(runtime: Runtime, id: string): Promise<string[]> {
  const values: string[] = [];
  return new Promise((resolve, reject) => {
    const subscription = versionedStatus$(runtime.client, id).subscribe({
      next: ({ status, version }) => {
        values.push(JSON.stringify(status ? { ...toNativeWireStatus(status), version } : null));
        if (status?.runtimeStatus === 'Completed') {
          resolve(values);
          queueMicrotask(() => subscription.unsubscribe());
        }
      },
      error: reject,
    });
  });
}

/** A raw HTTP/1 connection: sends requests as given and keeps every byte the server sends back. */
class RawConnection {
  readonly #socket: Socket;
  /** What was received: the first `#length` bytes of a buffer that doubles as it fills (a stream of many MB stays linear). */
  #buffer = Buffer.alloc(0);
  #length = 0;
  #ended = false;
  #failure: Error | undefined;
  #wake: (() => void) | undefined;

  constructor(server: NodeServer, requests: string, readonly http10 = false) {
    this.#socket = connect(server.port, server.hostname);
    sockets.push(this.#socket);
    this.#socket.on('data', (chunk: Buffer) => {
      if (this.#length + chunk.length > this.#buffer.length) {
        const grown = Buffer.allocUnsafe(Math.max(2 * this.#buffer.length, this.#length + chunk.length));
        this.#buffer.copy(grown, 0, 0, this.#length);
        this.#buffer = grown;
      }
      chunk.copy(this.#buffer, this.#length);
      this.#length += chunk.length;
      this.#wake?.();
    });
    this.#socket.once('end', () => {
      this.#ended = true;
      this.#wake?.();
    });
    this.#socket.once('error', (error) => {
      this.#failure = error;
      this.#wake?.();
    });
    this.#socket.write(requests);
  }

  /** Resolves once what was received contains `text`. */
  async sees(text: string): Promise<void> {
    await this.#until(() => this.#received.includes(text));
  }

  /** The first `count` responses, once they are complete. */
  async responses(count: number): Promise<RawResponse[]> {
    let parsed: RawResponse[] = [];
    await this.#until(() => (parsed = parseResponses(this.#received, this.#ended && this.http10).complete).length >= count);
    return parsed;
  }

  /** The body of the first response so far, once it contains `text`. */
  async bodyWith(text: string): Promise<string> {
    let body = '';
    await this.#until(() => (body = parseResponses(this.#received, false).partial?.() ?? '').includes(text));
    return body;
  }

  get #received(): Buffer {
    return this.#buffer.subarray(0, this.#length);
  }

  async #until(done: () => boolean): Promise<void> {
    while (!done()) {
      if (this.#failure) throw this.#failure;
      if (this.#ended) throw new Error(`the connection ended: ${this.#received.toString('latin1').slice(0, 300)}`);
      await new Promise<void>((resolve) => (this.#wake = resolve));
    }
  }
}

interface RawResponse {
  readonly head: string;
  /** The body, decoded from its chunks (or as sent, for a response without chunked encoding). */
  readonly body: string;
}

/**
 * The complete responses at the start of `bytes` (a response without a length is complete when `closed`), and the
 * body received so far of a chunked response that is not.
 */
function parseResponses(bytes: Buffer, closed: boolean): { complete: RawResponse[]; partial?: () => string } {
  const responses: RawResponse[] = [];
  const parts: Buffer[] = [];
  // Decoded when asked for: a caller waiting for complete responses does not decode a partial one of many MB each time.
  const partial = () => ({ complete: responses, partial: () => Buffer.concat(parts).toString('utf8') });
  let at = 0;
  for (;;) {
    const headEnd = bytes.indexOf('\r\n\r\n', at);
    if (headEnd < 0) return { complete: responses };
    const head = bytes.subarray(at, headEnd).toString('latin1');
    let position = headEnd + 4;
    if (!/\r\ntransfer-encoding: chunked/i.test(head)) {
      if (closed) responses.push({ head, body: bytes.subarray(position).toString('utf8') });
      return { complete: responses };
    }
    parts.length = 0;
    for (;;) {
      const lineEnd = bytes.indexOf('\r\n', position);
      if (lineEnd < 0) return partial();
      const line = bytes.subarray(position, lineEnd).toString('latin1');
      if (!/^[0-9a-f]+$/.test(line)) throw new Error(`not a chunk size: ${JSON.stringify(line)}`);
      const size = Number.parseInt(line, 16);
      if (bytes.length < lineEnd + 2 + size + 2) return partial();
      parts.push(bytes.subarray(lineEnd + 2, lineEnd + 2 + size));
      const after = bytes.subarray(lineEnd + 2 + size, lineEnd + 4 + size).toString('latin1');
      if (after !== '\r\n') throw new Error(`a chunk of ${size} bytes is followed by ${JSON.stringify(after)}`);
      position = lineEnd + 4 + size;
      if (size === 0) break;
    }
    responses.push({ head, body: Buffer.concat(parts).toString('utf8') });
    at = position;
  }
}

/** The `data` of the `status` events of an SSE body, and the name of its last event. */
function events(body: string): { statuses: string[]; last: string | undefined } {
  const blocks = body.split('\n\n').filter((block) => block.startsWith('event: '));
  const statuses = blocks.filter((block) => block.startsWith('event: status\n')).map((block) => /\ndata: (.*)$/.exec(block)![1]!);
  return { statuses, last: /^event: (\S+)/.exec(blocks.at(-1) ?? '')?.[1] };
}

const request = (path: string, version = '1.1') =>
  `GET ${WEBHOOK_PATH}${path} HTTP/${version}\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${KEY}\r\nAccept: text/event-stream\r\n\r\n`;

/** An input larger than what the writer copies per connection, with characters of two, three and four UTF-8 bytes. */
const BIG = `${'é€😀'.repeat(3000)}${'x'.repeat(20_000)}`;

describe('serve: event streams written to the socket', () => {
  it('frames every event as one chunk of its UTF-8 bytes, for small and large values', async () => {
    const { runtime, server } = await open();
    const expected = reference(runtime, 'big');
    const connection = new RawConnection(server, request('/instances/big/stream?untilTerminal=true'));
    await connection.sees('event: status');
    await runtime.client.startNew('Echo', { instanceId: 'big', input: { text: BIG, note: 'ünïcödé' } });
    const [response] = await connection.responses(1);
    expect(response!.head).toMatch(/^HTTP\/1\.1 200/);
    const { statuses, last } = events(response!.body);
    expect(statuses.at(-1)).toContain(BIG);
    expect(statuses).toEqual((await expected).slice(-statuses.length));
    expect(statuses[0]).toBe('null');
    expect(last).toBe('end');
  });

  it('frames the events of a session whose subscription id is not ASCII by their byte length', async () => {
    const { runtime, server } = await open();
    const expected = reference(runtime, 'multi');
    const connection = new RawConnection(server, request('/streams'));
    const session = (JSON.parse(/\ndata: (.*)\n/.exec(await connection.bodyWith('event: session'))![1]!) as { session: string }).session;
    const sub = 'ünï-€-😀';
    const answer = await fetch(`${server.url}${WEBHOOK_PATH}/streams/${session}/subscriptions`, {
      method: 'POST', headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ subscribe: [{ sub, kind: 'status', instanceId: 'multi', untilTerminal: true }] }),
    });
    expect(answer.status).toBe(200);
    await connection.bodyWith('event: status');
    await runtime.client.startNew('Echo', { instanceId: 'multi', input: { text: BIG } });
    const body = await connection.bodyWith('event: close');
    const values = body.split('\n\n').filter((block) => block.startsWith('event: status\n'))
      .map((block) => JSON.parse(/\ndata: (.*)$/.exec(block)![1]!) as { sub: string; data: unknown });
    expect(values.every((value) => value.sub === sub)).toBe(true);
    expect(values.map((value) => JSON.stringify(value.data))).toEqual((await expected).slice(-values.length));
    expect(JSON.stringify(values.at(-1)!.data)).toContain(BIG);
  });

  it('writes the event stream unframed to an HTTP/1.0 client and ends it by closing the connection', async () => {
    const { runtime, server } = await open();
    const expected = reference(runtime, 'old');
    const connection = new RawConnection(server, request('/instances/old/stream?untilTerminal=true', '1.0'), true);
    await connection.sees('event: status');
    await runtime.client.startNew('Echo', { instanceId: 'old', input: 'ünïcödé' });
    const [response] = await connection.responses(1);
    expect(response!.head).not.toMatch(/transfer-encoding/i);
    const { statuses, last } = events(response!.body);
    expect(statuses).toEqual((await expected).slice(-statuses.length));
    expect(statuses[0]).toBe('null');
    expect(last).toBe('end');
  });

  it('keeps the events of a pipelined stream until the response in front of it ends, then sends them in order', async () => {
    const { runtime, server } = await open();
    const front = reference(runtime, 'front');
    const behind = reference(runtime, 'behind');
    const connection = new RawConnection(server, request('/instances/front/stream?untilTerminal=true') + request('/instances/behind/stream?untilTerminal=true'));
    await connection.sees('event: status');
    // `behind` completes while its response still waits for the socket; `front` completes afterwards.
    await runtime.client.startNew('Echo', { instanceId: 'behind', input: { text: BIG } });
    await runtime.client.waitForCompletion('behind', SETTLED);
    await runtime.client.startNew('Echo', { instanceId: 'front', input: 'ünïcödé' });
    const [first, second] = await connection.responses(2);
    const frontEvents = events(first!.body);
    const behindEvents = events(second!.body);
    expect(frontEvents.statuses[0]).toBe('null');
    expect(frontEvents.statuses).toEqual((await front).slice(-frontEvents.statuses.length));
    expect(behindEvents.statuses).toEqual((await behind).slice(-behindEvents.statuses.length));
    expect(behindEvents.statuses.at(-1)).toContain(BIG);
    expect([frontEvents.last, behindEvents.last]).toEqual(['end', 'end']);
  });

  // The response behind holds its events (written through ServerResponse) until the one in front ends: more than the
  // backlog limit (4 MiB) of them holds its session, which goes on only when the response tells it drained ('drain',
  // once it has the socket and the socket took them).
  it('holds a pipelined stream more than the backlog limit behind until its response drained, then sends the rest in order', async () => {
    const { runtime, server } = await open();
    const front = reference(runtime, 'front');
    const behind = reference(runtime, 'behind');
    const connection = new RawConnection(server, request('/instances/front/stream?untilTerminal=true') + request('/instances/behind/stream?untilTerminal=true'));
    await connection.sees('event: status');
    // Its first status with the input (the one it opens with or a later one, as its request was served before the
    // start or after) is more than the limit: written whole, and the session is held, so what comes after it (the
    // statuses after it, and in any case the stream's end) waits until the response drains.
    const large = 'x'.repeat(4.5 * 1024 * 1024);
    await runtime.client.startNew('Echo', { instanceId: 'behind', input: large });
    await runtime.client.waitForCompletion('behind', SETTLED);
    await runtime.client.startNew('Echo', { instanceId: 'front', input: 'a' });
    const [first, second] = await connection.responses(2);
    const frontEvents = events(first!.body);
    const behindEvents = events(second!.body);
    expect(frontEvents.statuses).toEqual((await front).slice(-frontEvents.statuses.length));
    expect(frontEvents.last).toBe('end');
    const expected = await behind;
    expect(behindEvents.statuses).toEqual(expected.slice(-behindEvents.statuses.length));
    expect(behindEvents.statuses.at(-1)).toContain('"runtimeStatus":"Completed"');
    expect(behindEvents.last).toBe('end');
  });

  it('opens no stream for a client that left before its answer was written: the stream holds no slot or subscription', async () => {
    const runtime = createRuntime({ store: new MemoryStore(), orchestrators: { Echo: echo }, activities: {}, logger: silentLogger });
    await runtime.start();
    const handler = createHttpHandler(runtime.client, { key: KEY, logger: silentLogger, maxStreams: 1 });
    let arrived!: () => void;
    let left!: () => void;
    let answered!: () => void;
    const arrival = new Promise<void>((resolve) => (arrived = resolve));
    const departure = new Promise<void>((resolve) => (left = resolve));
    const answer = new Promise<void>((resolve) => (answered = resolve));
    let first = true;
    const server = await serve(Object.assign(async (incoming: Request) => {
      if (!first) return handler(incoming);
      first = false;
      arrived();
      await departure; // the client is gone before the handler answers
      const response = await handler(incoming);
      answered();
      return response;
    }, { close: handler.close }), { port: 0 });
    opened.push({ server, runtime });
    server.server.once('connection', (socket: Socket) => socket.once('close', left));
    const early = connect(server.port, server.hostname);
    sockets.push(early);
    early.write(request('/instances/early/stream'));
    await arrival;
    early.destroy();
    await answer;
    // Had the early stream opened, it would hold the one slot (maxStreams: 1) for ever: its socket's close came before it.
    const controller = new AbortController();
    const next = await fetch(`${server.url}${WEBHOOK_PATH}/instances/next/stream`, { headers: { authorization: `Bearer ${KEY}` }, signal: controller.signal });
    expect(next.status).toBe(200);
    controller.abort();
  });
});

describe('serve: a request without Host', () => {
  it('is addressed to the listening host and port, so the URLs of its answer (statusQueryGetUri, Location) reach the server', async () => {
    // HTTP/1.0 has no Host header: the request target is the path alone.
    const { runtime, server } = await open();
    const start = `POST ${WEBHOOK_PATH}/orchestrators/Echo/no-host HTTP/1.0\r\nAuthorization: Bearer ${KEY}\r\n`
      + 'Content-Type: application/json\r\nContent-Length: 1\r\n\r\n1';
    const [response] = await new RawConnection(server, start, true).responses(1);
    expect(response!.head).toMatch(/^HTTP\/1\.[01] 202 /);
    const link = `${server.url}${WEBHOOK_PATH}/instances/no-host`;
    expect(response!.head.toLowerCase()).toContain(`\r\nlocation: ${link}`);
    expect(JSON.parse(response!.body)).toMatchObject({ id: 'no-host', statusQueryGetUri: link });
    await runtime.client.waitForCompletion('no-host', SETTLED);
    const status = await fetch(link, { headers: { authorization: `Bearer ${KEY}` } });
    expect(status.status).toBe(200);
    expect(await status.json()).toMatchObject({ instanceId: 'no-host', output: 1 });
  });
});
