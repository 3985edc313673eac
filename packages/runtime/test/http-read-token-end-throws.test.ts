import { describe, expect, it } from 'vitest';
import { WEBHOOK_PATH } from '../src/client/http-management-payload.js';
import { silentLogger, type Logger } from '../src/env/logger.js';
import { createHttpHandler } from '../src/http/create-http-handler.js';
import { createReadToken } from '../src/http/read-token.js';
import { SSE_STREAM, type SseBody, type SseWriter } from '../src/http/sse-connection.js';
import { createRuntime } from '../src/runtime/create-runtime.js';
import { MemoryStore } from '../src/store/memory-store.js';
import { waitForEvents } from '../src/testing/samples.js';
import { failPlatformTimers, HandClock, nextTurn } from './hand-clock.js';

/**
 * A stream opened with a read token, written by an adapter's writer whose `end()` throws (a socket broken as the
 * response finishes): when the token expires, or when no timer can be armed for its expiry, the stream ends without
 * throwing out of the timer's callback or the retry's turn (on a Node server, an uncaught exception that stops it).
 */

const KEY = 'read-token-end-test-key';
const HEARTBEAT_MS = 1_000;

/** A writer that takes everything at once, and whose `end()` throws; what became of it. */
class WriterThatFailsToEnd implements SseWriter {
  ended = 0;
  aborted = 0;
  readonly backlog = 0;
  write(): void {}
  writeText(): void {}
  drained(): void {}
  end(): void {
    this.ended++;
    throw new Error('the socket broke as the response finished');
  }
  abort(): void {
    this.aborted++;
  }
}

async function streamOnThrowingWriter() {
  const clock = new HandClock();
  clock.ms = Date.now();
  const errors: string[] = [];
  const logger: Logger = { warn: () => {}, error: (message) => void errors.push(message) };
  const runtime = createRuntime({ store: new MemoryStore(), orchestrators: { WaitForEvents: waitForEvents }, logger: silentLogger });
  await runtime.client.startNew('WaitForEvents', { instanceId: 'watched', input: 1 });
  const handler = createHttpHandler(runtime.client, { key: KEY, logger, clock, heartbeatMs: HEARTBEAT_MS });
  const token = await createReadToken(KEY, { instanceIds: ['watched'], expiresAt: clock.ms + 1.5 * HEARTBEAT_MS });
  const response = await handler(new Request(`http://127.0.0.1${WEBHOOK_PATH}/instances/watched/stream`, { headers: { authorization: `Bearer ${token}` } }));
  const writer = new WriterThatFailsToEnd();
  (response.body as SseBody)[SSE_STREAM]!.open(writer);
  return { clock, errors, handler, runtime, writer };
}

/** Collects what escapes as an uncaught exception while `run` runs (vitest would report it too, after the case). */
async function uncaughtDuring(run: () => Promise<void>): Promise<unknown[]> {
  const uncaught: unknown[] = [];
  const listener = (error: unknown): void => void uncaught.push(error);
  process.on('uncaughtException', listener);
  try {
    await run();
  } finally {
    process.off('uncaughtException', listener);
  }
  return uncaught;
}

describe("a read token's stream whose writer throws as it ends", () => {
  it('ends at the expiry without throwing out of the timer: the writer is aborted, the failure reported', async () => {
    const { clock, errors, handler, runtime, writer } = await streamOnThrowingWriter();
    try {
      clock.ms += HEARTBEAT_MS;
      clock.fireDue();
      clock.ms += HEARTBEAT_MS / 2;
      // Before, the writer's error was thrown out of the expiry's timer.
      expect(() => clock.fireDue()).not.toThrow();
      expect(writer.ended).toBe(1);
      expect(writer.aborted).toBe(1);
      expect(errors.filter((message) => message.includes('ending'))).toHaveLength(1);
    } finally {
      handler.close();
    }
    await runtime.stop();
  });

  it('ends when no timer can be armed for its expiry, throwing nothing out of the last try', async () => {
    const { clock, errors, handler, runtime, writer } = await streamOnThrowingWriter();
    const uncaught = await uncaughtDuring(async () => {
      clock.ms += HEARTBEAT_MS;
      clock.refusing = true;
      const platform = failPlatformTimers();
      try {
        clock.fireDue();
        for (let turn = 0; turn < 4; turn++) await nextTurn();
      } finally {
        platform.restore();
        clock.refusing = false;
      }
      // One more turn: an error thrown by the last try's callback surfaces by now.
      await nextTurn();
    });
    try {
      expect(uncaught).toEqual([]);
      expect(writer.ended).toBe(1);
      expect(writer.aborted).toBe(1);
      expect(errors.filter((message) => message.includes('the stream ends now'))).toHaveLength(1);
    } finally {
      handler.close();
    }
    await runtime.stop();
  });
});
