import { DurableError } from '@durable-rx/runtime';

/**
 * MongoDB could not confirm whether a transaction committed (HTTP 503): the commit timed out waiting for a majority
 * (`maxCommitTimeMS`), or the connection failed during the commit and retrying it did not settle the outcome within
 * the driver's 120 s limit. The write may or may not have happened. Retrying is safe: a step retried after it did
 * commit finds its lease released and fails with `LeaseLostError` instead of applying twice. The driver's error is
 * kept as `cause`.
 *
 * @example
 * ```ts
 * try { await store.commit({ requests: [{ type: 'insertMessage', message, ifMissing: 'fail' }] }); }
 * catch (e) { if (e instanceof CommitOutcomeUnknownError) console.warn('check before retrying', e.cause); }
 * ```
 */
export class CommitOutcomeUnknownError extends DurableError {
  override readonly name = 'CommitOutcomeUnknownError';
  readonly code = 'commit-outcome-unknown' as const;
  readonly status = 503 as const;
}
