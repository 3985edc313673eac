import { DurableError } from '@durable-rx/runtime';

/**
 * The server is a standalone `mongod`. MongoStore needs transactions (atomic steps) and change streams (pushed
 * status, worker wake-ups), which only replica sets and sharded clusters provide, so it refuses to open (HTTP 500).
 * A single-node replica set is enough; the message says how to start one.
 *
 * @example
 * ```ts
 * try { await MongoStore.connect({ uri: 'mongodb://127.0.0.1:27017' }); }
 * catch (e) { if (e instanceof ReplicaSetRequiredError) console.error(e.message); }
 * ```
 */
export class ReplicaSetRequiredError extends DurableError {
  override readonly name = 'ReplicaSetRequiredError';
  readonly code = 'replica-set-required' as const;
  readonly status = 500 as const;
}
