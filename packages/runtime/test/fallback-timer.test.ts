import { describe, expect, it, vi } from 'vitest';
import { FallbackTimer, type Fallback } from '../src/env/fallback-timer.js';
import { FirstFailure } from '../src/env/first-failure.js';
import { failPlatformTimers, HandClock, nextTurn, T0 } from './hand-clock.js';
import { within } from './within.js';

/** A HandClock whose `setTimeout` throws while `throwing` is set. */
class TimerThrowingClock extends HandClock {
  throwing = false;

  override setTimeout(callback: () => void, delayMs: number): ReturnType<HandClock['setTimeout']> {
    if (this.throwing) throw new Error('injected: no timer');
    return super.setTimeout(callback, delayMs);
  }
}

/** A HandClock whose `clearTimeout` throws while `clearThrowing` is set (the timer stays armed then). */
class ClearThrowingClock extends HandClock {
  clearThrowing = false;

  override clearTimeout(timer: ReturnType<HandClock['setTimeout']>): void {
    if (this.clearThrowing) throw new Error('injected: no clear');
    super.clearTimeout(timer);
  }
}

/** The `clearFailed` of a timer whose clock clears what it is asked to: a report fails the test. */
const unexpected = (error: unknown): void => expect.unreachable(`a clear reported as failed: ${String(error)}`);

/** The next turn of the platform's timers: a 0 ms timer set before this one has fired by then. */
const platformTurn = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0));

/**
 * Arms `timer` for 100 ms with neither `clock` nor the platform able to set a timer (`retries`): its try is pending at
 * the next turn, when both work again.
 */
function armPendingTry(clock: HandClock, timer: FallbackTimer, failed: (error: unknown, fallback: Fallback) => void = () => undefined): void {
  clock.refusing = true;
  const platform = failPlatformTimers();
  try {
    expect(timer.arm(100, failed)).toBe(100);
  } finally {
    platform.restore();
    clock.refusing = false;
  }
}

describe('FallbackTimer', () => {
  it('arms on the clock, in place of the one armed, and is no longer armed once it fired', () => {
    const clock = new HandClock();
    const fired: boolean[] = [];
    const timer = new FallbackTimer(clock, (onPlatform) => fired.push(onPlatform), { clearFailed: unexpected });
    expect(timer.arm(100)).toBe(100);
    expect(timer.arm(50)).toBe(50);
    expect([...clock.timers.values()].map((t) => t.at)).toEqual([T0 + 50]);
    clock.ms = T0 + 50;
    clock.fireDue();
    expect(fired).toEqual([false]);
    expect(timer.armed).toBe(false);
  });

  it('throws what the clock throws without `failed` (or with one that throws), the one armed left as it was', () => {
    const clock = new TimerThrowingClock();
    const timer = new FallbackTimer(clock, () => undefined, { clearFailed: unexpected });
    timer.arm(100);
    clock.throwing = true;
    expect(() => timer.arm(50)).toThrow('injected: no timer');
    expect(timer.armed).toBe(true);
    expect(timer.unarmed).toBe(false);
    expect([...clock.timers.values()].map((t) => t.at)).toEqual([T0 + 100]);
  });

  it('keeps the one armed when the clock fails, reporting it, and arms nothing on the platform', () => {
    const clock = new TimerThrowingClock();
    const reports: unknown[] = [];
    const timer = new FallbackTimer(clock, () => undefined, { clearFailed: unexpected });
    timer.arm(100);
    clock.throwing = true;
    expect(timer.arm(50, (error) => reports.push(error))).toBeUndefined();
    expect(reports).toEqual([new Error('injected: no timer')]);
    expect([...clock.timers.values()].map((t) => t.at)).toEqual([T0 + 100]);
  });

  it('with `inPlace`, sets the one the clock failed to arm on the platform\'s timer in place of the one armed', async () => {
    const clock = new TimerThrowingClock();
    let fired!: (onPlatform: boolean) => void;
    const firing = new Promise<boolean>((resolve) => (fired = resolve));
    const timer = new FallbackTimer(clock, (onPlatform) => fired(onPlatform), { clearFailed: unexpected, inPlace: true });
    timer.arm(100);
    clock.throwing = true;
    expect(timer.arm(0, () => undefined)).toBe(0);
    expect(clock.timers.size).toBe(0);
    expect(await within(firing, 'the platform\'s timer firing')).toBe(true);
  });

  it('with none armed when the clock fails, sets it on the platform\'s timer, told so as it fires; clear cancels it', async () => {
    const clock = new TimerThrowingClock();
    const reports: unknown[] = [];
    let fired!: (onPlatform: boolean) => void;
    const firing = new Promise<boolean>((resolve) => (fired = resolve));
    const timer = new FallbackTimer(clock, (onPlatform) => fired(onPlatform), { clearFailed: unexpected });
    clock.throwing = true;
    // A week's delay, given at most 0 ms on the platform.
    expect(timer.arm(7 * 86_400_000, (error) => reports.push(error), 0)).toBe(0);
    expect(reports).toEqual([new Error('injected: no timer')]);
    expect(timer.armed).toBe(true);
    expect(await within(firing, 'the platform\'s timer firing')).toBe(true);
    expect(timer.armed).toBe(false);
    // Cleared before it fires, it never does.
    const calls: boolean[] = [];
    const cleared = new FallbackTimer(clock, (onPlatform) => calls.push(onPlatform), { clearFailed: unexpected });
    cleared.arm(0, () => undefined);
    cleared.clear();
    await platformTurn();
    expect(calls).toEqual([]);
    expect(cleared.armed).toBe(false);
    // A clock that recovers is asked again at the next arming.
    clock.throwing = false;
    expect(cleared.arm(100, () => undefined)).toBe(100);
    expect([...clock.timers.values()].map((t) => t.at)).toEqual([T0 + 100]);
  });

  it('reports once what became of a timer neither the clock nor the platform could arm: none is, nor is any kept', () => {
    const clock = new TimerThrowingClock();
    const reports: [unknown, string][] = [];
    const timer = new FallbackTimer(clock, () => undefined, { clearFailed: unexpected });
    clock.throwing = true;
    const platform = vi.spyOn(globalThis, 'setTimeout').mockImplementation((() => {
      throw new Error('injected: no platform timer');
    }) as unknown as typeof setTimeout);
    try {
      expect(timer.arm(100, (error, fallback) => reports.push([error, fallback]))).toBeUndefined();
    } finally {
      platform.mockRestore();
    }
    expect(timer.armed).toBe(false);
    // Before, the clock's error was reported first, as if the platform's timer would take its place, then the platform's.
    expect(reports).toHaveLength(1);
    expect(reports[0]![1]).toBe('none');
    expect((reports[0]![0] as AggregateError).errors).toEqual([new Error('injected: no timer'), new Error('injected: no platform timer')]);
    // Set on the platform's, it is reported once it is armed there.
    const armedWhenReported: boolean[] = [];
    expect(timer.arm(0, (_, fallback) => armedWhenReported.push(fallback === 'platform' && timer.armed))).toBe(0);
    expect(armedWhenReported).toEqual([true]);
    timer.clear();
  });

  it('tells its owner a failing clock is the first failure once, until the clock arms again, shared by the timers of one owner', () => {
    const clock = new TimerThrowingClock();
    const failures = new FirstFailure();
    const timer = new FallbackTimer(clock, () => undefined, { clearFailed: unexpected, failures });
    const other = new FallbackTimer(clock, () => undefined, { clearFailed: unexpected, failures });
    const logged: string[] = [];
    const log = (what: string) => (_: unknown, fallback: Fallback, first: boolean): void => void (first && logged.push(`${what} ${fallback}`));
    clock.throwing = true;
    timer.arm(100, log('first'));
    timer.arm(100, log('second'));
    other.arm(100, log('other'));
    expect(logged).toEqual(['first platform']);
    // The clock recovers (for one arming of either timer), then fails again: reported again, once.
    clock.throwing = false;
    other.arm(100, log('recovered'));
    clock.throwing = true;
    timer.arm(100, log('again'));
    other.arm(100, log('and again'));
    expect(logged).toEqual(['first platform', 'again kept']);
    timer.clear();
    other.clear();
  });

  it('with `retries`, makes an arming none could again at the next turn, 3 times in a row at most, then reports none armed', async () => {
    const clock = new HandClock();
    const reports: Fallback[] = [];
    const timer = new FallbackTimer(clock, () => undefined, { clearFailed: unexpected, retries: true });
    clock.refusing = true;
    const platform = failPlatformTimers();
    try {
      // The delay it is armed for at the next turn.
      expect(timer.arm(100, (_, fallback) => reports.push(fallback))).toBe(100);
      expect(timer.unarmed).toBe(true);
      // Held as armed while its tries are pending: an owner asking whether to arm must not arm a later one over it.
      expect(timer.armed).toBe(true);
      for (let turn = 0; turn < 5; turn++) await nextTurn();
    } finally {
      platform.restore();
    }
    expect(clock.refused).toBe(4); // the arming's, then 3 more
    expect(reports).toEqual(['retry', 'retry', 'retry', 'none']);
    expect(timer.armed).toBe(false);
    expect(timer.unarmed).toBe(true);
  });

  it('with `retries`, arms at the next turn on a clock and a platform that failed and recovered; a clear cancels the try', async () => {
    const clock = new HandClock();
    const reports: Fallback[] = [];
    const timer = new FallbackTimer(clock, () => undefined, { clearFailed: unexpected, retries: true });
    const unarmable = (): void => armPendingTry(clock, timer, (_, fallback) => reports.push(fallback));
    unarmable();
    await nextTurn();
    expect(reports).toEqual(['retry']);
    expect(timer.armed).toBe(true);
    expect(timer.unarmed).toBe(false);
    expect([...clock.timers.values()].map((t) => t.at)).toEqual([T0 + 100]);
    timer.clear();
    unarmable();
    timer.clear();
    await nextTurn();
    expect(timer.armed).toBe(false);
    expect(clock.timers.size).toBe(0);
  });

  it('with `retries`, an arming meanwhile takes the place of the try: one timer, at its own time, fires once', async () => {
    const clock = new HandClock();
    const fired: boolean[] = [];
    const timer = new FallbackTimer(clock, (onPlatform) => fired.push(onPlatform), { clearFailed: unexpected, retries: true });
    armPendingTry(clock, timer);
    // The owner arms again before the try (a sooner wake-up): the try arms nothing over it at its turn.
    expect(timer.arm(50, () => undefined)).toBe(50);
    for (let turn = 0; turn < 4; turn++) await nextTurn();
    expect([...clock.timers.values()].map((t) => t.at)).toEqual([T0 + 50]);
    clock.ms = T0 + 100;
    clock.fireDue();
    expect(fired).toEqual([false]);
    expect(timer.armed).toBe(false);
    expect(timer.unarmed).toBe(false);
  });

  it('with `retries`, an arming without `failed` that throws meanwhile leaves the try, which arms at its turn', async () => {
    const clock = new HandClock();
    const timer = new FallbackTimer(clock, () => undefined, { clearFailed: unexpected, retries: true });
    armPendingTry(clock, timer);
    clock.refusing = true;
    expect(() => timer.arm(50)).toThrow('injected: no timer');
    expect(timer.armed).toBe(true);
    clock.refusing = false;
    await nextTurn();
    expect([...clock.timers.values()].map((t) => t.at)).toEqual([T0 + 100]);
    timer.clear();
  });

  it('with `retries` where no turn can be asked for (no MessageChannel, the platform\'s timer failing), reports none armed and throws nothing', () => {
    const clock = new HandClock();
    const reports: Fallback[] = [];
    const timer = new FallbackTimer(clock, () => undefined, { clearFailed: unexpected, retries: true });
    clock.refusing = true;
    vi.stubGlobal('MessageChannel', undefined);
    const platform = failPlatformTimers();
    try {
      // Before, the try's turn was asked of the failing setTimeout, whose error the arming threw to its owner.
      expect(timer.arm(100, (_, fallback) => reports.push(fallback))).toBeUndefined();
    } finally {
      platform.restore();
      vi.unstubAllGlobals();
    }
    expect(reports).toEqual(['none']);
    expect(timer.armed).toBe(false);
    expect(timer.unarmed).toBe(true);
  });

  /** A timer armed for 100 ms on a clock that then fails to clear timers; what it fired and the clear failures reported. */
  function armedOnClockThatFailsToClear() {
    const clock = new ClearThrowingClock();
    const fired: boolean[] = [];
    const clearsFailed: unknown[] = [];
    const timer = new FallbackTimer(clock, (onPlatform) => fired.push(onPlatform), { clearFailed: (error) => clearsFailed.push(error) });
    timer.arm(100);
    clock.clearThrowing = true;
    return { clock, fired, clearsFailed, timer };
  }

  it('owns the timer it arms when the clock fails to clear the one before, which does nothing if it fires', () => {
    const { clock, fired, clearsFailed, timer } = armedOnClockThatFailsToClear();
    // Before, the clock's error was thrown out of `arm` after the new timer was set, and that timer had no owner.
    expect(timer.arm(50)).toBe(50);
    expect(clearsFailed).toEqual([new Error('injected: no clear')]);
    expect(timer.armed).toBe(true);
    clock.clearThrowing = false;
    // The one the clock failed to clear fires into nothing; the new one is cleared by its owner.
    timer.clear();
    expect(timer.armed).toBe(false);
    expect([...clock.timers.values()].map((t) => t.at)).toEqual([T0 + 100]);
    clock.ms = T0 + 100;
    clock.fireDue();
    expect(fired).toEqual([]);
  });

  it('lets go of the armed timer when the clock fails to clear it, reporting that: it does nothing if it fires', () => {
    const { clock, fired, clearsFailed, timer } = armedOnClockThatFailsToClear();
    expect(() => timer.clear()).not.toThrow();
    expect(clearsFailed).toEqual([new Error('injected: no clear')]);
    expect(timer.armed).toBe(false);
    clock.ms = T0 + 100;
    clock.fireDue();
    expect(fired).toEqual([]);
    // Armed again, it fires as any.
    clock.clearThrowing = false;
    timer.arm(10);
    clock.ms = T0 + 110;
    clock.fireDue();
    expect(fired).toEqual([false]);
  });
});
