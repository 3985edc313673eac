import { DurableError } from '@durable-rx/runtime';

/**
 * A MongoDB operation failed for a reason durable-rx has no more specific error for (HTTP 500). The driver's error
 * is kept as `cause`.
 *
 * @example
 * ```ts
 * try { await store.getInstance(id); }
 * catch (e) { if (e instanceof MongoStoreError) console.error(e.cause); }
 * ```
 */
export class MongoStoreError extends DurableError {
  override readonly name = 'MongoStoreError';
  readonly code = 'store-error' as const;
  readonly status = 500 as const;
}
