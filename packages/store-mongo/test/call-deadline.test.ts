import { InvalidArgumentError, type Clock } from '@durable-rx/runtime';
import { VirtualClock } from '@durable-rx/runtime/testing';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DEFAULT_STORE_CALL_TIMEOUT_MS } from '@durable-rx/runtime/store-kit';
import { CallDeadline, elapsedSourceOf, LISTING_DEADLINE_MS, listingDeadlineMs, MIN_STORE_CALL_TIMEOUT_MS, serverTimeLeft } from '../src/call-deadline.js';
import { checkConnectOptions } from '../src/mongo-store-options.js';
import { mapDriverError } from '../src/map-driver-error.js';
import { MongoStore } from '../src/mongo-store.js';
import { READ_DEADLINE_MARGIN_MS } from '../src/read-bound.js';
import { MAJORITY_WAIT_MS } from '../src/write-concern.js';

/** The runtime's default `storeCallTimeoutMs` (createRuntime, createClient), past which it gives up on a store call. */
const STORE_CALL_TIMEOUT_MS = DEFAULT_STORE_CALL_TIMEOUT_MS;

describe('a listing\u2019s deadline within its caller\u2019s storeCallTimeoutMs (listingDeadlineMs, the storeCallTimeoutMs option)', () => {
  it('ends before the caller gives up at any bound, with server time to spare before its own end', async () => {
    expect(listingDeadlineMs(STORE_CALL_TIMEOUT_MS)).toBe(LISTING_DEADLINE_MS);
    expect(listingDeadlineMs(Infinity)).toBe(LISTING_DEADLINE_MS);
    expect(listingDeadlineMs(120_000)).toBe(LISTING_DEADLINE_MS);
    // Before, every call ran 25 s whatever its caller allowed: a runtime giving up at 10 s started another listing
    // while the abandoned one read and wrote for 15 s more.
    expect(listingDeadlineMs(12_000)).toBe(10_000);
    expect(serverTimeLeft(0, listingDeadlineMs(12_000))).toBe(8_000);
    for (const callMs of [MIN_STORE_CALL_TIMEOUT_MS, 5_000, 6_000, 10_000, 24_000, 29_999]) {
      const deadlineMs = listingDeadlineMs(callMs);
      expect(deadlineMs, String(callMs)).toBeLessThan(callMs);
      expect(serverTimeLeft(0, deadlineMs), String(callMs)).toBeLessThan(deadlineMs);
      expect(serverTimeLeft(0, deadlineMs), String(callMs)).toBeGreaterThanOrEqual(1);
    }
    const clock = new VirtualClock();
    const deadline = new CallDeadline(clock, listingDeadlineMs(10_000));
    expect(deadline.read().maxTimeMS).toBe(6_666);
    await clock.advance(8_333);
    expect(deadline.signal.aborted).toBe(true); // 1.7 s before the caller's 10 s
    deadline.release();
  });

  it('is a MongoStore option of a number of ms of at least 1 s, Infinity included', () => {
    const uri = 'mongodb://127.0.0.1:1/?replicaSet=rs0';
    for (const value of [MIN_STORE_CALL_TIMEOUT_MS, 10_000, Infinity]) expect(() => checkConnectOptions({ uri, storeCallTimeoutMs: value })).not.toThrow();
  });

  it('is refused under 1 s by name, with one message whatever the value, where every listing would fail with a 503 and the sweep never purge', async () => {
    // 1 ms gave a deadline of 0 and no server time: every listing was a 503 before it read anything. Up to 2.4 ms
    // the shares still round to nothing, and above, a reply later than a fifth of the deadline fails it.
    expect(serverTimeLeft(0, listingDeadlineMs(1))).toBeUndefined();
    const uri = 'mongodb://127.0.0.1:1/?replicaSet=rs0';
    // 0, -1, NaN and a string too: told "must be a number > 0 (ms)" before, a user went on to 1 ms, refused in turn.
    for (const value of [0, -1, Number.NaN, '10000', null, 1, 1.2, 2.4, 500, MIN_STORE_CALL_TIMEOUT_MS - 1]) {
      expect(() => checkConnectOptions({ uri, storeCallTimeoutMs: value }), String(value))
        .toThrow(new InvalidArgumentError(
          'MongoStore options.storeCallTimeoutMs must be a number of at least 1000 (ms), Infinity included: a listEnded call ends by five sixths of it, and a shorter one leaves its reads too little time to reach the server and back, so every listing would fail with a 503 (under a runtime whose storeCallTimeoutMs is shorter, give the store 1000)',
        ));
    }
    // connect refuses it before anything is created: no client, no connection.
    await expect(MongoStore.connect({ uri, storeCallTimeoutMs: 1 })).rejects.toBeInstanceOf(InvalidArgumentError);
    // At the floor a listing's reads get 666 ms of server time, and 166 ms for the reply.
    expect(listingDeadlineMs(MIN_STORE_CALL_TIMEOUT_MS)).toBe(833);
    expect(serverTimeLeft(0, listingDeadlineMs(MIN_STORE_CALL_TIMEOUT_MS))).toBe(666);
  });
});

describe('one deadline for a store call (CallDeadline: listEnded\u2019s reads and repair writes)', () => {
  it('ends within the runtime\u2019s default storeCallTimeoutMs, the server\u2019s share a margin before it', () => {
    expect(LISTING_DEADLINE_MS).toBeLessThan(STORE_CALL_TIMEOUT_MS);
    expect(serverTimeLeft(0)).toBe(LISTING_DEADLINE_MS - READ_DEADLINE_MARGIN_MS);
    expect(serverTimeLeft(19_500)).toBe(500);
    expect(serverTimeLeft(19_999.5)).toBeUndefined(); // no whole millisecond: not started (maxTimeMS 0 would mean none)
    expect(serverTimeLeft(20_000)).toBeUndefined();
    expect(serverTimeLeft(1_000, 10_000)).toBe(7_000); // a margin of a fifth of a deadline under 25 s: 2000
  });

  it('gives each read and write what is left of the one budget, not a bound of its own', async () => {
    const clock = new VirtualClock();
    const deadline = new CallDeadline(clock);
    expect(deadline.read()).toEqual({ maxTimeMS: 20_000, signal: deadline.signal });
    // A write 15 s in (a read and a batch of repairs before it): its server time and its wait for a majority end
    // with the call's, not 30 s later (the write concern's own 30 s).
    await clock.advance(15_000);
    expect(deadline.write()).toEqual({ maxTimeMS: 5_000, writeConcern: { w: 'majority', wtimeoutMS: 5_000 }, signal: deadline.signal });
    expect(deadline.read().maxTimeMS).toBe(5_000);
    // Early in a longer budget, the majority wait stays the store's 30 s.
    const long = new CallDeadline(clock, 60_000);
    expect(long.write().writeConcern.wtimeoutMS).toBe(MAJORITY_WAIT_MS);
    long.release();
    deadline.release();
    expect(clock.pendingTimers).toBe(0);
  });

  it('starts nothing once the server\u2019s share has run out, and aborts the signal at the deadline: a typed, retryable error', async () => {
    const clock = new VirtualClock();
    const deadline = new CallDeadline(clock);
    await clock.advance(20_000);
    expect(deadline.signal.aborted).toBe(false);
    const late = captured(() => deadline.write());
    expect(late).toMatchObject({ name: 'TimeoutError' });
    expect(mapDriverError(late, 'listing ended instances')).toMatchObject({ code: 'store-unreachable', status: 503 });
    await clock.advance(LISTING_DEADLINE_MS - 20_000);
    expect(deadline.signal.aborted).toBe(true);
    expect(deadline.signal.reason).toMatchObject({ name: 'TimeoutError' });
    expect(captured(() => deadline.read())).toBe(deadline.signal.reason);
    expect(clock.pendingTimers).toBe(0);
    deadline.release(); // after it fired: nothing to clear
  });

  afterEach(() => vi.restoreAllMocks());

  /**
   * A system-like clock over `clock`'s timers (no `timersFireOnTime`) whose `now()` is wall time, set by `stepMs`, and
   * `performance.now()` held by the test at `monotonic.ms`: the monotonic time the timers keep.
   */
  function wallClockOver(clock: VirtualClock) {
    const wall = { stepMs: 0 };
    const monotonic = { ms: 1_000 };
    vi.spyOn(performance, 'now').mockImplementation(() => monotonic.ms); // restored after each test
    const system: Clock = {
      now: () => new Date(clock.now().getTime() + wall.stepMs),
      setTimeout: (callback, delayMs) => clock.setTimeout(callback, delayMs),
      clearTimeout: (timer) => clock.clearTimeout(timer),
    };
    /** Moves the timers' and the monotonic time on by `ms` together, as on a real machine. */
    const advance = async (ms: number) => {
      monotonic.ms += ms;
      await clock.advance(ms);
    };
    return { system, wall, advance };
  }

  it('reads its elapsed time on a monotonic source: a wall clock set forward an hour mid-call (an NTP step, a machine waking) does not end the call', async () => {
    // Before, the elapsed time came from the clock's now(): an hour forward 10 s in left no server time, and every read
    // and write after it threw the deadline's TimeoutError (a 503) though the call had 15 s left.
    const clock = new VirtualClock();
    const { system, wall, advance } = wallClockOver(clock);
    const deadline = new CallDeadline(system);
    await advance(10_000);
    wall.stepMs = 3_600_000;
    expect(deadline.read().maxTimeMS).toBe(10_000);
    expect(deadline.write()).toMatchObject({ maxTimeMS: 10_000, writeConcern: { wtimeoutMS: 10_000 } });
    expect(deadline.signal.aborted).toBe(false);
    await advance(10_000);
    expect(captured(() => deadline.read())).toMatchObject({ name: 'TimeoutError' }); // its share spent, by the monotonic time
    await advance(LISTING_DEADLINE_MS - 20_000);
    expect(deadline.signal.aborted).toBe(true);
    deadline.release();
  });

  it('gives no operation more server time than the call\u2019s share when the clock steps back during the call (an NTP step)', async () => {
    // An hour set back 10 s in made a read's maxTimeMS 3,610,000 ms (a write's the same, its majority wait 30 s), so
    // the server would go on long after the signal ended the call at 25 s.
    const clock = new VirtualClock();
    const { system, wall, advance } = wallClockOver(clock);
    const deadline = new CallDeadline(system);
    await advance(10_000);
    wall.stepMs = -3_600_000;
    expect(deadline.read().maxTimeMS).toBe(10_000);
    expect(deadline.write()).toMatchObject({ maxTimeMS: 10_000, writeConcern: { wtimeoutMS: 10_000 } });
    deadline.release();
    // A hand clock (its timers on its own time) drives the deadline by its now(): set back, no more than the share.
    expect(serverTimeLeft(-3_600_000)).toBe(LISTING_DEADLINE_MS - READ_DEADLINE_MARGIN_MS);
  });

  it('is driven by a hand clock\u2019s own time (timersFireOnTime), not the machine\u2019s', async () => {
    const clock = new VirtualClock();
    expect(elapsedSourceOf(clock)()).toBe(clock.now().getTime());
    const deadline = new CallDeadline(clock);
    await clock.advance(12_000);
    expect(deadline.read().maxTimeMS).toBe(8_000);
    deadline.release();
  });

  it('releases its timer when the call settles first, and the signal stays unaborted', async () => {
    const clock = new VirtualClock();
    const deadline = new CallDeadline(clock);
    expect(clock.pendingTimers).toBe(1);
    deadline.release();
    expect(clock.pendingTimers).toBe(0);
    await clock.advance(LISTING_DEADLINE_MS * 2);
    expect(deadline.signal.aborted).toBe(false);
  });
});

function captured(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}
