import { WEBHOOK_PATH } from '../src/client/http-management-payload.js';
import { silentLogger, type Logger } from '../src/env/logger.js';
import { createHttpHandler } from '../src/http/create-http-handler.js';
import { createReadToken } from '../src/http/read-token.js';
import { createRuntime } from '../src/runtime/create-runtime.js';
import { MemoryStore } from '../src/store/memory-store.js';
import { waitForEvents } from '../src/testing/samples.js';
import { HandClock } from './hand-clock.js';

/**
 * An HTTP handler on a HandClock (set to now) over a runtime with one waiting instance, `watched`, and the response
 * of a stream of it opened with a read token that expires 1.5 heartbeat intervals on; the handler's errors are kept
 * in `errors`. The tests of a read token's expiry under a failing clock or writer start here.
 */
export async function readTokenStream(key: string, heartbeatMs: number) {
  const clock = new HandClock();
  clock.ms = Date.now();
  const errors: string[] = [];
  const logger: Logger = { warn: () => {}, error: (message) => void errors.push(message) };
  const runtime = createRuntime({ store: new MemoryStore(), orchestrators: { WaitForEvents: waitForEvents }, logger: silentLogger });
  await runtime.client.startNew('WaitForEvents', { instanceId: 'watched', input: 1 });
  const handler = createHttpHandler(runtime.client, { key, logger, clock, heartbeatMs });
  const token = await createReadToken(key, { instanceIds: ['watched'], expiresAt: clock.ms + 1.5 * heartbeatMs });
  const response = await handler(new Request(`http://127.0.0.1${WEBHOOK_PATH}/instances/watched/stream`, { headers: { authorization: `Bearer ${token}` } }));
  return { clock, errors, handler, runtime, response };
}
