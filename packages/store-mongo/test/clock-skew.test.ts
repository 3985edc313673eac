import { Timestamp } from 'mongodb';
import { describe, expect, it } from 'vitest';
import { VirtualClock } from '@durable-rx/runtime/testing';
import {
  CLAIM_REMEASURE_MS, claimSkewProblem, CLOCK_SKEW_REWARN_MS, ClockSkewMonitor, MAX_LEASE_SKEW_FRACTION, clockSkewWarning, DEFAULT_MAX_CLOCK_SKEW_MS,
  elapsedAtLeast, measureClockSkew, RESYNC_MARGIN_MS, resyncFrom, skewOfHello, TAKEOVER_LEASE_MS, takeoverSkewProblem, type ClockSkew,
} from '../src/clock-skew.js';
import {
  ClusterClock, compareTimestamps, isMajorityWriteConcern, majorityProbe, majorityReadTimeOf, majorityTimeOf, majorityTimeSource,
} from '../src/cluster-time.js';

describe('clock skew at connect', () => {
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

describe('clock skew checked again while the store is open', () => {
  const ok: ClockSkew = { skewMs: 100, uncertaintyMs: 1 };
  const ahead: ClockSkew = { skewMs: 5_000, uncertaintyMs: 1 };

  /**
   * A monitor on a virtual clock whose measurements come from `readings` in turn (an Error: a failed check; 'hang': a
   * check that ends only when its signal aborts), with a monotonic time the test moves (`elapsed.ms`).
   */
  function monitor(initial: ClockSkew | undefined, readings: (ClockSkew | Error | 'hang')[], intervalMs = 60_000) {
    const clock = new VirtualClock();
    const warnings: string[] = [];
    const elapsed = { ms: 0 };
    let checks = 0;
    const m = new ClockSkewMonitor({
      clock, intervalMs, maxSkewMs: DEFAULT_MAX_CLOCK_SKEW_MS, elapsedMs: () => elapsed.ms,
      measure: async (signal) => {
        const reading = readings[checks++];
        if (reading instanceof Error) throw reading;
        if (reading === 'hang') {
          return new Promise<never>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason as Error), { once: true }));
        }
        return reading;
      },
      warn: (message) => void warnings.push(message),
    }, initial);
    return { clock, warnings, elapsed, monitor: m, checks: () => checks };
  }

  it('reads the skew of a hello reply from its localTime, and none without one', () => {
    expect(skewOfHello({ ok: 1, localTime: new Date(1_000) }, 990, 1_030)).toEqual({ skewMs: 10, uncertaintyMs: 20 });
    expect(skewOfHello({ ok: 1 }, 990, 1_030)).toBeUndefined();
  });

  it('warns about the measurement at connect as before, and keeps it', () => {
    const { warnings, monitor: m } = monitor(ahead, []);
    expect(m.latest).toEqual(ahead);
    expect(warnings).toEqual([clockSkewWarning(ahead, DEFAULT_MAX_CLOCK_SKEW_MS)]);
  });

  it('measures again every interval on its own timer, and warns about a clock that drifted after connect the same way', async () => {
    const { clock, warnings, monitor: m, checks } = monitor(ok, [ok, ahead]);
    m.start();
    expect(warnings).toEqual([]);
    await clock.advance(60_000);
    expect(checks()).toBe(1);
    expect(warnings).toEqual([]);
    await clock.advance(60_000);
    expect(checks()).toBe(2);
    expect(m.latest).toEqual(ahead);
    expect(warnings).toEqual([clockSkewWarning(ahead, DEFAULT_MAX_CLOCK_SKEW_MS)]);
    await m.stop();
  });

  it('repeats the warning at most hourly while the skew lasts, and at once when it comes back after a good check', async () => {
    const readings = Array.from({ length: 61 }, () => ahead);
    const { clock, warnings, monitor: m } = monitor(ahead, [...readings, ok, ahead]);
    m.start();
    expect(warnings).toHaveLength(1);
    await clock.advance(CLOCK_SKEW_REWARN_MS - 60_000);
    expect(warnings).toHaveLength(1);
    await clock.advance(60_000);
    expect(warnings).toHaveLength(2);
    await clock.advance(60_000); // the 61st reading: still ahead, warned a minute ago
    expect(warnings).toHaveLength(2);
    await clock.advance(60_000); // within the tolerance
    await clock.advance(60_000); // ahead again: warned at once
    expect(warnings).toHaveLength(3);
    await m.stop();
  });

  it('reports a failed check and tries again at the next interval', async () => {
    const { clock, warnings, monitor: m, checks } = monitor(ok, [new Error('no server'), ahead]);
    m.start();
    await clock.advance(60_000);
    expect(warnings).toEqual([expect.stringContaining('failed; retrying in 60000 ms')]);
    await clock.advance(60_000);
    expect(checks()).toBe(2);
    expect(m.latest).toEqual(ahead);
    await m.stop();
  });

  it('leaves no timer after stop, and takes no check after it', async () => {
    const { clock, monitor: m, checks } = monitor(ok, [ok, ok]);
    m.start();
    expect(clock.pendingTimers).toBe(1);
    await m.stop();
    expect(clock.pendingTimers).toBe(0);
    m.start();
    await clock.advance(600_000);
    expect(checks()).toBe(0);
  });

  it('measures again for a claim once the last measurement is 10 s old, also with no periodic check, and not more often', async () => {
    // clockSkewCheckMs: 0 and a clock that was ahead at connect, then set right by NTP: without this, every claim
    // would be refused until a restart.
    const { clock, elapsed, monitor: m, checks } = monitor(ahead, [ok, ahead, ok], 0);
    m.start();
    expect(CLAIM_REMEASURE_MS).toBe(10_000);
    elapsed.ms = CLAIM_REMEASURE_MS - 1;
    await m.refreshIfStale(CLAIM_REMEASURE_MS);
    expect(checks()).toBe(0); // the measurement at connect is recent enough
    expect(m.latest).toEqual(ahead);
    elapsed.ms = CLAIM_REMEASURE_MS;
    await m.refreshIfStale(CLAIM_REMEASURE_MS);
    expect(checks()).toBe(1);
    expect(m.latest).toEqual(ok); // the fixed clock is noticed
    // Many claims within the next 10 s take no further measurement.
    elapsed.ms += CLAIM_REMEASURE_MS - 1;
    for (let i = 0; i < 5; i++) await m.refreshIfStale(CLAIM_REMEASURE_MS);
    expect(checks()).toBe(1);
    elapsed.ms += 1;
    await m.refreshIfStale(CLAIM_REMEASURE_MS);
    expect(checks()).toBe(2);
    expect(m.latest).toEqual(ahead);
    // A monotonic source that went back does not silence the re-measurement for good.
    elapsed.ms -= 60_000;
    await m.refreshIfStale(CLAIM_REMEASURE_MS);
    expect(checks()).toBe(3);
    expect(clock.pendingTimers).toBe(0); // it needs no timer
    await m.stop();
  });

  it('shares one check between claims that ask at once, and counts a failed check against the 10 s', async () => {
    const { elapsed, warnings, monitor: m, checks } = monitor(ahead, [new Error('no server'), ok], 0);
    elapsed.ms = CLAIM_REMEASURE_MS;
    await Promise.all([m.refreshIfStale(CLAIM_REMEASURE_MS), m.refreshIfStale(CLAIM_REMEASURE_MS), m.refreshIfStale(CLAIM_REMEASURE_MS)]);
    expect(checks()).toBe(1);
    expect(warnings.at(-1)).toContain('failed; retried by a claim it would refuse after 10000 ms');
    expect(m.latest).toEqual(ahead); // the failure leaves the last measurement
    await m.refreshIfStale(CLAIM_REMEASURE_MS);
    expect(checks()).toBe(1); // no hello per claim against a server that does not answer
    elapsed.ms += CLAIM_REMEASURE_MS;
    await m.refreshIfStale(CLAIM_REMEASURE_MS);
    expect(m.latest).toEqual(ok);
    await m.stop();
  });

  it('ends a check under way at stop (its signal aborts), and takes none after it', async () => {
    const { elapsed, warnings, monitor: m, checks } = monitor(ahead, ['hang', ok], 0);
    elapsed.ms = CLAIM_REMEASURE_MS;
    const waiting = m.refreshIfStale(CLAIM_REMEASURE_MS);
    expect(checks()).toBe(1);
    await m.stop(); // would never end if the hanging check were not aborted
    await waiting;
    expect(warnings).toHaveLength(1); // the warning at connect only: nothing reported for a stopped check
    elapsed.ms += CLAIM_REMEASURE_MS;
    await m.refreshIfStale(CLAIM_REMEASURE_MS);
    expect(checks()).toBe(1);
  });

  it('checks at connect only when the interval is 0', async () => {
    const { clock, monitor: m } = monitor(ok, [ok], 0);
    m.start();
    expect(clock.pendingTimers).toBe(0);
    await m.stop();
  });
});

describe('cluster time (where change streams open, what reads wait for)', () => {
  const at = (t: number, i: number) => new Timestamp({ t, i });
  /** A replica-set member's hello reply: its newest cluster time, and the newest majority-committed operation. */
  const hello = (clusterTime: Timestamp, majority: Timestamp) => ({
    ok: 1, setName: 'rs0', $clusterTime: { clusterTime }, lastWrite: { opTime: { ts: clusterTime, t: 1 }, majorityOpTime: { ts: majority, t: 1 } },
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

  it('has reads that answer a caller wait for the latest majority time: at or after this process\u2019s own commits', () => {
    const clock = new ClusterClock();
    expect(clock.readsAfter).toBeUndefined(); // nothing known: a plain majority read
    clock.observe(hello(at(10, 7), at(10, 3)));
    clock.observeMajority(at(10, 6)); // this process's commit, acknowledged by a majority
    // Not the newer gossiped time (10, 7), which a healthy primary's majority snapshot has not reached: no read waits.
    expect(clock.readsAfter).toEqual(at(10, 6));
    clock.observe(hello(at(10, 9), at(10, 4))); // an older majority time from a heartbeat never moves it back
    expect(clock.readsAfter).toEqual(at(10, 6));
  });

  /** A mongos's hello reply (its heartbeat): no setName, no lastWrite; only the gossiped cluster time. */
  const mongosHello = (clusterTime: Timestamp) => ({
    ok: 1, isWritablePrimary: true, msg: 'isdbgrid', topologyVersion: { counter: 0 }, maxWireVersion: 25,
    $clusterTime: { clusterTime }, operationTime: clusterTime,
  });

  it('takes the majority time from heartbeats where hello carries lastWrite, from majority reads where it does not', () => {
    expect(majorityTimeSource(hello(at(9, 5), at(9, 2)))).toBe('heartbeats');
    expect(majorityTimeSource(mongosHello(at(9, 5)))).toBe('majority-reads');
    // Behind a load balancer the driver sends no heartbeats at all.
    expect(majorityTimeSource({ ok: 1, isWritablePrimary: true, msg: 'isdbgrid', serviceId: 'x' })).toBe('majority-reads');
  });

  it('never opens at the gossiped cluster time: a mongos heartbeat leaves the start unknown (the present), not ahead of a majority read', () => {
    const clock = new ClusterClock();
    clock.observe(mongosHello(at(20, 1)));
    expect(clock.streamStart).toBeUndefined();
    clock.observe({ $clusterTime: { clusterTime: at(21, 1) } });
    expect(clock.streamStart).toBeUndefined();
  });

  it('moves with each majority read on a mongos, also in a process that never commits', () => {
    // An HTTP front end: its last (or no) commit is hours old; the periodic majority reads keep its streams near now.
    const clock = new ClusterClock();
    clock.observeMajority(at(1_000, 1)); // its only commit, long ago
    clock.observe(mongosHello(at(50_000, 9)));
    clock.observeMajority(majorityReadTimeOf({ ok: 1, cursor: { firstBatch: [], id: 0 }, operationTime: at(49_998, 3), $clusterTime: { clusterTime: at(50_000, 9) } }));
    expect(clock.streamStart).toEqual(at(49_998, 3));
    clock.observeMajority(majorityReadTimeOf({ ok: 1, operationTime: at(50_010, 1) }));
    expect(clock.streamStart).toEqual(at(50_010, 1));
  });

  it('reads the majority time of a majority read from its operationTime, never from $clusterTime', () => {
    expect(majorityReadTimeOf({ ok: 1, operationTime: at(4, 9), $clusterTime: { clusterTime: at(5, 1) } })).toEqual(at(4, 9));
    expect(majorityReadTimeOf({ ok: 1, $clusterTime: { clusterTime: at(5, 1) } })).toBeUndefined();
    expect(majorityReadTimeOf({ ok: 1, operationTime: 12 })).toBeUndefined();
    expect(majorityReadTimeOf(undefined)).toBeUndefined();
  });

  it('asks with a majority read that reaches the collection\u2019s shard and leaves no cursor open', () => {
    // A command that touches no shard gets the mongos's own cluster time as operationTime: not majority-committed.
    expect(majorityProbe('drx_instances')).toMatchObject({
      find: 'drx_instances', limit: 1, singleBatch: true, readConcern: { level: 'majority' },
    });
  });

  it('trusts a commit\u2019s operation time only under a majority write concern', () => {
    expect(isMajorityWriteConcern({ w: 'majority' })).toBe(true);
    expect(isMajorityWriteConcern({ w: 1 })).toBe(false);
    expect(isMajorityWriteConcern(undefined)).toBe(false);
  });
});

describe('claims refused while this clock is off the server\u2019s by more than a share of the lease', () => {
  it('refuses a claim whose lease the skew could shorten or lengthen by more than 10 %, ahead or behind', () => {
    // 30 s orchestration lease: 3 s allowed. 3.5 s ahead takes others' leases early; 3.5 s behind writes leases the
    // others see expire 3.5 s early.
    expect(MAX_LEASE_SKEW_FRACTION).toBe(0.1);
    const ahead = claimSkewProblem({ skewMs: 3_500, uncertaintyMs: 5 }, 30_000);
    expect(ahead).toContain('3500 ms ahead of');
    expect(ahead).toContain('3000 ms');
    expect(claimSkewProblem({ skewMs: -3_500, uncertaintyMs: 5 }, 30_000)).toContain('3500 ms behind');
  });

  it('says in the warning and the refusal that the same skew on every process means the server\u2019s clock is off', () => {
    for (const message of [claimSkewProblem({ skewMs: 3_500, uncertaintyMs: 5 }, 30_000), clockSkewWarning({ skewMs: 5_000, uncertaintyMs: 1 }, 2_000)]) {
      expect(message).toContain('every process reports about the same skew');
      expect(message).toContain('NTP on the MongoDB members');
    }
  });

  it('lets a claim through within the share, for a longer lease, or when the skew is not certain', () => {
    expect(claimSkewProblem({ skewMs: 2_900, uncertaintyMs: 0 }, 30_000)).toBeUndefined();
    // The same 3.5 s is within 10 % of a 5 min activity lease.
    expect(claimSkewProblem({ skewMs: 3_500, uncertaintyMs: 0 }, 300_000)).toBeUndefined();
    // A measurement whose round trip leaves the skew possibly within the share (3.5 s less 1 s of uncertainty).
    expect(claimSkewProblem({ skewMs: 3_500, uncertaintyMs: 1_000 }, 30_000)).toBeUndefined();
    // The server sent no time: nothing to judge by.
    expect(claimSkewProblem(undefined, 30_000)).toBeUndefined();
  });

  it('says how to get claims back: synchronise, the re-measurement, and the option for a single process', () => {
    const problem = claimSkewProblem({ skewMs: 5_000, uncertaintyMs: 0 }, 30_000);
    expect(problem).toContain('this process\u2019s clock is 5000 ms ahead of');
    expect(problem).toContain('over 10 s old');
    expect(problem).toContain('refuseClaimsOnClockSkew: false');
  });
});

describe('rate limits on a monotonic time', () => {
  it('lets through the first time, after the gap, and after the source went back', () => {
    expect(elapsedAtLeast(undefined, 0, 10_000)).toBe(true);
    expect(elapsedAtLeast(1_000, 10_999, 10_000)).toBe(false);
    expect(elapsedAtLeast(1_000, 11_000, 10_000)).toBe(true);
    expect(elapsedAtLeast(1_000, 500, 10_000)).toBe(true);
  });
});

describe('clock skew and a client\u2019s own commands (unclaimed writes)', () => {
  it('refuses to take over a lease an instance holds past the skew a claim is refused at: the command goes as a message', () => {
    // A client 35 s ahead judged a live 30 s lease expired and took it over while its worker was still working.
    const ahead: ClockSkew = { skewMs: 35_000, uncertaintyMs: 5 };
    expect(takeoverSkewProblem(ahead, true)).toContain('35000 ms ahead of');
    expect(takeoverSkewProblem({ skewMs: -4_000, uncertaintyMs: 5 }, true)).toContain('4000 ms behind');
    // Within 10 % of the default orchestration lease (3 s), as a claim of it: it goes ahead.
    expect(TAKEOVER_LEASE_MS * MAX_LEASE_SKEW_FRACTION).toBe(3_000);
    expect(takeoverSkewProblem({ skewMs: 2_900, uncertaintyMs: 5 }, true)).toBeUndefined();
    // No lease to take over, or no measurement: nothing judged on the clock.
    expect(takeoverSkewProblem(ahead, false)).toBeUndefined();
    expect(takeoverSkewProblem(undefined, true)).toBeUndefined();
  });
});

describe('clock skew and a status resync\u2019s window', () => {
  const healthyAt = new Date('2026-12-06T09:00:00.000Z');

  it('re-reads from the last healthy moment less a margin for writers behind by the skew a claim is refused at', () => {
    expect(resyncFrom(healthyAt, undefined)).toEqual(new Date(healthyAt.getTime() - RESYNC_MARGIN_MS));
    // A writer behind by up to 10 % of a 50 min lease (its claims refused past that) is inside the window; it used to be 60 s.
    expect(RESYNC_MARGIN_MS).toBeGreaterThanOrEqual(MAX_LEASE_SKEW_FRACTION * 50 * 60_000);
    const writerBehind = new Date(healthyAt.getTime() - 90_000); // updatedAt of a write 90 s behind, just before the loss
    expect(resyncFrom(healthyAt, { skewMs: 0, uncertaintyMs: 3 }).getTime()).toBeLessThanOrEqual(writerBehind.getTime());
  });

  it('moves the window back by this process\u2019s own clock when it runs ahead of the server, never forward', () => {
    // A reader 90 s ahead marks its healthy moment 90 s after the server's time: the writes before it are older still.
    expect(resyncFrom(healthyAt, { skewMs: 90_000, uncertaintyMs: 10 })).toEqual(new Date(healthyAt.getTime() - 90_010 - RESYNC_MARGIN_MS));
    expect(resyncFrom(healthyAt, { skewMs: -90_000, uncertaintyMs: 10 })).toEqual(new Date(healthyAt.getTime() - RESYNC_MARGIN_MS));
    expect(resyncFrom(healthyAt, { skewMs: Number.NaN, uncertaintyMs: 10 })).toEqual(new Date(healthyAt.getTime() - RESYNC_MARGIN_MS));
  });
});
