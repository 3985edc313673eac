import { isRetryableError } from '../model/errors/retryable.js';

/** The delay before a watch reads again after its first read failed once; it doubles with each failure in a row. */
export const FIRST_READ_RETRY_MS = 100;

/** The longest delay between two first reads of a watch. */
export const MAX_FIRST_READ_RETRY_MS = 5_000;

/**
 * How long a watch of a runtime's client (`status$`, `customStatus$`, `instances$`, `waitForCompletion`, and each read
 * of `history$`, of the instance and of its events) waits before it reads again, its read having failed `failures`
 * times in a row (1 or more), the last time with `error`: {@link FIRST_READ_RETRY_MS}, doubled with each failure, up to
 * {@link MAX_FIRST_READ_RETRY_MS}; `undefined` when `error` is not worth another read (`isRetryableError`: a closed
 * store, a 4xx, an error that is no `DurableError`), and the watch ends with it. The one rule of those watches: a
 * store's transient failure (`unavailable` 503, IndexedDB's `database-blocked` while an older tab keeps the database)
 * delays their first value (or `history$`'s next events) instead of ending them.
 *
 * @example
 * ```ts
 * firstReadRetryDelay(new UnavailableError('not now'), 1);   // 100
 * firstReadRetryDelay(new UnavailableError('not now'), 10);  // 5000
 * firstReadRetryDelay(new InvalidArgumentError('bad id'), 1); // undefined
 * ```
 */
export function firstReadRetryDelay(error: unknown, failures: number): number | undefined {
  if (!isRetryableError(error)) return undefined;
  return Math.min(MAX_FIRST_READ_RETRY_MS, FIRST_READ_RETRY_MS * 2 ** Math.max(0, failures - 1));
}
