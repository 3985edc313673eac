import { isDurableError } from './durable-error.js';

/**
 * True when a store call that failed with `error` may still have taken effect: it was abandoned unsettled at its bound
 * (`UnavailableError`, `'unavailable'`), or the store could not confirm its commit (`'commit-outcome-unknown'`, the
 * code `Store.commit` reserves for that: MongoStore's `CommitOutcomeUnknownError`). Any other error, a 503 such as
 * IndexedDB's `DatabaseBlockedError` included, means the call wrote nothing.
 *
 * @example
 * ```ts
 * mayHaveApplied(new UnavailableError('commit did not settle within 30000 ms')); // true
 * ```
 */
export function mayHaveApplied(error: unknown): boolean {
  return isDurableError(error) && (error.code === 'unavailable' || error.code === 'commit-outcome-unknown');
}
