import { DurableError } from '@durable-rx/runtime';

/**
 * Another connection (usually another tab with a newer version of the app) asked to upgrade or delete the database,
 * so this store closed its connection to let it proceed (HTTP 503). The store cannot be used any more: every call
 * rejects with it, and its `changes$` and `workAvailable$` (so the client's `status$`, `customStatus$` and other
 * watches) fail with it; a worker on it stops. Reload the page to run the new version.
 *
 * @example
 * ```ts
 * await store.getInstance(id).catch((e) => { if (e.code === 'database-upgrading') location.reload(); });
 * ```
 */
export class DatabaseUpgradingError extends DurableError {
  override readonly name = 'DatabaseUpgradingError';
  readonly code = 'database-upgrading' as const;
  readonly status = 503 as const;
  /**
   * The store serves no call any more, for good (the runtime's `isStoreClosed` reads it): a worker on it stops instead
   * of retrying, and watchers are not subscribed again.
   */
  readonly storeClosed = true as const;
}
