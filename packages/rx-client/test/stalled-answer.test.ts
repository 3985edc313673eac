import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { VirtualClock } from '@durable-rx/runtime/testing';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createRemoteClient, RemoteError } from '../src/index.js';
import { within } from './harness.js';
import { SETTLED } from '../../../test-support/settled.js';

const servers: Server[] = [];

afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

describe('a command whose answer body starts and then stalls', () => {
  it('rejects with retryable RemoteError unreachable at its timeoutMs and lets go of the connection', async () => {
    // Headers and part of a JSON body, then nothing, the connection left open: no size bound ends this, the deadline does.
    let closed!: () => void;
    const gone = new Promise<void>((resolve) => (closed = resolve));
    let started!: () => void;
    const answering = new Promise<void>((resolve) => (started = resolve));
    const server = createServer((request, response) => {
      request.resume();
      response.writeHead(200, { 'content-type': 'application/json' }).write('{"instanceId":"a","name":');
      response.on('close', closed);
      started();
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const clock = new VirtualClock();
    const client = createRemoteClient({ baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, clock, timeoutMs: 5000 });
    const outcome = client.getStatus('a').catch((e: unknown) => e);
    await within(answering, 'the answer started');
    await vi.waitFor(() => expect(clock.pendingTimers).toBe(1), { timeout: SETTLED.timeoutMs }); // the command's deadline, nothing else
    await clock.advanceTo(new Date(clock.now().getTime() + 5000));
    const error = await within(outcome, 'the command settled');
    expect(error).toBeInstanceOf(RemoteError);
    expect(error).toMatchObject({ code: 'unreachable', status: 503 });
    await within(gone, 'the answer connection was let go');
    expect(clock.pendingTimers).toBe(0);
    client.close();
  });
});
