import { DurableError } from '@durable-rx/runtime';

/**
 * Creating (or, with `createIndexes: false`, checking) the store's collections and indexes did not finish within
 * `indexBuildTimeoutMs` (HTTP 503), so `connect` (or `ensureIndexes`) gave up waiting. The usual cause is an index
 * build waiting for its commit quorum: MongoDB marks a new index ready only once every voting data-bearing member of
 * the replica set has built it, so a member that is down or far behind holds the build up (so does a large
 * collection). The build itself goes on on the server; the message says which step was waiting and what to do. A later
 * `connect` joins the running build or finds the index ready. The deadline's `TimeoutError` is kept as `cause`.
 *
 * @example
 * ```ts
 * try { await MongoStore.connect({ uri, indexBuildTimeoutMs: 60_000 }); }
 * catch (e) { if (e instanceof IndexBuildTimeoutError) console.error(e.message); }
 * ```
 */
export class IndexBuildTimeoutError extends DurableError {
  override readonly name = 'IndexBuildTimeoutError';
  readonly code = 'index-build-timeout' as const;
  readonly status = 503 as const;
}
