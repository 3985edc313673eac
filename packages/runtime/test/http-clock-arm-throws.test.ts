import { describe, expect, it } from 'vitest';
import { WEBHOOK_PATH } from '../src/client/http-management-payload.js';
import { silentLogger, type Logger } from '../src/env/logger.js';
import { createHttpHandler, type HttpHandlerOptions } from '../src/http/create-http-handler.js';
import { createReadToken } from '../src/http/read-token.js';
import { createRuntime } from '../src/runtime/create-runtime.js';
import { MemoryStore } from '../src/store/memory-store.js';
import { waitForEvents } from '../src/testing/samples.js';
import { VirtualClock } from '../src/testing/virtual-clock.js';
import { failPlatformTimers, HandClock, nextTurn } from './hand-clock.js';
import { readTokenStream } from './read-token-stream.js';
import { within } from './within.js';
import { readMore } from './read-more.js';

/**
 * The HTTP handler's heartbeats over a custom clock whose `setTimeout` throws for a while: the failure is reported once,
 * nothing is thrown out of the timer's callback (on a Node server, an uncaught exception), and the heartbeats go on.
 */

const KEY = 'clock-arm-test-key';
const HEARTBEAT_MS = 1_000;

/** A virtual clock that fails to arm a timer while `failing`. */
class ClockThatFailsToArm extends VirtualClock {
  failing = false;
  override setTimeout(callback: () => void, delayMs: number) {
    if (this.failing) throw new Error('this clock cannot arm a timer');
    return super.setTimeout(callback, delayMs);
  }
}

/**
 * A runtime on a MemoryStore and an HTTP handler (`options`) over a {@link ClockThatFailsToArm}, what the handler
 * reports in `errors`.
 */
async function handlerOnClock(options: Omit<HttpHandlerOptions, 'key' | 'logger' | 'clock'>) {
  const clock = new ClockThatFailsToArm(new Date());
  const errors: string[] = [];
  const logger: Logger = { warn: () => {}, error: (message) => void errors.push(message) };
  const runtime = createRuntime({ store: new MemoryStore(), orchestrators: { WaitForEvents: waitForEvents }, logger: silentLogger });
  await runtime.start();
  const handler = createHttpHandler(runtime.client, { key: KEY, logger, clock, ...options });
  return { clock, errors, runtime, handler };
}

describe('a handler whose clock fails to arm a timer', () => {
  it('reports it once, throws nothing out of the heartbeat timer, and beats on once the clock arms again', async () => {
    const { clock, errors, runtime, handler } = await handlerOnClock({ heartbeatMs: HEARTBEAT_MS });
    try {
      const response = await handler(new Request(`http://127.0.0.1${WEBHOOK_PATH}/streams`, { headers: { authorization: `Bearer ${KEY}` } }));
      const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
      let text = '';
      const beats = (): number => text.split('\n').filter((line) => line.startsWith(':')).length;
      const read = async (until: () => boolean): Promise<void> => {
        while (!until()) text += await readMore(reader);
      };
      await read(() => text.includes('data: '));
      clock.failing = true;
      // The heartbeat fires, beats, and fails to arm the next one: reported, not thrown out of the timer.
      await clock.advance(HEARTBEAT_MS);
      await read(() => beats() >= 1);
      expect(errors.filter((message) => message.includes('arm'))).toHaveLength(1);
      clock.failing = false;
      // The timer set in its place asks the clock again: the heartbeats are back on the clock.
      await within(clock.waitForTimer(), 'a heartbeat timer armed on the clock again');
      const before = beats();
      await clock.advance(HEARTBEAT_MS);
      await within(read(() => beats() > before), 'a heartbeat after the clock recovered');
      expect(errors.filter((message) => message.includes('arm'))).toHaveLength(1);
      await reader.cancel();
    } finally {
      handler.close();
      await runtime.stop();
    }
  });

  it("ends a read token's stream when the token expires, though the clock failed to arm a step of the wait", async () => {
    // Heartbeats far apart: only the token's expiry steps (one heartbeat interval each) arm timers meanwhile.
    const { clock, errors, runtime, handler } = await handlerOnClock({ heartbeatMs: HEARTBEAT_MS });
    try {
      await runtime.client.startNew('WaitForEvents', { instanceId: 'watched', input: 1 });
      const token = await createReadToken(KEY, { instanceIds: ['watched'], expiresAt: clock.now().getTime() + 3 * HEARTBEAT_MS });
      const response = await handler(new Request(`http://127.0.0.1${WEBHOOK_PATH}/instances/watched/stream`, { headers: { authorization: `Bearer ${token}` } }));
      expect(response.status).toBe(200);
      const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
      let text = '';
      while (!text.includes('data: ')) text += await readMore(reader);
      clock.failing = true;
      // A step of the expiry's wait fires and fails to arm the next: reported, not thrown out of the timer.
      await clock.advance(HEARTBEAT_MS);
      expect(errors.some((message) => message.includes('arm'))).toBe(true);
      clock.failing = false;
      // The platform's timer stands in and asks the clock again; once the token expired, the stream ends.
      await within(clock.waitForTimer(), 'a timer armed on the clock again');
      await clock.advance(3 * HEARTBEAT_MS);
      const ended = (async () => {
        for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read());
      })();
      await within(ended, "the stream's end at the token's expiry");
    } finally {
      handler.close();
      await runtime.stop();
    }
  });
});

describe("a handler whose clock fails to arm a stream session's timer", () => {
  it("still ends a dropped session after its resume window, freeing its place of maxStreams", async () => {
    // A short window: the platform's timer stands in for the clock's, so it runs on real time.
    const { clock, errors, runtime, handler } = await handlerOnClock({ maxStreams: 1, resumeWindowMs: 20, heartbeatMs: 3_600_000 });
    const open = () => handler(new Request(`http://127.0.0.1${WEBHOOK_PATH}/streams`, { headers: { authorization: `Bearer ${KEY}` } }));
    try {
      const reader = (await open()).body!.pipeThrough(new TextDecoderStream()).getReader();
      let text = '';
      while (!text.includes('data: ')) text += await readMore(reader);
      // It holds a subscription, whose value it sent (one that holds none and sent nothing but its `session` event is
      // released as its connection goes, with no window).
      const session = /"session":"([^"]+)"/.exec(text)![1]!;
      await handler(new Request(`http://127.0.0.1${WEBHOOK_PATH}/streams/${session}/subscriptions`, {
        method: 'POST', headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({ subscribe: [{ sub: 'a', kind: 'status', instanceId: 'none' }] }),
      }));
      while (!text.includes('"sub":"a"')) text += await readMore(reader);
      clock.failing = true;
      await reader.cancel(); // dropped: its resume window cannot be armed on the clock
      // It holds the one place (503) for its window, which passes on the platform's timer: the session ends, and a new
      // stream gets its place.
      await within((async () => {
        for (let response = await open(); ; response = await open()) {
          if (response.status === 200) return void (await response.body!.cancel());
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
      })(), 'the dropped session ended and a new stream opened');
      expect(errors.filter((message) => message.includes('arm'))).toHaveLength(1);
    } finally {
      handler.close();
      await runtime.stop();
    }
  });
});

describe("a read token's expiry that neither the clock nor the platform can arm", () => {
  /**
   * A stream opened with a read token that expires 1.5 heartbeat intervals on, over a HandClock, whose first step of
   * the wait fires while no timer can be set: `platform` still fails until restored.
   */
  async function streamWithUnarmableStep() {
    const { clock, errors, handler, runtime, response } = await readTokenStream(KEY, HEARTBEAT_MS);
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = '';
    while (!text.includes('data: ')) text += await readMore(reader);
    const ended = (async () => {
      for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read());
    })();
    // The expiry's first step and the heartbeat, each one interval on, fire; neither can be armed again.
    clock.ms += HEARTBEAT_MS;
    clock.refusing = true;
    const platform = failPlatformTimers();
    try {
      clock.fireDue();
    } catch (error) {
      platform.restore();
      throw error;
    }
    return { clock, errors, handler, ended, platform, runtime };
  }

  it('arms it at the next turn once the timers work again, and the stream ends as the token expires', async () => {
    const { clock, errors, handler, ended, platform, runtime } = await streamWithUnarmableStep();
    try {
      platform.restore();
      clock.refusing = false;
      await nextTurn();
      // Before, none was armed for the expiry: the stream outlived its token for as long as it stayed open.
      expect([...clock.timers.values()].map((timer) => timer.at - clock.ms).sort((a, b) => a - b)).toEqual([HEARTBEAT_MS / 2, HEARTBEAT_MS]);
      clock.ms += HEARTBEAT_MS / 2;
      clock.fireDue();
      await within(ended, "the stream's end at the token's expiry");
      expect(errors.filter((message) => message.includes('expiry'))).toEqual([expect.stringContaining('tried again at the next turn')]);
    } finally {
      platform.restore();
      handler.close();
    }
    await runtime.stop();
  });

  it('ends the stream when the timers still fail after its tries: it does not outlive its token', async () => {
    const { clock, errors, handler, ended, platform, runtime } = await streamWithUnarmableStep();
    try {
      for (let turn = 0; turn < 4; turn++) await nextTurn();
      platform.restore();
      clock.refusing = false;
      await within(ended, "the stream's end");
      expect(errors.filter((message) => message.includes('expiry'))).toEqual([
        expect.stringContaining('tried again at the next turn'), expect.stringContaining('the stream ends now'),
      ]);
    } finally {
      platform.restore();
      handler.close();
    }
    await runtime.stop();
  });
});
