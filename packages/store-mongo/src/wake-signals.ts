import type { Clock, ClockTimer } from '@durable-rx/runtime';
import { Observable } from 'rxjs';

/**
 * The work signals of a wake-up feed whose events are `true` (work may be claimable now) or a time at which work
 * becomes claimable (`wakeSignalOf`): `true` is signalled at once; a time is signalled when it comes, on `clock`,
 * with one timer for the earliest time pending (a later one is dropped: the worker's claim at the earlier one asks the
 * store for its next wake time, which knows the later one). Unsubscribing clears the timer.
 *
 * @example
 * ```ts
 * const workAvailable$ = wakeSignals(feed.events$, clock); // emits now for `true`, at 12:00 for a 12:00 timer
 * ```
 */
export function wakeSignals(events$: Observable<true | Date>, clock: Clock): Observable<void> {
  return new Observable<void>((subscriber) => {
    let timer: ClockTimer | undefined;
    let timerAt = Infinity;
    const subscription = events$.subscribe({
      next: (event) => {
        if (event === true) {
          subscriber.next();
          return;
        }
        const at = event.getTime();
        if (at >= timerAt) return;
        if (timer !== undefined) clock.clearTimeout(timer);
        timerAt = at;
        timer = clock.setTimeout(() => {
          timer = undefined;
          timerAt = Infinity;
          subscriber.next();
        }, at - clock.now().getTime());
      },
      error: (error: unknown) => subscriber.error(error),
      complete: () => subscriber.complete(),
    });
    return () => {
      subscription.unsubscribe();
      if (timer !== undefined) clock.clearTimeout(timer);
    };
  });
}
