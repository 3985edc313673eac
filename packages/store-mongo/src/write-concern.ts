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
 * rolled back; a claim made that way is released by its lease expiring.
 */
export const SINGLE_WRITE_CONCERN = { w: 'majority', wtimeoutMS: MAJORITY_WAIT_MS } as const satisfies WriteConcernSettings;

/**
 * Transactions: a consistent snapshot, durable on a majority before they count as committed, on the primary.
 * `maxCommitTimeMS` bounds the commit's wait for a majority as {@link SINGLE_WRITE_CONCERN} bounds single writes
 * (withTransaction does not retry a commit that hit it: the outcome is unknown, `CommitOutcomeUnknownError`, and the
 * step is retried later, safely).
 */
export const DEFAULT_TRANSACTION_OPTIONS: TransactionOptions = {
  readConcern: { level: 'snapshot' },
  writeConcern: { w: 'majority' },
  readPreference: 'primary',
  maxCommitTimeMS: MAJORITY_WAIT_MS,
};
