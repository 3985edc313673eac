import { InvalidArgumentError } from '../model/errors/invalid-argument-error.js';
/**
 * Longest delay `setTimeout` honours, 2^31 - 1 ms (24.8 days): browsers and Node fire longer delays at once. The
 * runtime waits out a longer one in steps of at most this; an option that sets one timer (a store's deadline) is
 * refused above it.
 *
 * @example
 * ```ts
 * if (ms > MAX_TIMER_DELAY_MS) throw new InvalidArgumentError(`${what} must be at most ${MAX_TIMER_DELAY_MS} ms (24.8 days)`);
 * ```
 */
export const MAX_TIMER_DELAY_MS = 2 ** 31 - 1;

/**
 * `ms` (already checked to be a positive integer), refused with `InvalidArgumentError` above what one timer can wait
 * ({@link MAX_TIMER_DELAY_MS}): the one check of an option that sets one timer (a heartbeat, a resume window, a
 * server's keep-alive).
 */
export function oneTimerDelay(ms: number, what: string): number {
  if (ms > MAX_TIMER_DELAY_MS) throw new InvalidArgumentError(`${what} must be at most ${MAX_TIMER_DELAY_MS} ms (24.8 days)`);
  return ms;
}

/** An opaque handle returned by {@link Clock.setTimeout}. */
export type ClockTimer = { readonly __clockTimer?: never } | number | object;

/**
 * Time as the worker and client see it. Injected so tests can use `VirtualClock` from `@durable-rx/runtime/testing`
 * and let a week-long durable timer fire at once.
 */
export interface Clock {
  /** The current time, as a valid `Date`: what leases, timers, `createdTime` and `lastUpdatedTime` are read from. */
  now(): Date;
  /**
   * Calls `callback` once, `delayMs` milliseconds of this clock's time from now, unless {@link Clock.clearTimeout}
   * cancels it first. Returns the handle that cancels it.
   */
  setTimeout(callback: () => void, delayMs: number): ClockTimer;
  /** Cancels a timer of {@link Clock.setTimeout}; a timer that already fired or was cleared is left as it is. */
  clearTimeout(timer: ClockTimer): void;
  /**
   * `true` when this clock's timers run on its own time, so that none fires later by {@link Clock.now} than its
   * delay: a `VirtualClock`'s. The worker then gives a long wait (a durable timer a week away) to one timer. Unset, as
   * for the system clock, whose timers pause while the machine sleeps though its time moves on, the worker waits in
   * steps of at most 60 s, each set again from `now()`. A store that bounds a call by one of this clock's timers
   * (MongoStore's `listEnded` deadline) reads the time the call has taken by `now()` when this is `true`, else by
   * `performance.now()`, as the platform's timers count it: a clock whose timers run on a time of its own sets it.
   */
  readonly timersFireOnTime?: boolean;
}

/** The real clock: `Date` and the global timers. */
export const systemClock: Clock = {
  now: () => new Date(),
  setTimeout: (callback, delayMs) => globalThis.setTimeout(callback, Math.max(0, Math.min(delayMs, MAX_TIMER_DELAY_MS))),
  clearTimeout: (timer) => globalThis.clearTimeout(timer as Parameters<typeof globalThis.clearTimeout>[0]),
};
