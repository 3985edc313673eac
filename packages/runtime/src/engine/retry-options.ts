/**
 * How `callActivityWithRetry` / `callSubOrchestratorWithRetry` retry a failed call, with Durable Functions' option
 * names and rules. Retries wait on durable timers, so a retry survives a crash and is replayed like any other step.
 *
 * After attempt `n` fails, there is no retry when `n` is `maxNumberOfAttempts` (`handle` is not asked then), when
 * `handle` returns false, or when the failure comes at or after the first attempt's time plus
 * `retryTimeoutInMilliseconds` (both the orchestration's `currentUtcDateTime`). Otherwise attempt `n + 1` starts after
 * `firstRetryIntervalInMilliseconds * backoffCoefficient ^ (n - 1)` ms, at most `maxRetryIntervalInMilliseconds`,
 * rounded to whole milliseconds. The options are read and checked once, when the call is made: a value out of range,
 * a number given as a string (`'100'`), a `handle` that is no function or a member of the object's own that is none of
 * these six (a misspelt `backoffCoeficient`) throws `InvalidArgumentError` there, and a change to the object after the
 * call changes no retry.
 */
export interface RetryOptions {
  /** Delay before the first retry, in milliseconds (finite, > 0). */
  readonly firstRetryIntervalInMilliseconds: number;
  /** Total number of attempts, including the first (an integer >= 1). */
  readonly maxNumberOfAttempts: number;
  /** Multiplier applied to the delay after each retry (>= 1; default 1). */
  readonly backoffCoefficient?: number;
  /** Upper bound for one delay, in milliseconds (finite, > 0; default 6 days, as Durable Functions). */
  readonly maxRetryIntervalInMilliseconds?: number;
  /**
   * No retry of a failure that comes this long or longer after the first attempt started, in milliseconds (> 0;
   * default and `Infinity`: none). A retry allowed before it may start after it: the delay does not count.
   */
  readonly retryTimeoutInMilliseconds?: number;
  /**
   * Called with each failure but the last attempt's, with the options object as `this`; return false to stop retrying.
   * What it decides on comes from its closure or the object's prototype (a member of the object's own that is none of
   * the six is refused). Must be deterministic (it runs again on replay). One that throws stops the retries too, and the call fails with a `TaskFailedError` that says so; so
   * does one that returns a promise (an `async` handle): it must answer at once, since replay cannot wait for it.
   */
  readonly handle?: (error: Error) => boolean;
}
