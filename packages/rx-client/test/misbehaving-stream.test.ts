import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { createRemoteClient, RemoteError, type ConnectionState, type RemoteClient } from '../src/index.js';
import { ownedByEachTest, until } from './harness.js';

/** A network failure reads as `unreachable` in `connection$`, as in a command's rejection. */

const { subscriptions, cleanups } = ownedByEachTest();

/** Every state `client.connection$` has told so far. */
function statesOf(client: RemoteClient): ConnectionState[] {
  const states: ConnectionState[] = [];
  subscriptions.push(client.connection$.subscribe((s) => states.push(s)));
  return states;
}

describe('a stream that cannot reach the server', () => {
  it('tells connection$ reconnecting with RemoteError unreachable (503), as a command rejects', async () => {
    // A port where nothing listens: each connect is refused.
    const probe = createNetServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address() as AddressInfo;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const client = createRemoteClient({ baseUrl: `http://127.0.0.1:${port}`, reconnect: { initialDelayMs: 10, maxDelayMs: 50 } });
    cleanups.push(() => client.close());
    const states = statesOf(client);
    subscriptions.push(client.status$('x').subscribe({ error: () => {} }));
    await until(() => states.some((s) => s.state === 'reconnecting'), 'the connect failed');
    const { error } = states.find((s) => s.state === 'reconnecting') as { error?: Error };
    expect(error).toBeInstanceOf(RemoteError);
    expect(error).toMatchObject({ code: 'unreachable', status: 503, cause: expect.any(Error) });
    const command = await client.getStatus('x').catch((e: unknown) => e);
    expect(command).toMatchObject({ code: 'unreachable', status: 503 });
  });
});
