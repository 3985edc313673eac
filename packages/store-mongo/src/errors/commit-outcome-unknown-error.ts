import { DurableError } from '@durable-rx/runtime';

/**
 * MongoDB could not confirm whether a transaction committed (HTTP 503): the commit timed out waiting for a majority
 * (`maxCommitTimeMS`), or the connection failed during the commit and retrying it did not settle the outcome within
 * the driver's 120 s limit, or the commit's retry found no primary; or a single-document write (a claim, a lease
 * release) was applied on the primary but no majority acknowledged it (within 30 s, or before the primary stepped down
 * or shut down). The write may or may not have happened (durably). The driver's error is kept
 * as `cause`.
 *
 * Whether a retry is safe depends on the write:
 * - a leased write (an orchestration step, an activity result) is: retried after it did commit, it finds its lease
 *   released or its task gone and fails with `LeaseLostError` instead of applying twice (the worker retries by itself);
 * - a client command is not always: a repeated `startNew` of the same id fails with 409 and a repeated `terminate`
 *   with 410, but a repeated `raiseEvent` delivers the event twice. Read the instance (`getStatus`, its history)
 *   before repeating a command that must not apply twice.
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
