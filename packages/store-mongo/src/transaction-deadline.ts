import { StoreUnreachableError } from './errors/store-unreachable-error.js';

/**
 * How long the store starts attempts of one transaction: 20 s from the first. `withTransaction` (driver 7.8) retries a
 * transaction aborted with `TransientTransactionError` (a write conflict on a hot instance, an election) for up to
 * 120 s, which is far past the runtime's `storeCallTimeoutMs` (30 s by default): the worker abandons such a call at
 * 30 s and tries again, while the abandoned transaction goes on competing for the same documents, and `close()`, which
 * waits for running operations, could wait two minutes. Past this bound no new attempt starts: the call fails with
 * `StoreUnreachableError` (503, nothing written, try again) before the caller gives up on it. An attempt already
 * started runs to its end, bounded by its reads' and writes' `maxTimeMS` and the commit's `maxCommitTimeMS`.
 */
export const TRANSACTION_RETRY_MS = 20_000;

/**
 * Whether a transaction whose first attempt started at `startedMs` may start another at `nowMs` (times of a monotonic
 * source, `performance.now()`): only within `limitMs` ({@link TRANSACTION_RETRY_MS}) of the first.
 *
 * @example
 * ```ts
 * startsAnotherAttempt(0, 19_999, 20_000); // true
 * startsAnotherAttempt(0, 20_000, 20_000); // false: the call fails with StoreUnreachableError
 * ```
 */
export function startsAnotherAttempt(startedMs: number, nowMs: number, limitMs: number = TRANSACTION_RETRY_MS): boolean {
  return nowMs - startedMs < limitMs;
}

/**
 * Thrown inside `withTransaction`'s callback when no attempt may start any more: not a `MongoError`, so the driver
 * aborts the transaction and throws it as it is instead of retrying. Carries the error that ended the previous
 * attempt, when the callback saw it (a commit's error is seen only by the driver). Never leaves the store:
 * {@link transactionRanOut} maps it.
 */
export class TransactionDeadlineError extends Error {
  override readonly name = 'TransactionDeadlineError';
}

/**
 * The error of a transaction that no attempt got through within {@link TRANSACTION_RETRY_MS}: nothing of it was
 * written, so it is the store's 503 "did not run, try again", with the last attempt's error as `cause`.
 */
export function transactionRanOut(doing: string, last: unknown, limitMs: number = TRANSACTION_RETRY_MS): StoreUnreachableError {
  const detail = last instanceof Error ? `: ${last.message}` : '';
  return new StoreUnreachableError(
    `MongoDB aborted the transaction while ${doing}, and attempts for ${limitMs / 1000} s did not get it through${detail}. ` +
      'Nothing of it was written, so trying again is safe (the worker retries steps and activity results by itself). ' +
      'Lasting aborts mean many writers of one instance at once (a hot instance), an election that outlasts the attempts, or a primary that is unhealthy.',
    last === undefined ? undefined : { cause: last },
  );
}
