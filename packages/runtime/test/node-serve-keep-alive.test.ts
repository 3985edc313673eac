import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../src/model/errors/invalid-argument-error.js';
import { serve, type NodeServer } from '../src/node/serve.js';

/**
 * `keepAliveTimeoutMs`: how long an idle keep-alive connection stays open. Behind a balancer that keeps its own idle
 * connections for 60 s, a server closing them after Node's 5 s makes the balancer send requests on closed connections.
 */

const opened: NodeServer[] = [];
const sockets: Socket[] = [];

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  for (const server of opened.splice(0)) await server.close();
});

/** Sends one GET on `socket` and resolves with the whole response's text (its body is `ok`); rejects if it closes first. */
function get(socket: Socket): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    let received = '';
    const onData = (text: string): void => {
      received += text;
      if (received.endsWith('\r\n\r\nok')) settle(() => resolve(received));
    };
    const onClose = (): void => settle(() => reject(new Error(`the connection closed; received: ${JSON.stringify(received)}`)));
    const settle = (then: () => void): void => {
      socket.off('data', onData).off('close', onClose);
      then();
    };
    socket.on('data', onData).on('close', onClose);
    socket.write('GET /ping HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
  });
}

async function openSocket(server: NodeServer): Promise<Socket> {
  const socket = connect(server.port, '127.0.0.1').setEncoding('utf8');
  sockets.push(socket);
  await once(socket, 'connect');
  return socket;
}

describe('serve: keepAliveTimeoutMs', () => {
  it('keeps an idle connection open past Node\'s 5 s when asked to, and serves the next request on it', async () => {
    const server = await serve(() => new Response('ok'), { keepAliveTimeoutMs: 120_000 });
    opened.push(server);
    const socket = await openSocket(server);
    expect(await get(socket)).toMatch(/^HTTP\/1\.1 200 /);
    // Idle for longer than Node's default would keep it: the point of the option, not a synchronisation.
    await new Promise((resolve) => setTimeout(resolve, 6_000));
    expect(await get(socket)).toMatch(/^HTTP\/1\.1 200 /);
  }, 60_000);

  it('closes an idle connection after a short one', async () => {
    const server = await serve(() => new Response('ok'), { keepAliveTimeoutMs: 50 });
    opened.push(server);
    const socket = await openSocket(server);
    const closed = once(socket, 'close');
    expect(await get(socket)).toMatch(/^HTTP\/1\.1 200 /);
    await closed;
    expect(server.server.keepAliveTimeout).toBe(50);
  }, 60_000);

  it('refuses a keepAliveTimeoutMs that is no positive integer or longer than one timer can wait', async () => {
    for (const keepAliveTimeoutMs of [0, -1, 1.5, Number.NaN, Infinity, 2 ** 31]) {
      await expect(serve(() => new Response(null), { keepAliveTimeoutMs })).rejects.toThrow(InvalidArgumentError);
    }
    await expect(serve(() => new Response(null), { keepAliveTimeoutMs: 2 ** 31 })).rejects.toThrow(/24\.8 days/);
  });
});
