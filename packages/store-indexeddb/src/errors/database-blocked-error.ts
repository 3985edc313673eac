import { DurableError } from '@durable-rx/runtime';

/**
 * The database could not be opened because another connection holds the open back (HTTP 503): the store's upgrade is
 * blocked by a connection (usually another tab running an older version of the app) that keeps the old version open
 * and does not close it (the `blocked` event is kept as `cause`), or the store's open request was not answered within
 * `openTimeoutMs`, queued behind such a blocked upgrade (a third tab of the new version) or another connection's
 * upgrade or deletion of the database. Nothing was written. The open goes on: every call fails with this error at once
 * until the other tab closes, then the store uses the database by itself. Ask the user to close the other tabs.
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
