import { Observable } from 'rxjs';
import { MAX_TIMER_DELAY_MS, systemClock, type Clock, type ClockTimer } from '../env/clock.js';
import { guardClock } from '../env/guarded-clock.js';


/**
 * The rule of `waitForCompletion`'s timeout, which both clients follow: the timeout counts from the call, and when it
 * passes with a status read, the wait resolves with the latest one; when it passes before the wait's first answer (the
 * local client's first status read, the remote client's first snapshot, or its plain read of the status once its
 * event stream failed), the wait gets this much more for that answer and ends with it (a timeout of 0 on a slow store
 * or network still resolves with the status); without one by then, it rejects with `UnavailableError`
 * (`unavailable`, 503: `noStatusError`), so a store or server that never answers does not keep the wait pending for
 * good.
 */
export const FIRST_ANSWER_GRACE_MS = 10_000;

/**
 * Emits once, then completes, after `timeoutMs` on `clock` (default: the system clock; a `VirtualClock` in tests);
 * never for `Infinity` ("no timeout"), which arms no timer at all. Delays beyond {@link MAX_TIMER_DELAY_MS} (about
 * 24.8 days) are waited out in steps, so they never fire early. Unsubscribing clears the pending timer.
 *
 * @example
 * ```ts
 * status$.pipe(takeUntil(timeoutAfter(options.timeoutMs, clock)));
 * ```
 */
export function timeoutAfter(timeoutMs: number, clock: Clock = systemClock): Observable<void> {
  return new Observable<void>((subscriber) =>
    armTimeout(timeoutMs, clock, () => {
      subscriber.next();
      subscriber.complete();
    }),
  );
}

/**
 * The timer behind {@link timeoutAfter}, for internal waits that are not Observables: calls `onTimeout` once after
 * `timeoutMs` on `clock` (never for `Infinity`, which arms nothing; long delays in steps). Returns the function that
 * clears it; calling that after the timer fired does nothing. The clock is used as a `GuardedClock` (the caller's
 * own when it passes one; else reporting to the console): a clock that fails to clear the timer is reported, never
 * thrown into the caller (a command whose answer came would reject with it), and the timer let go of does nothing if
 * it fires. A clock that fails to arm the first step throws to the caller; one that fails to arm a later step (in the
 * timer's callback, past 24.8 days) is reported and the wait ends then, rather than never (nothing is thrown out of the
 * timer's callback).
 *
 * @example
 * ```ts
 * const cancel = armTimeout(5000, systemClock, () => console.log('gave up waiting'));
 * cancel(); // nothing is printed
 * ```
 */
export function armTimeout(timeoutMs: number, clock: Clock, onTimeout: () => void): () => void {
  if (timeoutMs === Infinity) return noop;
  const guarded = guardClock(clock);
  let remaining = Math.max(0, timeoutMs);
  let handle: ClockTimer | undefined;
  const arm = (): void => {
    const step = Math.min(remaining, MAX_TIMER_DELAY_MS);
    const timer: ClockTimer = (handle = guarded.setTimeout(() => {
      if (handle !== timer) return; // cleared, though the clock failed to
      remaining -= step;
      handle = undefined;
      try {
        if (remaining > 0) return arm();
      } catch (error) {
        guarded.logger.error(`${guarded.whose} failed to arm the next step of a timeout; it ends now`, error);
      }
      onTimeout();
    }, step));
  };
  arm();
  return () => {
    const timer = handle;
    handle = undefined;
    if (timer !== undefined) guarded.clearTimeout(timer);
  };
}

function noop(): void {}
