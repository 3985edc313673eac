import { Timestamp } from 'mongodb';
import { describe, expect, it } from 'vitest';
import { clockSkewWarning, DEFAULT_MAX_CLOCK_SKEW_MS, measureClockSkew } from '../src/clock-skew.js';
import { ClusterClock, clusterTimeOf, compareTimestamps } from '../src/cluster-time.js';

describe('clock skew at connect (finding 8)', () => {
  it('measures this clock against the server time, half-way through the round trip', () => {
    expect(measureClockSkew(new Date(1_000), 990, 1_030)).toEqual({ skewMs: 10, uncertaintyMs: 20 });
    expect(measureClockSkew(new Date(10_000), 1_000, 1_000)).toEqual({ skewMs: -9_000, uncertaintyMs: 0 });
  });

  it('warns beyond the tolerance only, allowing for the measurement uncertainty', () => {
    expect(clockSkewWarning({ skewMs: 1_999, uncertaintyMs: 0 }, DEFAULT_MAX_CLOCK_SKEW_MS)).toBeUndefined();
    expect(clockSkewWarning({ skewMs: 2_500, uncertaintyMs: 600 }, DEFAULT_MAX_CLOCK_SKEW_MS)).toBeUndefined();
    expect(clockSkewWarning({ skewMs: 5_000, uncertaintyMs: 1 }, DEFAULT_MAX_CLOCK_SKEW_MS)).toContain('5000 ms ahead of');
    expect(clockSkewWarning({ skewMs: -5_000, uncertaintyMs: 1 }, DEFAULT_MAX_CLOCK_SKEW_MS)).toContain('5000 ms behind');
  });
});

describe('cluster time (where change streams open, finding 3)', () => {
  const at = (t: number, i: number) => new Timestamp({ t, i });

  it('reads a reply\u2019s $clusterTime, else its operationTime, and nothing else', () => {
    expect(clusterTimeOf({ ok: 1, $clusterTime: { clusterTime: at(5, 1) }, operationTime: at(4, 9) })).toEqual(at(5, 1));
    expect(clusterTimeOf({ ok: 1, operationTime: at(4, 9) })).toEqual(at(4, 9));
    expect(clusterTimeOf({ ok: 1, operationTime: 12 })).toBeUndefined();
    expect(clusterTimeOf(undefined)).toBeUndefined();
  });

  it('keeps the latest time seen, never going back', () => {
    const clock = new ClusterClock();
    expect(clock.latest).toBeUndefined();
    clock.observe({ operationTime: at(10, 2) });
    clock.observe({ operationTime: at(10, 1) });
    clock.observe({ operationTime: at(9, 99) });
    expect(clock.latest).toEqual(at(10, 2));
    clock.observe({ $clusterTime: { clusterTime: at(11, 0) } });
    expect(clock.latest).toEqual(at(11, 0));
    expect(compareTimestamps(at(1, 2), at(1, 3))).toBeLessThan(0);
    expect(compareTimestamps(at(2, 0), at(1, 3))).toBeGreaterThan(0);
  });
});
