import type { TransactionOptions, WriteConcernSettings } from 'mongodb';

/**
 * How long a write waits for a majority of the replica set to acknowledge it (a transaction's commit, or a
 * single-document write), before it fails with an unknown outcome (`CommitOutcomeUnknownError`, 503) instead of waiting.
 */
export const MAJORITY_WAIT_MS = 30_000;

/**
 * The write concern of every write outside a transaction (claims, lease releases and renewals, the history sweep):
 * durable on a majority, and bounded. Without `wtimeoutMS` a majority write waits for good when no majority can
 * acknowledge (a primary–secondary–arbiter set with its secondary down, a partition): the claim loop, `releaseOwner`
 * and activity heartbeats would hang instead of failing. The write has then been applied on the primary and may be
 * rolled back; a claim made that way is looked up by its lease token and handed out (store-kit's `UnconfirmedClaims`).
 */
export const SINGLE_WRITE_CONCERN = { w: 'majority', wtimeoutMS: MAJORITY_WAIT_MS } as const satisfies WriteConcernSettings;

/**
 * How long a transaction's commit (and abort) may wait for a majority: longer than `maxCommitTimeMS`, so that the
 * commit's time limit, not the write concern, is what ends a commit no majority acknowledges.
 *
 * Why it must be set: without it the driver sends every commit with `wtimeout: 10000`, and a commit that failed with a
 * write concern timeout carries `UnknownTransactionCommitResult`, which is sent again (by the driver's
 * `withTransaction` for up to 120 s, by the store's loop for up to `TRANSACTION_RETRY_MS`). A commit that hits `maxCommitTimeMS` (`MaxTimeMSExpired`, which the
 * server also reports when the time runs out while it waits for the write concern) is never retried.
 */
export const TRANSACTION_MAJORITY_WAIT_MS = MAJORITY_WAIT_MS + 1_000;

/**
 * Transactions: a consistent snapshot, durable on a majority before they count as committed, on the primary.
 * `maxCommitTimeMS` bounds the commit's wait for a majority as {@link SINGLE_WRITE_CONCERN} bounds single writes
 * (the store's transaction loop does not send again a commit that hit it: the outcome is unknown, `CommitOutcomeUnknownError`, and the
 * step is retried later, safely); the write concern's own timeout is longer ({@link TRANSACTION_MAJORITY_WAIT_MS}).
 */
export const DEFAULT_TRANSACTION_OPTIONS: TransactionOptions = {
  readConcern: { level: 'snapshot' },
  writeConcern: { w: 'majority', wtimeoutMS: TRANSACTION_MAJORITY_WAIT_MS },
  readPreference: 'primary',
  maxCommitTimeMS: MAJORITY_WAIT_MS,
};

/**
 * The options of every transaction: `overrides` (the store's `transactionOptions`) over
 * {@link DEFAULT_TRANSACTION_OPTIONS}, the write concern merged field by field, so that an application that asks for,
 * say, a journaled majority keeps a write concern timeout (and with it the commit bound above). Unless the application
 * sets the write concern's timeout itself, it is one second longer than the effective `maxCommitTimeMS`, so that a
 * longer commit limit (`maxCommitTimeMS: 60_000`) stays the limit that ends a commit.
 *
 * @example
 * ```ts
 * transactionOptionsFor({ writeConcern: { w: 'majority', journal: true } }).writeConcern;
 * // { w: 'majority', wtimeoutMS: 31000, journal: true }
 * ```
 */
export function transactionOptionsFor(overrides: TransactionOptions | undefined): TransactionOptions {
  const merged = { ...DEFAULT_TRANSACTION_OPTIONS, ...overrides };
  const own = overrides?.writeConcern;
  const wtimeoutMS = own?.wtimeoutMS ?? own?.wtimeout ?? (merged.maxCommitTimeMS ?? MAJORITY_WAIT_MS) + 1_000;
  return { ...merged, writeConcern: { ...DEFAULT_TRANSACTION_OPTIONS.writeConcern, ...own, wtimeoutMS } };
}

/**
 * The warning `connect` logs when the store's transactions (`transactionOptionsFor`) commit with a write concern other
 * than `w: 'majority'`, or `undefined`. Read-your-writes rests on majority commits: the store's reads use `majority`
 * read concern after the latest majority-committed time the process knows, and only a majority-acknowledged commit
 * advances that time (`isMajorityWriteConcern`). A commit acknowledged by fewer members resolves before a majority has
 * it, so a read right after it may not see it yet, and a failover may roll it back.
 *
 * @example
 * ```ts
 * transactionWriteConcernWarning(transactionOptionsFor({ writeConcern: { w: 1 } })); // "transactionOptions.writeConcern is w: 1 ..."
 * transactionWriteConcernWarning(transactionOptionsFor(undefined));                  // undefined
 * ```
 */
export function transactionWriteConcernWarning(options: TransactionOptions): string | undefined {
  const w = options.writeConcern?.w;
  if (w === 'majority') return undefined;
  return `transactionOptions.writeConcern is w: ${JSON.stringify(w ?? null)}, not 'majority': a call's read may not see a command ` +
    'this process committed just before (the store reads at majority, and a commit acknowledged by fewer members ' +
    'resolves before a majority has it), and a failover may roll such a commit back. Keep w: \'majority\' for read-your-writes.';
}

/**
 * The options of a read-only transaction that reads several documents as of one moment (`getInstanceHistory`): the
 * store's transaction options (`transactionOptionsFor`: its commit limit, the write concern's timeout, a journaled
 * majority), with the two on which the read's guarantee rests fixed whatever the application overrides:
 * `readConcern: snapshot`, the level at which every read of a transaction sees one point in time on a sharded cluster
 * too (`local` and `majority` do not synchronise the shards), and `w: majority` for the commit, which MongoDB
 * requires before it guarantees that a transaction read majority-committed data: without it the read could return
 * what a failover rolls back, which no other read of the store does. On the primary, as every transaction.
 *
 * @example
 * ```ts
 * snapshotReadOptions(transactionOptionsFor({ readConcern: { level: 'local' }, writeConcern: { w: 1 } }));
 * // { readConcern: { level: 'snapshot' }, writeConcern: { w: 'majority', wtimeoutMS: 31000 }, readPreference: 'primary', maxCommitTimeMS: 30000 }
 * ```
 */
export function snapshotReadOptions(options: TransactionOptions): TransactionOptions {
  return {
    ...options,
    readConcern: { level: 'snapshot' },
    readPreference: 'primary',
    writeConcern: { ...options.writeConcern, w: 'majority' },
  };
}

/** The read concern levels MongoDB accepts for a multi-document transaction. */
const TRANSACTION_READ_CONCERNS: readonly string[] = ['snapshot', 'majority', 'local'];

/**
 * What is wrong with the store's `transactionOptions` (`undefined`: nothing), checked by `connect` before it connects,
 * for the settings that no transaction can run with, which would otherwise pass `connect` and fail every commit:
 *
 * - `readPreference` other than `primary`: MongoDB runs a transaction's reads on the primary only, and the driver
 *   refuses every read of such a transaction ("Read preference in a transaction must be primary");
 * - `readConcern` other than `snapshot`, `majority` or `local`: the levels MongoDB supports in a transaction
 *   (`available` and `linearizable` are refused by the server);
 * - an unacknowledged write concern (`w: 0`): the driver refuses to start such a transaction ("Transactions do not
 *   support unacknowledged write concern"), and the store could not learn whether a commit applied.
 *
 * @example
 * ```ts
 * transactionOptionsProblem({ readPreference: 'secondaryPreferred' });
 * // "transactionOptions.readPreference must be 'primary' (MongoDB reads in a transaction on the primary only), not secondaryPreferred"
 * transactionOptionsProblem({ writeConcern: { w: 'majority', journal: true } }); // undefined
 * ```
 */
export function transactionOptionsProblem(options: TransactionOptions | undefined): string | undefined {
  if (options === undefined) return undefined;
  const preference: unknown = options.readPreference;
  const mode = typeof preference === 'string' ? preference : (preference as { mode?: unknown } | undefined)?.mode;
  if (preference !== undefined && mode !== 'primary') {
    return `transactionOptions.readPreference must be 'primary' (MongoDB reads in a transaction on the primary only), not ${String(mode ?? preference)}`;
  }
  const concern: unknown = options.readConcern;
  const level = typeof concern === 'string' ? concern : (concern as { level?: unknown } | undefined)?.level;
  if (concern !== undefined && level !== undefined && !TRANSACTION_READ_CONCERNS.includes(level as string)) {
    return `transactionOptions.readConcern must be 'snapshot', 'majority' or 'local' (the levels MongoDB supports in a transaction), not ${String(level)}`;
  }
  const w: unknown = (options.writeConcern as { w?: unknown } | undefined)?.w;
  if (w === 0) {
    return 'transactionOptions.writeConcern must be acknowledged (w: 0 is not: MongoDB\u2019s drivers refuse such a transaction, and a commit must be known to apply)';
  }
  return undefined;
}
