import type { Clock, ClockTimer } from './clock.js';
import { consoleLogger, type Logger } from './logger.js';

/**
 * A {@link Clock} whose `clearTimeout` never throws into its owner: the one place where what a custom clock's
 * `clearTimeout` throws is caught and reported (once, to the owner's logger). The worker, the local client, the HTTP
 * API and rx-client each take their clock through {@link guardClock} once, and clear every timer of theirs through it.
 * A timer the clock fails to clear is let go of, never thrown into its owner's stop or re-arming (which then never
 * ended: a stop left half done, a timer armed in its place with no owner). It may then still fire, so an owner clears
 * only a timer whose callback does nothing once it is let go of: {@link FallbackTimer} holds that rule for an owner of
 * one timer. `setTimeout` throws what the clock throws: what stands in for a timer the clock could not set is its
 * owner's to decide (the platform's timer for a worker's wake timer, the one armed kept for a retry brought forward),
 * and `FallbackTimer` does so for the owners that cannot do without one.
 *
 * @example
 * ```ts
 * const clock = guardClock(options.clock, logger, "the worker's clock");
 * clock.clearTimeout(timer); // never throws: "the worker's clock failed to clear a timer; it does nothing if it fires"
 * ```
 */
export class GuardedClock implements Clock {
  /**
   * @param logger must not throw (the owner's guarded logger, or the console).
   * @param whose names the clock in what is reported ("the worker's clock").
   */
  constructor(readonly clock: Clock, readonly logger: Logger, readonly whose: string) {}

  /** Whether the clock's timers fire on its own time (`Clock.timersFireOnTime`; unset reads as false). */
  get timersFireOnTime(): boolean {
    return this.clock.timersFireOnTime === true;
  }

  now(): Date {
    return this.clock.now();
  }

  setTimeout(callback: () => void, delayMs: number): ClockTimer {
    return this.clock.setTimeout(callback, delayMs);
  }

  clearTimeout(timer: ClockTimer): void {
    try {
      this.clock.clearTimeout(timer);
    } catch (error) {
      this.logger.error(`${this.whose} failed to clear a timer; it does nothing if it fires`, error);
    }
  }
}

/**
 * `clock` as a {@link GuardedClock} reporting to `logger` (which must not throw; the console by default, for a bare
 * client), or `clock` itself when it is one already (its owner's reports stay its own).
 *
 * @example
 * ```ts
 * guardClock(systemClock, logger, "the client's clock").clearTimeout(timer); // never throws
 * ```
 */
export function guardClock(clock: Clock, logger: Logger = consoleLogger, whose = 'the clock'): GuardedClock {
  return clock instanceof GuardedClock ? clock : new GuardedClock(clock, logger, whose);
}
