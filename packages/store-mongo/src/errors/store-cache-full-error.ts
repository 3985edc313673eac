import { DurableError } from '@durable-rx/runtime';

/**
 * MongoDB rolled back a transaction that held too much of the WiredTiger cache (`TransactionTooLargeForCache`):
 * nothing of it was written (HTTP 507). It depends on the write's size and on the cache pressure of the moment, so it
 * may pass later; the worker sends such a step three times, then records it as failed (see docs/reliability.md),
 * and `rewind` resumes it once the cache has room (a smaller load, or a larger `--wiredTigerCacheSizeGB`).
 *
 * @example
 * ```ts
 * try { await client.raiseEvent(id, 'Upload', largeValue); }
 * catch (e) { if (isDurableError(e) && e.code === 'store-cache-full') reportCachePressure(e); }
 * ```
 */
export class StoreCacheFullError extends DurableError {
  override readonly name = 'StoreCacheFullError';
  readonly code = 'store-cache-full' as const;
  readonly status = 507 as const;
}
