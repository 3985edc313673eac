import { StoreUnreachableError } from './errors/store-unreachable-error.js';
import { hasErrorLabel } from './map-driver-error.js';

/**
 * How long the store starts attempts of one transaction, and commits of it: 20 s from the first attempt. The driver's
 * `withTransaction` (7.8) retries a transaction aborted with `TransientTransactionError` (a write conflict on a hot
 * instance, an election), and sends again at once a commit whose outcome is unknown, for up to 120 s, which is far
 * past the runtime's `storeCallTimeoutMs` (30 s by default): the worker abandons such a call at 30 s and tries again
 * while the abandoned transaction goes on (an unkeyed `raiseEvent` retried by a client then lands twice), and
 * `close()`, which waits for running operations, could wait two minutes. So the store runs the loop itself
 * ({@link transactionRetryStep}): past this bound no new attempt or commit starts, and the call fails with
 * `StoreUnreachableError` (503, nothing written, try again) or, when the last commit's outcome is unknown,
 * `CommitOutcomeUnknownError`, before the caller gives up on it. An attempt already started runs to its end, bounded by
 * its reads' and writes' `maxTimeMS`; the store waits for its abort or commit up to this bound
 * ({@link transactionEndWaitMs}).
 */
export const TRANSACTION_RETRY_MS = 20_000;

/**
 * The least time the store waits for a transaction's abort or commit, even one sent at (or past) the end of
 * {@link TRANSACTION_RETRY_MS}: a healthy one takes milliseconds.
 */
export const TRANSACTION_END_GRACE_MS = 2_000;

/**
 * How long the store waits for a transaction's `abortTransaction` or `commitTransaction` call sent `elapsedMs` after the
 * transaction's first attempt started: until the loop's own bound (`limitMs`, {@link TRANSACTION_RETRY_MS}), and at
 * least {@link TRANSACTION_END_GRACE_MS}. Driver 7.8 takes no signal or time limit for either call (its `timeoutMS`
 * has no effect), and each selects a server first, which during an election waits up to `serverSelectionTimeoutMS`
 * (the driver's default 30 s, the store's own client 10 s); an abort that fails with a retryable error selects again
 * for its one retry, and a commit is sent a second time inside the same call, selecting again. Unbounded, one call
 * could outlive the runtime's `storeCallTimeoutMs` and hold `close()` and the worker's stop for a minute or more.
 *
 * Past this wait the store stops waiting (`waitAtMost`): a commit is reported as of unknown outcome
 * (`CommitOutcomeUnknownError` for a transaction that wrote), an abort as the failure that caused it; the driver call
 * goes on, and the session ends once it has settled (a session runs one command at a time). So a `maxCommitTimeMS`
 * longer than what is left of the bound only lets the server go on after the store has answered.
 *
 * @example
 * ```ts
 * transactionEndWaitMs(0);      // 20000
 * transactionEndWaitMs(15_000); // 5000
 * transactionEndWaitMs(19_900); // 2000: the grace
 * ```
 */
export function transactionEndWaitMs(elapsedMs: number, limitMs: number = TRANSACTION_RETRY_MS): number {
  return Math.max(limitMs - elapsedMs, TRANSACTION_END_GRACE_MS);
}

/**
 * The error the store reports for a commit it stopped waiting for after `waitedMs` ({@link transactionEndWaitMs}): named
 * `TimeoutError`, as an `AbortSignal.timeout` deadline is, so that `mapCommitFailure` reads it as a commit whose outcome
 * is open (it may apply yet).
 */
export function unansweredCommit(waitedMs: number): Error {
  const error = new Error(
    `the commit got no answer within the store's wait of ${String(Math.round(waitedMs))} ms (the transaction's bound is ` +
      `${String(TRANSACTION_RETRY_MS / 1000)} s from its first attempt): no primary was selected (an election), or no majority answered`,
  );
  error.name = 'TimeoutError';
  return error;
}

/**
 * The back-off before a new attempt of a whole transaction after its `attempt`-th was aborted
 * (`TransientTransactionError`): the driver's own (`withTransaction`, driver 7.8), `random` × min(5 ms × 1.5^attempt,
 * 500 ms), so that writers conflicting on a hot instance take turns quickly.
 */
export const TRANSACTION_BACKOFF = { firstMs: 5, growth: 1.5, maxMs: 500 } as const;

/**
 * The back-off before a transaction's commit is sent again after its `commits`-th failed with an unknown outcome
 * (`UnknownTransactionCommitResult`): a random half of a bound that starts at 50 ms and doubles to 1 s
 * (bound × (0.5 + `random` / 2)). The driver sends these again at once, for 120 s: against a primary that keeps
 * refusing commits (stepping down again and again, or a fail point) that is thousands of commits. A commit sent again
 * also waits for server selection, so after a real failover most of the wait is there; the lower half of the back-off
 * bounds how many commits one call can send ({@link commitsWithin}).
 */
export const COMMIT_BACKOFF = { firstMs: 50, growth: 2, maxMs: 1_000 } as const;

/** What the store does after an attempt of a transaction failed ({@link transactionRetryStep}). */
export type TransactionRetryStep =
  /** Abort (if still open), wait `delayMs`, and run the whole transaction again: nothing of it was written. */
  | { readonly kind: 'retry-transaction'; readonly delayMs: number }
  /** Wait `delayMs` and send the commit again (the driver sends a repeated commit with a majority write concern). */
  | { readonly kind: 'retry-commit'; readonly delayMs: number }
  /** A transaction aborted with no time left for another attempt: {@link transactionRanOut} (503, nothing written). */
  | { readonly kind: 'ran-out' }
  /** Give up with this error: a callback's error as it is, a commit's mapped by what the transaction did (`mapCommitFailure`). */
  | { readonly kind: 'throw' };

/** Where an attempt failed, and what the store knows at that moment ({@link transactionRetryStep}). */
export interface FailedAttempt {
  readonly error: unknown;
  /** The attempt of the transaction that failed: 1 for the first. */
  readonly attempt: number;
  /** The commits this attempt sent, the failed one included: 0 when its own operations threw. */
  readonly commits: number;
  /** Time since the first attempt started (a monotonic source). */
  readonly elapsedMs: number;
  /** A number in [0, 1) (`Math.random()`), for the jitter. */
  readonly random: number;
  /** The store is closing: no new attempt or commit starts (`close` waits for the calls in flight). */
  readonly closing?: boolean;
  /** Default {@link TRANSACTION_RETRY_MS}. */
  readonly limitMs?: number;
}

/**
 * The store's transaction loop, instead of `withTransaction`, whose retries of an unknown commit run for 120 s with no
 * back-off: after an attempt failed, whether to run the transaction again, send its commit again, or give up. The
 * rules are the transactions specification's, within {@link TRANSACTION_RETRY_MS} of the first attempt (nothing
 * starts whose back-off would end past it) and never once the store is closing:
 *
 * - a commit error labelled `UnknownTransactionCommitResult`, unless the commit ran out of its `maxCommitTimeMS`
 *   (`MaxTimeMSExpired`: no majority answered within 30 s, and a commit sent again would wait as long), sends the
 *   commit again after {@link COMMIT_BACKOFF}; with no time left, or out of its `maxCommitTimeMS`, `throw` (the caller
 *   reports the unknown outcome: `CommitOutcomeUnknownError` when the transaction wrote). Looked at first, whatever
 *   other label the error carries: a transaction whose commit may have applied is never run again;
 * - an error labelled `TransientTransactionError` (from the operations or from the commit: nothing of the transaction
 *   was written) runs it again after {@link TRANSACTION_BACKOFF}; with no time left, `ran-out`;
 * - anything else: `throw`.
 *
 * @example
 * ```ts
 * transactionRetryStep({ error: unknownCommit, attempt: 1, commits: 1, elapsedMs: 1_000, random: 0 });   // { kind: 'retry-commit', delayMs: 25 }
 * transactionRetryStep({ error: unknownCommit, attempt: 1, commits: 30, elapsedMs: 19_990, random: 0 }); // { kind: 'throw' }
 * ```
 */
export function transactionRetryStep(failed: FailedAttempt): TransactionRetryStep {
  const { error, attempt, commits, elapsedMs, random, closing = false, limitMs = TRANSACTION_RETRY_MS } = failed;
  const fits = (delayMs: number) => !closing && elapsedMs + delayMs < limitMs;
  // First, as the specification and classifyDriverError do: a commit that may have applied is never run again.
  if (commits > 0 && hasErrorLabel(error, 'UnknownTransactionCommitResult')) {
    if (ranOutOfCommitTime(error)) return { kind: 'throw' };
    const delayMs = commitBackoffMs(commits, random);
    return fits(delayMs) ? { kind: 'retry-commit', delayMs } : { kind: 'throw' };
  }
  if (hasErrorLabel(error, 'TransientTransactionError')) {
    const delayMs = random * Math.min(TRANSACTION_BACKOFF.firstMs * TRANSACTION_BACKOFF.growth ** attempt, TRANSACTION_BACKOFF.maxMs);
    return fits(delayMs) ? { kind: 'retry-transaction', delayMs } : { kind: 'ran-out' };
  }
  return { kind: 'throw' };
}

/**
 * The most `commitTransaction` calls one attempt of a transaction can make within `limitMs`: the first and every
 * retry whose shortest back-off ({@link COMMIT_BACKOFF}) still fits, the time the commits take themselves not counted.
 * Each call sends at most two commands (the driver sends a commit that failed with a retryable write error once more).
 *
 * @example
 * ```ts
 * commitsWithin(20_000); // 44
 * ```
 */
export function commitsWithin(limitMs: number = TRANSACTION_RETRY_MS): number {
  let calls = 1;
  for (let waited = commitBackoffMs(1, 0); waited < limitMs; waited += commitBackoffMs(calls, 0)) calls++;
  return calls;
}

/** The wait after the `commits`-th commit of an attempt failed: a random half of {@link COMMIT_BACKOFF}'s doubling bound. */
function commitBackoffMs(commits: number, random: number): number {
  const bound = Math.min(COMMIT_BACKOFF.firstMs * COMMIT_BACKOFF.growth ** (commits - 1), COMMIT_BACKOFF.maxMs);
  return bound * (0.5 + random / 2);
}

/** A commit that ran out of its `maxCommitTimeMS` (MaxTimeMSExpired, 50, as the error's code or its write concern error's). */
function ranOutOfCommitTime(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const e = error as { code?: unknown; codeName?: unknown; writeConcernError?: { code?: unknown } };
  return e.code === 50 || e.codeName === 'MaxTimeMSExpired' || e.writeConcernError?.code === 50;
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
