import { DurableError } from '@durable-rx/runtime';

/**
 * Another connection (usually another tab with a newer version of the app) asked to upgrade or delete the database,
 * so this store closed its connection to let it proceed (HTTP 503). The store cannot be used any more: reload the
 * page to run the new version.
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
}
