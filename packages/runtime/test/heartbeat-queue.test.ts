import { describe, expect, it } from 'vitest';
import { HeartbeatQueue, type Beating } from '../src/http/heartbeat-queue.js';
import type { Clock } from '../src/env/clock.js';
import { silentLogger, type Logger } from '../src/env/logger.js';
import { VirtualClock } from '../src/testing/virtual-clock.js';
import { failPlatformTimers, HandClock, nextTurn, T0 } from './hand-clock.js';

/**
 * The heartbeats of every connection of a handler on one clock timer: each connection still beats every interval
 * from when it opened, as a timer of its own would, and a handler with no open connection holds no timer.
 */

class Member implements Beating {
  beatPrev: Beating | undefined;
  beatNext: Beating | undefined;
  beatDue = -1;
  readonly beats: number[] = [];
  constructor(readonly clock: VirtualClock, readonly start: number, readonly onBeat: () => void = () => undefined) {}
  beat(): void {
    this.beats.push(this.clock.now().getTime() - this.start);
    this.onBeat();
  }
}

describe('HeartbeatQueue', () => {
  it('beats each member every interval from when it was added, all on one timer', async () => {
    const clock = new VirtualClock();
    const start = clock.now().getTime();
    const queue = new HeartbeatQueue(clock, 1000, silentLogger);
    const a = new Member(clock, start);
    queue.add(a);
    await clock.advance(300);
    const b = new Member(clock, start);
    queue.add(b);
    expect(clock.pendingTimers).toBe(1);
    await clock.advance(2700);
    expect(a.beats).toEqual([1000, 2000, 3000]);
    expect(b.beats).toEqual([1300, 2300]);
    expect(clock.pendingTimers).toBe(1);
    queue.clear();
  });

  it('stops beating a removed member and clears its timer when the last one leaves', async () => {
    const clock = new VirtualClock();
    const start = clock.now().getTime();
    const queue = new HeartbeatQueue(clock, 1000, silentLogger);
    const a = new Member(clock, start);
    const b = new Member(clock, start);
    queue.add(a);
    await clock.advance(500);
    queue.add(b);
    queue.remove(a); // the head leaves: the timer armed for it fires early and waits on for b
    await clock.advance(1000);
    expect(a.beats).toEqual([]);
    expect(b.beats).toEqual([1500]);
    queue.remove(b);
    queue.remove(b); // not queued: nothing happens
    expect(clock.pendingTimers).toBe(0);
    await clock.advance(5000);
    expect(b.beats).toEqual([1500]);
  });

  it('lets a member leave from its own beat (a connection cut while it writes) and serves the others', async () => {
    const clock = new VirtualClock();
    const start = clock.now().getTime();
    const queue = new HeartbeatQueue(clock, 1000, silentLogger);
    const leaving: Member = new Member(clock, start, () => queue.remove(leaving));
    const staying = new Member(clock, start);
    queue.add(leaving);
    queue.add(staying);
    await clock.advance(2000);
    expect(leaving.beats).toEqual([1000]);
    expect(staying.beats).toEqual([1000, 2000]);
    queue.remove(staying);
    expect(clock.pendingTimers).toBe(0);
  });

  it('keeps beating every interval when the wall clock is set back (an NTP step, a resumed VM)', async () => {
    const { virtual, start, setBack, queue, a } = queueOnSteppedClock();
    await virtual.advance(1500);
    setBack(3_600_000);
    const b = new Member(virtual, start);
    queue.add(b);
    await virtual.advance(2000);
    expect(a.beats).toEqual([1000, 2000, 3000]);
    expect(b.beats).toEqual([2500, 3500]);
    queue.clear();
    expect(virtual.pendingTimers).toBe(0);
  });

  it('drops a member whose beat throws, throws nothing from its timer and keeps beating the others', async () => {
    const clock = new VirtualClock();
    const start = clock.now().getTime();
    const queue = new HeartbeatQueue(clock, 1000, silentLogger);
    const first = new Member(clock, start);
    const bad = new Member(clock, start, () => {
      throw new Error('broken socket');
    });
    const last = new Member(clock, start);
    queue.add(first);
    queue.add(bad);
    queue.add(last);
    // A timer callback that threw would reject the advance (and crash a Node process as an uncaught exception).
    await clock.advance(3000);
    expect(first.beats).toEqual([1000, 2000, 3000]);
    expect(last.beats).toEqual([1000, 2000, 3000]);
    expect(bad.beats).toEqual([1000]);
    expect(bad.beatDue).toBe(-1);
    queue.remove(bad); // taken out already: nothing happens
    queue.remove(first);
    queue.remove(last);
    expect(clock.pendingTimers).toBe(0);
  });

  it('drops the only member when its beat throws, and holds no timer then', async () => {
    const clock = new VirtualClock();
    const start = clock.now().getTime();
    const queue = new HeartbeatQueue(clock, 1000, silentLogger);
    const bad = new Member(clock, start, () => {
      throw new Error('broken socket');
    });
    queue.add(bad);
    await clock.advance(1000);
    expect(bad.beats).toEqual([1000]);
    expect(clock.pendingTimers).toBe(0);
  });

  it('makes a member wait at most about two intervals when the wall clock is set back by less than one', async () => {
    const { virtual, start, setBack, queue, a } = queueOnSteppedClock();
    await virtual.advance(1000);
    setBack(900); // just after a beat: the step delays the next one by as much
    await virtual.advance(1000);
    expect(a.beats).toEqual([1000]);
    await virtual.advance(900);
    expect(a.beats).toEqual([1000, 2900]);
    await virtual.advance(1000);
    expect(a.beats).toEqual([1000, 2900, 3900]);
    queue.clear();
  });

  it('keeps beating every interval, throws nothing and reports once, while the clock gives no time; then beats by the clock again', async () => {
    for (const failure of ['Invalid Date', 'a throw'] as const) {
      const virtual = new VirtualClock();
      const start = virtual.now().getTime();
      let broken = false;
      const clock: Clock = {
        now: () => {
          if (!broken) return virtual.now();
          if (failure === 'a throw') throw new Error('clock unplugged');
          return new Date(Number.NaN);
        },
        setTimeout: (callback, delayMs) => virtual.setTimeout(callback, delayMs),
        clearTimeout: (timer) => virtual.clearTimeout(timer),
      };
      const reports: unknown[] = [];
      const logger: Logger = { warn: () => undefined, error: (_message, error) => void reports.push(error) };
      const queue = new HeartbeatQueue(clock, 1000, logger);
      const a = new Member(virtual, start);
      queue.add(a);
      await virtual.advance(1000);
      broken = true;
      const b = new Member(virtual, start);
      queue.add(b); // added while the clock gives no time: nothing thrown, it beats at the next round
      // A timer callback that threw would reject the advance; one armed on no time would never fire.
      await virtual.advance(3000);
      expect(a.beats).toEqual([1000, 2000, 3000, 4000]);
      expect(b.beats).toEqual([2000, 3000, 4000]);
      expect(reports).toHaveLength(1); // once, not once per round
      if (failure === 'Invalid Date') expect(reports[0]).toBeInstanceOf(RangeError);
      else expect(reports[0]).toMatchObject({ message: 'clock unplugged' });
      broken = false;
      await virtual.advance(2000);
      expect(a.beats).toEqual([1000, 2000, 3000, 4000, 5000, 6000]);
      expect(b.beats).toEqual([2000, 3000, 4000, 5000, 6000]);
      queue.clear();
      expect(virtual.pendingTimers).toBe(0);
    }
  });

  it('holds no timer once cleared, and can be used again', async () => {
    const clock = new VirtualClock();
    const start = clock.now().getTime();
    const queue = new HeartbeatQueue(clock, 1000, silentLogger);
    const a = new Member(clock, start);
    queue.add(a);
    queue.clear();
    expect(clock.pendingTimers).toBe(0);
    expect(a.beatDue).toBe(-1);
    queue.add(a);
    await clock.advance(1000);
    expect(a.beats).toEqual([1000]);
    queue.clear();
  });
});

/**
 * A queue whose wall clock `setBack(ms)` puts behind `virtual` (an NTP step, a resumed VM), its timers on `virtual`,
 * with member `a` added at `start`.
 */
function queueOnSteppedClock() {
  const virtual = new VirtualClock();
  const start = virtual.now().getTime();
  let backMs = 0;
  const clock: Clock = {
    now: () => new Date(virtual.now().getTime() - backMs),
    setTimeout: (callback, delayMs) => virtual.setTimeout(callback, delayMs),
    clearTimeout: (timer) => virtual.clearTimeout(timer),
  };
  const queue = new HeartbeatQueue(clock, 1000, silentLogger);
  const a = new Member(virtual, start);
  queue.add(a);
  const setBack = (ms: number): void => {
    backMs = ms;
  };
  return { virtual, start, setBack, queue, a };
}

describe('a HeartbeatQueue whose clock and platform both fail to arm its timer', () => {
  it('arms it again at the next turn once they work, and beats on, reported once', async () => {
    const clock = new HandClock();
    const errors: string[] = [];
    const queue = new HeartbeatQueue(clock, 1000, { warn: () => undefined, error: (message) => void errors.push(message) });
    let beats = 0;
    const member: Beating = { beatPrev: undefined, beatNext: undefined, beatDue: -1, beat: () => void beats++ };
    clock.refusing = true;
    const platform = failPlatformTimers();
    try {
      queue.add(member);
    } finally {
      platform.restore();
      clock.refusing = false;
    }
    // Before, none was armed until another connection opened: an open stream had no heartbeat for good.
    await nextTurn();
    expect([...clock.timers.values()].map((timer) => timer.at)).toEqual([T0 + 1000]);
    clock.ms = T0 + 1000;
    clock.fireDue();
    expect(beats).toBe(1);
    expect(errors).toEqual([expect.stringContaining('tried again at the next turn')]);
    queue.clear();
  });
});
