import type { Clock } from '@durable-rx/runtime';

/** What {@link waitAtMost} saw: the work's value, or that its time ran out first. */
export type WaitOutcome<T> = { readonly kind: 'settled'; readonly value: T } | { readonly kind: 'late' };

/**
 * Waits for `work` at most `ms` on `clock`: `settled` with its value (its rejection is thrown), or `late` once the
 * time ran out first. Late work goes on (a driver command cannot be called back); its rejection is caught here, so it is
 * never unhandled, and the caller decides what still waits for it. The timer is cleared as soon as the work settles.
 *
 * MongoStore bounds so the driver calls it cannot give a signal to: a transaction's `abortTransaction` and
 * `commitTransaction`, whose server selection (and the commit's resend inside the call) can each wait a full
 * `serverSelectionTimeoutMS` during an election (`transactionEndWaitMs`).
 *
 * @example
 * ```ts
 * const outcome = await waitAtMost(session.commitTransaction(), 2_000, systemClock);
 * if (outcome.kind === 'late') report('no answer yet: the outcome is unknown');
 * ```
 */
export function waitAtMost<T>(work: Promise<T>, ms: number, clock: Clock): Promise<WaitOutcome<T>> {
  return new Promise<WaitOutcome<T>>((resolve, reject) => {
    let done = false;
    const timer = clock.setTimeout(() => {
      if (done) return;
      done = true;
      resolve({ kind: 'late' });
    }, ms);
    const finish = (settle: () => void) => {
      if (done) return;
      done = true;
      clock.clearTimeout(timer);
      settle();
    };
    work.then((value) => finish(() => resolve({ kind: 'settled', value })), (error: unknown) => finish(() => reject(error)));
  });
}
