import { Timestamp } from 'mongodb';
import { describe, expect, it } from 'vitest';
import { clockSkewWarning, DEFAULT_MAX_CLOCK_SKEW_MS, measureClockSkew } from '../src/clock-skew.js';
import { ClusterClock, clusterTimeOf, compareTimestamps, isMajorityWriteConcern, majorityTimeOf } from '../src/cluster-time.js';

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
  /** A replica-set member's hello reply: its newest cluster time, and the newest majority-committed operation. */
  const hello = (clusterTime: Timestamp, majority: Timestamp) => ({
    ok: 1, setName: 'rs0', $clusterTime: { clusterTime }, lastWrite: { opTime: { ts: clusterTime, t: 1 }, majorityOpTime: { ts: majority, t: 1 } },
  });

  it('reads a reply\u2019s $clusterTime, else its operationTime, and nothing else', () => {
    expect(clusterTimeOf({ ok: 1, $clusterTime: { clusterTime: at(5, 1) }, operationTime: at(4, 9) })).toEqual(at(5, 1));
    expect(clusterTimeOf({ ok: 1, operationTime: at(4, 9) })).toEqual(at(4, 9));
    expect(clusterTimeOf({ ok: 1, operationTime: 12 })).toBeUndefined();
    expect(clusterTimeOf(undefined)).toBeUndefined();
  });

  it('reads the majority-committed time of a hello reply (lastWrite.majorityOpTime), and nothing else', () => {
    expect(majorityTimeOf(hello(at(9, 5), at(9, 2)))).toEqual(at(9, 2));
    expect(majorityTimeOf({ ok: 1, $clusterTime: { clusterTime: at(9, 5) }, operationTime: at(9, 4) })).toBeUndefined();
    expect(majorityTimeOf({ lastWrite: { majorityOpTime: { ts: 12 } } })).toBeUndefined();
    expect(majorityTimeOf(undefined)).toBeUndefined();
  });

  it('opens streams at the majority-committed time, not at the newer cluster time a majority read cannot see yet', () => {
    // The primary is at (10, 7); a commit at (10, 5) is applied but not yet on a majority, so a majority read right
    // after subscribing does not see it. A stream opened at (10, 7) would skip it for good; one at (10, 3) delivers it.
    const clock = new ClusterClock();
    clock.observe(hello(at(10, 7), at(10, 3)));
    expect(clock.streamStart).toEqual(at(10, 3));
    // This process's own transaction committed with w: majority at (10, 6): majority-committed, so the start moves.
    clock.observe({ $clusterTime: { clusterTime: at(10, 9) } });
    clock.observeMajority(at(10, 6));
    expect(clock.streamStart).toEqual(at(10, 6));
  });

  it('keeps the latest majority time seen, never going back', () => {
    const clock = new ClusterClock();
    expect(clock.streamStart).toBeUndefined();
    clock.observe(hello(at(10, 9), at(10, 2)));
    clock.observe(hello(at(10, 9), at(10, 1))); // a lagging secondary's view
    clock.observeMajority(at(9, 99));
    clock.observeMajority(undefined);
    expect(clock.streamStart).toEqual(at(10, 2));
    expect(compareTimestamps(at(1, 2), at(1, 3))).toBeLessThan(0);
    expect(compareTimestamps(at(2, 0), at(1, 3))).toBeGreaterThan(0);
  });

  it('falls back to the latest cluster time only while no majority time is known (a mongos reply has no lastWrite)', () => {
    const clock = new ClusterClock();
    clock.observe({ ok: 1, msg: 'isdbgrid', $clusterTime: { clusterTime: at(20, 1) } });
    expect(clock.streamStart).toEqual(at(20, 1));
    clock.observeMajority(at(19, 4));
    expect(clock.streamStart).toEqual(at(19, 4));
  });

  it('trusts a commit\u2019s operation time only under a majority write concern', () => {
    expect(isMajorityWriteConcern({ w: 'majority' })).toBe(true);
    expect(isMajorityWriteConcern({ w: 1 })).toBe(false);
    expect(isMajorityWriteConcern(undefined)).toBe(false);
  });
});
