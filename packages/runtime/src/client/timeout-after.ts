import { Observable } from 'rxjs';

/** Longest delay `setTimeout` honours: browsers and Node fire longer delays at once. */
export const MAX_TIMER_DELAY_MS = 2 ** 31 - 1;

/**
 * Emits once, then completes, after `timeoutMs` of real time; never for `Infinity` ("no timeout"), which arms no
 * timer at all. Delays beyond {@link MAX_TIMER_DELAY_MS} (about 24.8 days) are waited out in steps, so they never
 * fire early. Unsubscribing clears the pending timer.
 *
 * @example
 * ```ts
 * status$.pipe(takeUntil(timeoutAfter(options.timeoutMs)));
 * ```
 */
export function timeoutAfter(timeoutMs: number): Observable<void> {
  return new Observable<void>((subscriber) => {
    if (timeoutMs === Infinity) return undefined;
    let remaining = Math.max(0, timeoutMs);
    let handle: ReturnType<typeof setTimeout> | undefined;
    const arm = () => {
      const step = Math.min(remaining, MAX_TIMER_DELAY_MS);
      handle = setTimeout(() => {
        remaining -= step;
        if (remaining > 0) return arm();
        subscriber.next();
        subscriber.complete();
      }, step);
    };
    arm();
    return () => clearTimeout(handle);
  });
}
