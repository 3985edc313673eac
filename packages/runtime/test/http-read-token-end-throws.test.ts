import { describe, expect, it } from 'vitest';
import { SSE_STREAM, type SseBody, type SseWriter } from '../src/http/sse-connection.js';
import { failPlatformTimers, nextTurn } from './hand-clock.js';
import { readTokenStream } from './read-token-stream.js';

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
  const { clock, errors, handler, runtime, response } = await readTokenStream(KEY, HEARTBEAT_MS);
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
