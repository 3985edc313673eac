import { DurableError } from '@durable-rx/runtime';

/**
 * No MongoDB server could be reached within `serverSelectionTimeoutMS` (refused connection, unknown host, network
 * timeout, no primary), or no majority confirmed the commit of a transaction that wrote nothing, or an operation did not
 * run: an overloaded server shed it, or a transaction stayed aborted through 20 s of attempts (write
 * conflicts on a hot instance), or a claim was refused because this process's clock is off the server's by more than
 * a share of the lease. Nothing was written; trying again is safe. HTTP 503. The driver's error (usually `MongoServerSelectionError`) is kept as `cause`.
 *
 * @example
 * ```ts
 * await MongoStore.connect({ uri: 'mongodb://127.0.0.1:1/?replicaSet=rs0' }); // rejects with code 'store-unreachable'
 * ```
 */
export class StoreUnreachableError extends DurableError {
  override readonly name = 'StoreUnreachableError';
  readonly code = 'store-unreachable' as const;
  readonly status = 503 as const;
}
