import { once } from 'node:events';
import { connect } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { WEBHOOK_PATH } from '../src/client/http-management-payload.js';
import { silentLogger } from '../src/env/logger.js';
import { InvalidArgumentError } from '../src/model/errors/invalid-argument-error.js';
import { createHttpHandler } from '../src/http/create-http-handler.js';
import { serve, type NodeServer } from '../src/node/serve.js';
import { createRuntime, type Runtime } from '../src/runtime/create-runtime.js';
import { MemoryStore } from '../src/store/memory-store.js';

/**
 * A request body that never finishes (a client that sends its headers and part of its body, then nothing, keeping the
 * connection open) is let go after `requestTimeoutMs`: 408 and the connection closed, the handler's read fails, and
 * the command is not run.
 */

const KEY = 'k3y-slow-body';
const opened: { server: NodeServer; runtime: Runtime }[] = [];

afterEach(async () => {
  for (const { server, runtime } of opened.splice(0)) {
    await server.close();
    await runtime.stop();
  }
});

describe('serve: a request body that never finishes', () => {
  it('answers 408, closes the connection, ends the handler\'s read and raises nothing', async () => {
    const runtime = createRuntime({
      store: new MemoryStore(),
      orchestrators: { WaitForEvent: function* (ctx) { return yield ctx.waitForExternalEvent('Item'); } },
      logger: silentLogger,
    });
    await runtime.start();
    const handler = createHttpHandler(runtime.client, { key: KEY, logger: silentLogger });
    /** The statuses the handler answered with: it is not left reading the body. */
    const answered: number[] = [];
    const server = await serve(async (request) => {
      const response = await handler(request);
      answered.push(response.status);
      return response;
    }, { requestTimeoutMs: 1000 });
    opened.push({ server, runtime });
    await runtime.client.startNew('WaitForEvent', { instanceId: 'w' });

    const socket = connect(server.port, '127.0.0.1');
    await once(socket, 'connect');
    let received = '';
    socket.setEncoding('utf8').on('data', (text: string) => (received += text));
    // 100 bytes promised, 9 sent, then silence with the connection open.
    socket.write(
      `POST ${WEBHOOK_PATH}/instances/w/raiseEvent/Item HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${KEY}\r\n` +
      'Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"a":"xxx',
    );
    await once(socket, 'close');
    expect(received).toMatch(/^HTTP\/1\.1 408 /);
    // With the error JSON every refusal has, not a bare status line.
    expect(received).toMatch(/^content-type: application\/json; charset=utf-8\r$/im);
    expect(JSON.parse(received.slice(received.indexOf('\r\n\r\n') + 4))).toMatchObject({ code: 'request-timeout' });
    // The handler's read of the body ended (the body did not arrive whole: 400) and nothing was raised.
    await vi.waitFor(() => expect(answered).toEqual([400]), { timeout: 20_000, interval: 20 });
    expect((await runtime.client.getStatus('w'))?.runtimeStatus).toBe('Running');
    const history = (await runtime.client.getStatus('w', { showHistory: true }))?.history ?? [];
    expect(history.some((event) => event.type === 'EventRaised')).toBe(false);
    // And the server holds no connection for it.
    await vi.waitFor(async () => {
      const count = await new Promise<number>((resolve, reject) => server.server.getConnections((e, n) => (e ? reject(e) : resolve(n))));
      expect(count).toBe(0);
    }, { timeout: 20_000, interval: 20 });
  }, 60_000);

  it('does not cut a response that takes longer than the limit (an event stream)', async () => {
    const runtime = createRuntime({ store: new MemoryStore(), orchestrators: {}, logger: silentLogger });
    await runtime.start();
    const server = await serve(createHttpHandler(runtime.client, { key: KEY, logger: silentLogger, heartbeatMs: 200 }), { requestTimeoutMs: 300 });
    opened.push({ server, runtime });
    const response = await fetch(`${server.url}${WEBHOOK_PATH}/streams`, { headers: { authorization: `Bearer ${KEY}` } });
    const reader = response.body!.getReader();
    // Heartbeats keep arriving for several times the limit (each read is one or more of them).
    let text = '';
    while ((text.match(/^:/gm) ?? []).length < 8) {
      const chunk = await reader.read();
      expect(chunk.done).toBe(false);
      text += new TextDecoder().decode(chunk.value);
    }
    await reader.cancel();
  }, 60_000);

  it('refuses a requestTimeoutMs that is no positive integer', async () => {
    for (const requestTimeoutMs of [0, -1, 1.5, Number.NaN, Infinity]) {
      await expect(serve(() => new Response(null), { requestTimeoutMs })).rejects.toThrow(InvalidArgumentError);
    }
  });
});
