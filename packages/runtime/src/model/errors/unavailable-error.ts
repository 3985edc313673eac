import { DurableError } from './durable-error.js';

/**
 * The service cannot answer now; try again later (HTTP 503, the code the HTTP API also answers a stream it has no
 * room for with). A client rejects a call with it when its store did not answer within `storeCallTimeoutMs` (a
 * wedged IndexedDB transaction, a network partition without a socket timeout): the call may still take effect.
 *
 * @example
 * ```ts
 * try { await client.raiseEvent(id, 'Approved'); }
 * catch (e) { if (isDurableError(e) && e.code === 'unavailable') retryLater(); }
 * ```
 */
export class UnavailableError extends DurableError {
  override readonly name = 'UnavailableError';
  readonly code = 'unavailable' as const;
  readonly status = 503 as const;
}
