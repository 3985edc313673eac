import { DurableError } from '@durable-rx/runtime';

/**
 * MongoDB refused the credentials, or the user lacks a privilege the store needs (HTTP 500: a deployment mistake,
 * not a client one). The driver's error is kept as `cause`.
 *
 * @example
 * ```ts
 * await MongoStore.connect({ uri: 'mongodb://wrong:password@db.example/?replicaSet=rs0' }); // code 'store-auth-failed'
 * ```
 */
export class StoreAuthenticationError extends DurableError {
  override readonly name = 'StoreAuthenticationError';
  readonly code = 'store-auth-failed' as const;
  readonly status = 500 as const;
}
