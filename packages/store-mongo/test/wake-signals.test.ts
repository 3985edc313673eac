import { VirtualClock } from '@durable-rx/runtime/testing';
import { Subject } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { wakeSignals } from '../src/wake-signals.js';

describe('wake signals of the wake-up feed', () => {
  const start = new Date('2026-01-01T00:00:00.000Z');
  const at = (ms: number) => new Date(start.getTime() + ms);

  it('signal work at once, and a learned timer when it comes due, on the store\'s clock', async () => {
    const clock = new VirtualClock(start);
    const events = new Subject<true | Date>();
    const signals: number[] = [];
    const subscription = wakeSignals(events, clock).subscribe(() => signals.push(clock.now().getTime() - start.getTime()));
    events.next(true);
    expect(signals).toEqual([0]);
    events.next(at(5_000));
    expect(signals).toEqual([0]);
    await clock.advance(4_999);
    expect(signals).toEqual([0]);
    await clock.advance(1);
    expect(signals).toEqual([0, 5_000]);
    expect(clock.pendingTimers).toBe(0);
    subscription.unsubscribe();
  });

  it('keep one timer, for the earliest time: an earlier one replaces it, a later one is left to the worker\'s next wake time', async () => {
    const clock = new VirtualClock(start);
    const events = new Subject<true | Date>();
    const signals: number[] = [];
    const subscription = wakeSignals(events, clock).subscribe(() => signals.push(clock.now().getTime() - start.getTime()));
    events.next(at(10_000));
    events.next(at(3_000));
    events.next(at(7_000));
    expect(clock.pendingTimers).toBe(1);
    await clock.advance(20_000);
    expect(signals).toEqual([3_000]);
    // A time already past signals at once (on the next turn of the clock).
    events.next(at(1_000));
    await clock.advance(0);
    expect(signals).toEqual([3_000, 20_000]);
    subscription.unsubscribe();
  });

  it('clear the timer when the last subscriber leaves', () => {
    const clock = new VirtualClock(start);
    const events = new Subject<true | Date>();
    const subscription = wakeSignals(events, clock).subscribe();
    events.next(at(5_000));
    expect(clock.pendingTimers).toBe(1);
    subscription.unsubscribe();
    expect(clock.pendingTimers).toBe(0);
    expect(events.observed).toBe(false);
  });
});
