import { describe, expect, it, vi } from 'vitest';
import { armTimeout } from '../src/client/timeout-after.js';
import { MAX_TIMER_DELAY_MS } from '../src/env/clock.js';
import { guardClock } from '../src/env/guarded-clock.js';
import type { Logger } from '../src/env/logger.js';
import { HandClock, T0 } from './hand-clock.js';

/** A HandClock whose `clearTimeout` throws while `clearThrowing`. */
class FailingClock extends HandClock {
  clearThrowing = false;

  override clearTimeout(timer: ReturnType<HandClock['setTimeout']>): void {
    if (this.clearThrowing) throw new Error('injected: no clear');
    super.clearTimeout(timer);
  }
}

/** A logger that keeps what it is told. */
function keptLogger(): Logger & { readonly errors: string[] } {
  const errors: string[] = [];
  return { errors, warn: () => {}, error: (message) => void errors.push(message) };
}

describe('guardClock', () => {
  it('clears through a clock that fails to, reporting it once and throwing nothing', () => {
    const clock = new FailingClock();
    const logger = keptLogger();
    const guarded = guardClock(clock, logger, 'the test clock');
    const timer = guarded.setTimeout(() => undefined, 100);
    clock.clearThrowing = true;
    expect(() => guarded.clearTimeout(timer)).not.toThrow();
    expect(logger.errors).toEqual(['the test clock failed to clear a timer; it does nothing if it fires']);
    expect(guardClock(guarded, keptLogger())).toBe(guarded);
  });
});

describe('GuardedClock.nowMs', () => {
  it("gives the platform's time for a reading that throws or is no valid Date, reported once until the clock gives one", () => {
    const clock = new HandClock();
    const logger = keptLogger();
    const guarded = guardClock(clock, logger, 'the test clock');
    expect(guarded.nowMs()).toBe(T0);
    let reading: () => Date = () => {
      throw new Error('injected: no time');
    };
    clock.now = () => reading();
    const before = Date.now();
    expect(guarded.nowMs()).toBeGreaterThanOrEqual(before);
    reading = () => new Date(Number.NaN);
    expect(guarded.nowMs()).toBeGreaterThanOrEqual(before);
    expect(logger.errors).toEqual(["the test clock gave no time; the platform's stands in until it does"]);
    reading = () => new Date(T0);
    expect(guarded.nowMs()).toBe(T0);
    reading = () => new Date(Number.NaN);
    guarded.nowMs();
    expect(logger.errors).toHaveLength(2);
  });
});

describe('armTimeout on a clock that fails to clear its timer', () => {
  it('cancels without throwing, and the timer it let go of does nothing when it fires', () => {
    const clock = new FailingClock();
    const timedOut = vi.fn();
    const cancel = armTimeout(100, guardClock(clock, keptLogger()), timedOut);
    clock.clearThrowing = true;
    // Before, the clock's error came out of `cancel` (a command's answer rejected with it) and the timer still fired.
    expect(cancel).not.toThrow();
    clock.ms = T0 + 100;
    clock.fireDue();
    expect(timedOut).not.toHaveBeenCalled();
  });
});

describe('armTimeout on a clock that fails to arm the next step of a long timeout', () => {
  it('reports it and ends the wait then, throwing nothing out of the timer\'s callback', () => {
    const clock = new HandClock();
    const logger = keptLogger();
    const timedOut = vi.fn();
    const cancel = armTimeout(MAX_TIMER_DELAY_MS + 1000, guardClock(clock, logger, 'the test clock'), timedOut);
    clock.refusing = true;
    clock.ms = T0 + MAX_TIMER_DELAY_MS;
    // Before, the clock's error was thrown out of the timer's callback (on Node, an uncaught exception), and the
    // timeout never came.
    expect(() => clock.fireDue()).not.toThrow();
    expect(timedOut).toHaveBeenCalledTimes(1);
    expect(logger.errors).toEqual(['the test clock failed to arm the next step of a timeout; it ends now']);
    expect(cancel).not.toThrow();
  });
});
