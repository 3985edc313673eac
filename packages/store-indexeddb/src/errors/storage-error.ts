import { DurableError, type DurableErrorOptions } from '@durable-rx/runtime';

/** Options of a {@link StorageError}. */
export interface StorageErrorOptions extends DurableErrorOptions {
  /** IndexedDB cannot be used on this page at all (see {@link StorageError.storeClosed}). */
  readonly storeClosed?: boolean;
}

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
  /**
   * True when IndexedDB cannot be used on this page at all, so no call of the store can ever succeed: it is missing
   * (server-side rendering) or access to it is denied (a sandboxed iframe, a data: URL, privacy settings). The
   * runtime's `isStoreClosed` reads it: a worker on the store stops once instead of retrying, and watchers are not
   * subscribed again. False for a failure another attempt may get past.
   */
  readonly storeClosed: boolean;

  constructor(message: string, options?: StorageErrorOptions) {
    super(message, options);
    this.storeClosed = options?.storeClosed === true;
  }
}
