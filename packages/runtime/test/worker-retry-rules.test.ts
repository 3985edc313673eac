import { describe, expect, it } from 'vitest';
import { retryOnSignalMs, wakeInMs } from '../src/worker/worker.js';

describe('retryOnSignalMs', () => {
  it('retries now, or 100 ms after the failure when that is later', () => {
    expect(retryOnSignalMs(5_000, 1_000)).toBe(5_000);
    expect(retryOnSignalMs(1_050, 1_000)).toBe(1_100);
    expect(retryOnSignalMs(1_100, 1_000)).toBe(1_100);
  });

  it('gives NaN for a clock that returned no valid Date, which moves no retry (NaN is never earlier)', () => {
    expect(retryOnSignalMs(Number.NaN, 1_000)).toBeNaN();
    expect(retryOnSignalMs(5_000, Number.NaN)).toBeNaN();
  });
});

describe('wakeInMs', () => {
  it('waits until the next due work while the wake-up feed is up, however far off, or for ever when none is due', () => {
    expect(wakeInMs(30_000, false)).toBe(30_000);
    expect(wakeInMs(Infinity, false)).toBe(Infinity);
    expect(wakeInMs(0, false)).toBe(0);
  });

  it('claims at least once a second while the feed is down, and no later than the next due work', () => {
    expect(wakeInMs(Infinity, true)).toBe(1_000);
    expect(wakeInMs(30_000, true)).toBe(1_000);
    expect(wakeInMs(250, true)).toBe(250);
    expect(wakeInMs(0, true)).toBe(0);
  });
});
