import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Orchestrator } from '../src/engine/orchestration-context.js';
import type { Clock } from '../src/env/clock.js';
import { silentLogger } from '../src/env/logger.js';
import { PayloadTooLargeError } from '../src/model/errors/payload-too-large-error.js';
import { isoMs, isoTime } from '../src/model/iso-time.js';
import { assertJsonSize } from '../src/model/json.js';
import { createRuntime } from '../src/runtime/create-runtime.js';
import { MemoryStore } from '../src/store/memory-store.js';
import { lastUpdatedMsOf, StoredState } from '../src/store/stored-state.js';

afterEach(() => {
  vi.restoreAllMocks();
});

describe('isoMs', () => {
  it('is Date.parse of any text, and reads the text isoTime made last without parsing it', () => {
    const at = new Date('2026-01-01T00:00:00.123Z');
    const text = isoTime(at);
    for (const other of ['2025-12-31T23:59:59.999Z', '+275760-09-13T00:00:00.000Z', 'not a time', '']) {
      expect(isoMs(other)).toEqual(Date.parse(other));
    }
    const parse = vi.spyOn(Date, 'parse');
    expect(isoMs(text)).toBe(at.getTime());
    expect(parse).not.toHaveBeenCalled();
  });
});

describe('assertJsonSize of a string', () => {
  it('takes a string whose JSON text fits at 6 bytes a code unit without making the text', () => {
    const stringify = vi.spyOn(JSON, 'stringify');
    assertJsonSize('x'.repeat(2730), 16_384, 'custom status');
    assertJsonSize('\u0001'.repeat(10), 62, 'custom status'); // \u0001 ten times, and the quotes: 62 bytes
    expect(stringify).not.toHaveBeenCalled();
  });

  it('still counts the bytes of a longer one, escapes and multi-byte characters included', () => {
    expect(() => assertJsonSize('\u0001'.repeat(10), 61, 'custom status')).toThrow(PayloadTooLargeError);
    expect(() => assertJsonSize('\u0001'.repeat(10), 61, 'custom status')).toThrow('custom status is 62 bytes of JSON; the limit is 61 bytes');
    assertJsonSize('é'.repeat(1000), 2002, 'custom status'); // 2 bytes each, and the quotes
    expect(() => assertJsonSize('é'.repeat(1000), 2001, 'custom status')).toThrow('custom status is 2002 bytes of JSON');
  });
});

describe('StoredState', () => {
  it('gives its last update in ms as lastUpdatedTime does, without a Date', () => {
    const created = new Date('2026-01-01T00:00:00.000Z');
    const state = new StoredState({
      instanceId: 'i', name: 'O', runtimeStatus: 'Completed', createdTime: created, lastUpdatedTime: new Date(created.getTime() + 1234),
      executionId: 'e', historyLength: 4, version: 3,
    });
    expect(lastUpdatedMsOf(state)).toBe(state.lastUpdatedTime.getTime());
    expect(lastUpdatedMsOf(state)).toBe(created.getTime() + 1234);
  });
});

describe('the clock readings of a hello sequence', () => {
  const sayHello = (name: unknown) => `Hello ${String(name)}!`;
  const hello: Orchestrator = function* (ctx) {
    const outputs: unknown[] = [];
    for (const city of ['Tokyo', 'Seattle', 'London']) {
      outputs.push(yield ctx.callActivity('SayHello', city));
      ctx.setCustomStatus(city);
    }
    return outputs;
  };

  it('are 23 for a start, three activities and the wait for its end, one instance at a time', async () => {
    let readings = 0;
    const clock: Clock = {
      now: () => {
        readings++;
        return new Date();
      },
      setTimeout: (callback, delayMs) => setTimeout(callback, delayMs),
      clearTimeout: (timer) => clearTimeout(timer as ReturnType<typeof setTimeout>),
    };
    const runtime = createRuntime({ store: new MemoryStore(), clock, orchestrators: { Hello: hello }, activities: { SayHello: sayHello }, logger: silentLogger });
    await runtime.start();
    try {
      // The first instance after the start may meet the worker's first claim round: the counts are of the next ones.
      await runtime.client.waitForCompletion(await runtime.client.startNew('Hello'));
      const counts: number[] = [];
      for (let i = 0; i < 3; i++) {
        readings = 0;
        const status = await runtime.client.waitForCompletion(await runtime.client.startNew('Hello'));
        expect(status.output).toEqual(['Hello Tokyo!', 'Hello Seattle!', 'Hello London!']);
        counts.push(readings);
      }
      // A start's commit is bounded from the reading its start was decided at. A fused activity step's commit reads the
      // clock again: the step's code ran since the attempt's reading, and a bound from that reading fires late.
      expect(counts).toEqual([23, 23, 23]);
    } finally {
      await runtime.stop();
    }
  });
});
