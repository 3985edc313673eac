import type { Clock, ClockTimer } from './clock.js';
import { readClock } from '../model/validation.js';
import { FirstFailure } from './first-failure.js';
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
 * `now()` throws what the clock throws too; {@link nowMs} is the one total reading, for what must answer all the same.
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

  /** Whether its readings failed since it last gave a time ({@link nowMs}). */
  readonly #readings = new FirstFailure();

  /** Whether the clock's timers fire on its own time (`Clock.timersFireOnTime`; unset reads as false). */
  get timersFireOnTime(): boolean {
    return this.clock.timersFireOnTime === true;
  }

  /**
   * The clock's own reading, thrown as the clock throws it: for what must act on the clock's time or not at all (a
   * worker's claims and writes, a client's commands, a `DeadlineList`'s bounds), each of which fails that one operation
   * on its own failure path (a claim round retried, a command rejected), never out of a timer's callback or a
   * subscription. A platform's time standing in there would write leases and timestamps off the clock's time (a
   * `VirtualClock`'s, days ahead). What must answer all the same reads {@link nowMs}.
   */
  now(): Date {
    return this.clock.now();
  }

  /**
   * The clock's time in ms, never thrown: a reading that throws or is no valid Date is reported (once, until the clock
   * gives a time again) and the platform's (`Date.now()`) stands in. For what must answer all the same (the HTTP API's
   * read-token checks, a stream's open and its token's expiry), not for what must not act on another time than the
   * clock's (a worker's schedule reads the clock itself).
   */
  nowMs(): number {
    try {
      const ms = readClock(this.clock, this.whose).getTime();
      this.#readings.ok();
      return ms;
    } catch (error) {
      if (this.#readings.failed()) this.logger.error(`${this.whose} gave no time; the platform's stands in until it does`, error);
      return Date.now();
    }
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
