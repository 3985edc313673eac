import { describe, expect, it } from 'vitest';
import { WEBHOOK_PATH } from '../src/client/http-management-payload.js';
import { silentLogger, type Logger } from '../src/env/logger.js';
import { createHttpHandler } from '../src/http/create-http-handler.js';
import { createReadToken } from '../src/http/read-token.js';
import { createRuntime } from '../src/runtime/create-runtime.js';
import { MemoryStore } from '../src/store/memory-store.js';
import { waitForEvents } from '../src/testing/samples.js';
import { HandClock } from './hand-clock.js';
import { readMore } from './read-more.js';

/**
 * The HTTP handler over a custom clock whose `now()` throws: a request gets an answer (the platform's clock stands in,
 * reported once), not an error thrown out of the handler or out of a stream's open.
 */

const KEY = 'clock-now-test-key';

/** A HandClock whose `now()` throws while `throwing`. */
class ClockWithoutTime extends HandClock {
  throwing = true;

  override now(): Date {
    if (this.throwing) throw new Error('injected: no time');
    return super.now();
  }
}

describe('a handler whose clock gives no time', () => {
  it("answers a read token's stream, opens it and arms its expiry, reporting the clock once", async () => {
    const clock = new ClockWithoutTime();
    const errors: string[] = [];
    const logger: Logger = { warn: () => {}, error: (message) => void errors.push(message) };
    const runtime = createRuntime({ store: new MemoryStore(), orchestrators: { WaitForEvents: waitForEvents }, logger: silentLogger });
    await runtime.client.startNew('WaitForEvents', { instanceId: 'watched', input: 1 });
    const handler = createHttpHandler(runtime.client, { key: KEY, logger, clock, heartbeatMs: 60_000 });
    try {
      const token = await createReadToken(KEY, { instanceIds: ['watched'], expiresAt: Date.now() + 30_000 });
      const open = (lastEventId?: string) => handler(new Request(`http://127.0.0.1${WEBHOOK_PATH}/instances/watched/stream`, {
        headers: { authorization: `Bearer ${token}`, ...(lastEventId ? { 'last-event-id': lastEventId } : {}) },
      }));
      // Before, the token's check threw (answered 500), and so did a stream's open as it armed the token's expiry.
      const response = await open();
      expect(response.status).toBe(200);
      const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
      let text = '';
      while (!text.includes('data: ')) text += await readMore(reader);
      // The expiry's first step (30 s by the platform's clock) and the heartbeat (60 s), on the clock's timers.
      const [expiry, heartbeat] = [...clock.timers.values()].map((timer) => timer.at - clock.ms).sort((a, b) => a - b);
      expect(expiry).toBeGreaterThan(0);
      expect(expiry).toBeLessThanOrEqual(30_000);
      expect(heartbeat).toBe(60_000);
      // A reconnect naming a stream the hub may remember as finished reads the clock too.
      const reconnect = await open('unknown.1');
      expect(reconnect.status).toBe(200);
      await reconnect.body!.cancel();
      await reader.cancel();
      expect(errors.filter((message) => message.includes('gave no time'))).toEqual([
        "the HTTP handler's clock gave no time; the platform's stands in until it does",
      ]);
    } finally {
      handler.close();
    }
  });
});
