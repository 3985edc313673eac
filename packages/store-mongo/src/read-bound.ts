/**
 * The time bounds of the store's reads, in one place. Driver 7.8 bounds no operation by itself: its `timeoutMS` is
 * deprecated and "has no effect", `socketTimeoutMS` is 0 (no limit) by default and left so, and the pool interrupts a
 * connection in use only when a heartbeat fails (a server that is down, not one that is slow). So every read the store
 * sends carries a `maxTimeMS`, "a cumulative time limit in milliseconds for processing operations on a cursor" (MongoDB
 * manual, cursor.maxTimeMS()): past it the server ends the read with MaxTimeMSExpired (code 50), which the store maps
 * to `UnavailableError` (503, nothing written, try again; `mapDriverError`). A slow read then cannot hold a pooled
 * connection, the call that waits for it, or `close()`, which waits for operations in flight, for ever.
 */

/** The most server time one read that answers a call (a status, a history, a query page, an input) may take: 30 s. */
export const READ_MAX_TIME_MS = 30_000;

/**
 * How long past {@link READ_MAX_TIME_MS} a read outside a transaction waits for the server's answer before it gives up
 * on its own (an `AbortSignal`, the driver's bound for a server that does not answer at all; its `TimeoutError`, which
 * the driver throws as `MongoOperationTimeoutError` once the command was sent, maps to `StoreUnreachableError`, 503).
 */
export const READ_DEADLINE_MARGIN_MS = 5_000;

/**
 * The most server time, in all, of a scan that walks many cursor batches on purpose: a status resync after a lost
 * position, the purge scan of `purgeInstances`, the `claimAt` fill at `connect` (10 min). `maxTimeMS` counts the
 * server's processing across the cursor's batches, not the time between them, so this bounds a runaway scan without
 * ending a long one that makes progress.
 */
export const SCAN_MAX_TIME_MS = 10 * 60_000;

/**
 * The bound of one read outside a transaction: `maxTimeMS` {@link READ_MAX_TIME_MS}, and a deadline
 * {@link READ_DEADLINE_MARGIN_MS} later for a server that never answers.
 *
 * @example
 * ```ts
 * instances.findOne({ _id: key }, { projection, ...readBound() }); // { maxTimeMS: 30000, signal: <aborts after 35 s> }
 * ```
 */
export function readBound(): { readonly maxTimeMS: number; readonly signal: AbortSignal } {
  return { maxTimeMS: READ_MAX_TIME_MS, signal: AbortSignal.timeout(READ_MAX_TIME_MS + READ_DEADLINE_MARGIN_MS) };
}

/**
 * The bound of a read inside a transaction: `maxTimeMS` alone. An abort would close the connection under the
 * transaction; the transaction itself is bounded too (`transactionLifetimeLimitSeconds`, 60 s by default, and the
 * commit's `maxCommitTimeMS`).
 */
export const TRANSACTION_READ_BOUND = { maxTimeMS: READ_MAX_TIME_MS } as const;

/** The bound of a scan that walks many batches ({@link SCAN_MAX_TIME_MS}); it ends early when its consumer closes it. */
export const SCAN_BOUND = { maxTimeMS: SCAN_MAX_TIME_MS } as const;
