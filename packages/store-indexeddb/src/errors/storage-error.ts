import { DurableError } from '@durable-rx/runtime';

/**
 * IndexedDB failed for a reason without a more specific class (an `UnknownError`, a browser bug, an I/O error). The
 * transaction was aborted, so nothing of the write was stored; the original error is kept as `cause` (HTTP 500).
 *
 * @example
 * ```ts
 * catch (e) { if (e instanceof StorageError) console.error('IndexedDB failed', e.cause); }
 * ```
 */
export class StorageError extends DurableError {
  override readonly name = 'StorageError';
  readonly code = 'storage-error' as const;
  readonly status = 500 as const;
}
