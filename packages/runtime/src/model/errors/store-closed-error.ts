import { DurableError, isDurableError, type DurableErrorOptions } from './durable-error.js';

/** The store, client or runtime was closed and cannot be used any more. */
export class StoreClosedError extends DurableError {
  override readonly name = 'StoreClosedError';
  readonly code = 'store-closed' as const;
  readonly status = 503 as const;
  /**
   * The store was closed before the call that failed was made (it was refused without waiting for anything), rather
   * than while the call waited or ran. A worker whose first claim is refused so was started on a store closed already,
   * and says so; a close that overtakes a claim under way is the closer's own doing, and is not reported.
   */
  readonly beforeCall: boolean;

  constructor(message: string, options?: DurableErrorOptions & { readonly beforeCall?: boolean }) {
    super(message, options);
    this.beforeCall = options?.beforeCall === true;
  }
}

/**
 * True when the store that failed with `error` serves no call any more, for good: it was closed (`StoreClosedError`,
 * `code` `'store-closed'`), or it lost what it stores on and says so with `storeClosed: true` on its error (IndexedDB's
 * `DatabaseUpgradingError`: another tab upgraded or deleted the database). Trying again cannot succeed: a worker stops
 * on it, and it is not worth retrying (`isRetryableError`). The one rule for both; a store names no class here.
 *
 * @example
 * ```ts
 * isStoreClosed(new StoreClosedError('The store is closed')); // true
 * isStoreClosed(new UnavailableError('no answer'));           // false
 * ```
 */
export function isStoreClosed(error: unknown): boolean {
  return isDurableError(error) && (error.code === 'store-closed' || (error as { readonly storeClosed?: unknown }).storeClosed === true);
}
