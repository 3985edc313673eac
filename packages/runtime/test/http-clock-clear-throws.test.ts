import { describe, expect, it } from 'vitest';
import { WEBHOOK_PATH } from '../src/client/http-management-payload.js';
import type { Logger } from '../src/env/logger.js';
import { createHttpHandler } from '../src/http/create-http-handler.js';
import { createReadToken } from '../src/http/read-token.js';
import { createRuntime } from '../src/runtime/create-runtime.js';
import { MemoryStore } from '../src/store/memory-store.js';
import { waitForEvents } from '../src/testing/samples.js';
import { VirtualClock } from '../src/testing/virtual-clock.js';
import { within } from './within.js';
import { readMore } from './read-more.js';

/**
 * The HTTP handler's streams over a custom clock whose `clearTimeout` throws (as the worker's are: see
 * `GuardedClock`): what the clock fails to clear is reported, and no stream, session or feed is left stuck by it.
 */

const KEY = 'clock-clear-test-key';
const HOUR = 3_600_000;

/** A virtual clock that cannot clear a timer. */
class ClockThatCannotClear extends VirtualClock {
  override clearTimeout(): void {
    throw new Error('this clock cannot clear a timer');
  }
}

async function opened() {
  const clock = new ClockThatCannotClear(new Date());
  const errors: string[] = [];
  const logger: Logger = { warn: () => {}, error: (message) => void errors.push(message) };
  const runtime = createRuntime({ store: new MemoryStore(), orchestrators: { WaitForEvents: waitForEvents }, logger: { warn: () => {}, error: () => {} } });
  await runtime.start();
  const handler = createHttpHandler(runtime.client, { key: KEY, logger, clock });
  const token = await createReadToken(KEY, { instanceIds: ['watched'], expiresAt: clock.now().getTime() + HOUR });
  /** Opens `path` with `credential` and reads it event by event. */
  const stream = async (path: string, credential: string) => {
    const response = await handler(new Request(`http://127.0.0.1${WEBHOOK_PATH}${path}`, { headers: { authorization: `Bearer ${credential}` } }));
    expect(response.status).toBe(200);
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = '';
    return {
      /** The data of every event up to the stream's end. */
      async rest(): Promise<string[]> {
        for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) text += chunk.value;
        return [...text.matchAll(/^data: (.*)$/gm)].map((match) => match[1]!);
      },
      async first(): Promise<void> {
        while (!text.includes('data: ')) text += await readMore(reader);
      },
    };
  };
  return { clock, errors, runtime, handler, token, stream };
}

describe('a handler whose clock cannot clear a timer', () => {
  it('still brings every reader of an instance its terminal status when a read-token stream of it ends first', async () => {
    const { errors, runtime, handler, token, stream } = await opened();
    try {
      await runtime.client.startNew('WaitForEvents', { instanceId: 'watched', input: 1 });
      // The read token's stream joins the instance's feed first: it is served first, and ends on the terminal status,
      // clearing its expiry timer, while the feed is handing that status to its readers.
      const tokens = await stream('/instances/watched/stream?untilTerminal=true', token);
      await tokens.first();
      const keys = await stream('/instances/watched/stream?untilTerminal=true', KEY);
      await keys.first();
      await runtime.client.raiseEvent('watched', 'Item', 1);
      for (const reader of [tokens, keys]) {
        const data = await within(reader.rest(), 'the terminal status and the end');
        expect(data.some((value) => value.includes('"runtimeStatus":"Completed"'))).toBe(true);
      }
      expect(errors.length).toBeGreaterThan(0); // the clock's failure, reported
    } finally {
      handler.close();
      await runtime.stop();
    }
  });

  it('keeps a session its client resumed: the resume window\'s timer, not cleared, does nothing when it fires', async () => {
    const { clock, errors, runtime, handler } = await opened();
    try {
      const url = (path: string) => `http://127.0.0.1${WEBHOOK_PATH}${path}`;
      const open = async (lastEventId?: string) => {
        const headers: Record<string, string> = { authorization: `Bearer ${KEY}`, ...(lastEventId ? { 'last-event-id': lastEventId } : {}) };
        const reader = (await handler(new Request(url('/streams'), { headers }))).body!.pipeThrough(new TextDecoderStream()).getReader();
        let text = '';
        while (!text.includes('data: ')) text += await readMore(reader);
        return { reader, id: /"session":"([^"]+)"/.exec(text)![1]! };
      };
      const first = await open();
      // It holds a subscription, whose value it sent (one that holds none and sent nothing but its `session` event is
      // released as its connection goes: nothing to resume).
      await handler(new Request(url(`/streams/${first.id}/subscriptions`), {
        method: 'POST', headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({ subscribe: [{ sub: 'a', kind: 'status', instanceId: 'watched' }] }),
      }));
      for (let text = ''; !text.includes('"sub":"a"');) text += await readMore(first.reader);
      await first.reader.cancel(); // the connection drops: the session waits a resume window for its client
      await clock.waitForTimer();
      const resumed = await open(`${first.id}.0`);
      expect(resumed.id).toBe(first.id);
      expect(errors.length).toBeGreaterThan(0); // the window's timer could not be cleared
      await clock.advance(24 * HOUR); // it fires: the session, resumed, lives on
      const change = await handler(new Request(url(`/streams/${first.id}/subscriptions`), {
        method: 'POST', headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' }, body: '{}',
      }));
      expect(change.status).toBe(200);
      await resumed.reader.cancel();
    } finally {
      handler.close();
      await runtime.stop();
    }
  });
});
