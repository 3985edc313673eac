/**
 * How `callActivityWithRetry` / `callSubOrchestratorWithRetry` retry a failed call. Retries wait on durable timers,
 * so a retry survives a crash and is replayed like any other step.
 */
export interface RetryOptions {
  /** Delay before the first retry, in milliseconds (> 0). */
  readonly firstRetryIntervalInMilliseconds: number;
  /** Total number of attempts, including the first (>= 1). */
  readonly maxNumberOfAttempts: number;
  /** Multiplier applied to the delay after each retry (default 1). */
  readonly backoffCoefficient?: number;
  /** Upper bound for one delay, in milliseconds. */
  readonly maxRetryIntervalInMilliseconds?: number;
  /** Give up once this much time has passed since the first attempt, in milliseconds. */
  readonly retryTimeoutInMilliseconds?: number;
  /** Called with each failure; return false to stop retrying. Must be deterministic (it runs again on replay). */
  readonly handle?: (error: Error) => boolean;
}
