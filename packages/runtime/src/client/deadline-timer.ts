import type { Clock, ClockTimer } from '../env/clock.js';
import { MAX_TIMER_DELAY_MS } from './timeout-after.js';

/**
 * Arms a timeout on a {@link deadlineTimer}: calls `onTimeout` once, `timeoutMs` (>= 0, validated by the caller) from
 * now, never for `Infinity` ("no timeout"); returns the function that cancels it, which does nothing after it fired.
 */
export type AddDeadline = (timeoutMs: number, onTimeout: () => void) => () => void;

/**
 * One clock timer for any number of deadlines: a client's concurrent waits (`waitForCompletion`, a command's
 * read-your-writes wait) share it instead of setting and clearing a timer each. The timer is armed for the earliest
 * deadline, and only while a deadline is pending: the last one cancelled clears it, so an idle client holds no
 * timer. Deadlines are times on `clock` (`now() + timeoutMs`); a timer that fires before a deadline as the clock
 * reads it (a delay beyond {@link MAX_TIMER_DELAY_MS} is waited out in steps) arms itself again, so no deadline ends
 * early. Due deadlines end in the order they were added. Each deadline needs a callback of its own (callbacks are the
 * keys); an `onTimeout` that throws does not keep the others from running (the first error is thrown after them).
 *
 * @example
 * ```ts
 * const addDeadline = deadlineTimer(systemClock);
 * const cancel = addDeadline(10_000, () => resolveWithLatest());
 * cancel(); // the wait ended first
 * ```
 */
export function deadlineTimer(clock: Clock): AddDeadline {
  /** Pending deadlines: when each callback is due, in the order they were added. */
  const pending = new Map<() => void, number>();
  let timer: ClockTimer | undefined;
  /** When the armed timer fires, in ms on the clock (`Infinity` when none is armed). */
  let firesAtMs = Infinity;
  const disarm = (): void => {
    if (timer !== undefined) clock.clearTimeout(timer);
    timer = undefined;
    firesAtMs = Infinity;
  };
  const arm = (atMs: number): void => {
    disarm();
    const nowMs = clock.now().getTime();
    const delay = Math.min(Math.max(0, atMs - nowMs), MAX_TIMER_DELAY_MS);
    firesAtMs = nowMs + delay;
    timer = clock.setTimeout(fire, delay);
  };
  // Ends every deadline that has passed, then arms for the earliest one left (a deadline a callback adds is seen by
  // this same loop: a Map visits what is added while it is walked).
  const fire = (): void => {
    timer = undefined;
    disarm();
    const nowMs = clock.now().getTime();
    let nextMs = Infinity;
    // Total: a callback that throws (a store feed whose teardown throws as its wait lets go) neither keeps the other
    // due deadlines from ending nor the timer from being armed for the rest; the first error is thrown after.
    const errors: unknown[] = [];
    for (const [onTimeout, atMs] of pending) {
      if (atMs > nowMs) nextMs = Math.min(nextMs, atMs);
      else if (pending.delete(onTimeout)) {
        try {
          onTimeout();
        } catch (error) {
          errors.push(error);
        }
      }
    }
    if (nextMs < Infinity) arm(nextMs);
    if (errors.length > 0) throw errors[0];
  };
  return (timeoutMs, onTimeout) => {
    // `Infinity` is a deadline that never comes: it is not pending, so it keeps no timer armed for the others.
    if (timeoutMs === Infinity) return () => undefined;
    const atMs = clock.now().getTime() + timeoutMs;
    pending.set(onTimeout, atMs);
    if (atMs < firesAtMs) arm(atMs);
    return () => {
      if (pending.delete(onTimeout) && pending.size === 0) disarm();
    };
  };
}
