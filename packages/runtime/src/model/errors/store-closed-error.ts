import { DurableError } from './durable-error.js';

/** The store, client or runtime was closed and cannot be used any more. */
export class StoreClosedError extends DurableError {
  override readonly name = 'StoreClosedError';
  readonly code = 'store-closed' as const;
  readonly status = 503 as const;
}
