import { DurableError } from '@durable-rx/runtime';

/**
 * The browser refused a write because the origin's storage quota is used up (a `QuotaExceededError` from
 * IndexedDB, kept as `cause`). The transaction was aborted: nothing of the write was stored (HTTP 507).
 *
 * @example
 * ```ts
 * try { await client.startNew('Report', { input: hugeInput }); }
 * catch (e) { if (isDurableError(e) && e.code === 'storage-quota-exceeded') showStorageFullBanner(); }
 * ```
 */
export class StorageQuotaExceededError extends DurableError {
  override readonly name = 'StorageQuotaExceededError';
  readonly code = 'storage-quota-exceeded' as const;
  readonly status = 507 as const;
}
