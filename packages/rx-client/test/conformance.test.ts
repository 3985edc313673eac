import { silentLogger } from '@durable-rx/runtime';
import { createHttpHandler } from '@durable-rx/runtime/http';
import { describeClientConformance } from '@durable-rx/runtime/testing';
import { createRemoteClient } from '../src/index.js';
import { serveForTest } from './harness.js';

const KEY = 'conformance-key';

// The same client-level suite the local client passes, run through HTTP + Server-Sent Events on 127.0.0.1.
describeClientConformance('remote client (HTTP + SSE)', async (runtime) => {
  const handler = createHttpHandler(runtime.client, { key: KEY, logger: silentLogger, reconnectDelayMs: 50 });
  const server = await serveForTest(handler);
  // The server's worker runs on its own (as with Durable Functions): a start may be Running by the next read.
  const client = createRemoteClient({ baseUrl: server.url, key: KEY });
  // The client's stream and timers end with it, the server's sessions with the server.
  return { client, close: async () => { client.close(); await server.close(); }, startsShowPending: false };
});
