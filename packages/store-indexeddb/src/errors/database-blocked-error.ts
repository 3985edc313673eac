import { DurableError } from '@durable-rx/runtime';

/**
 * The database could not be opened because it needs an upgrade and another connection (usually another tab running
 * an older version of the app) keeps the old version open and does not close it (HTTP 503). Close the other tabs
 * and try again. The original `blocked` event is kept as `cause`.
 *
 * @example
 * ```ts
 * store.getInstance(id).catch((e) => { if (e.code === 'database-blocked') alert('Please close other tabs of this app'); });
 * ```
 */
export class DatabaseBlockedError extends DurableError {
  override readonly name = 'DatabaseBlockedError';
  readonly code = 'database-blocked' as const;
  readonly status = 503 as const;
}
