import { MongoNetworkError, MongoServerError, MongoWriteConcernError } from 'mongodb';
import { describe, expect, it } from 'vitest';
import { LeaseLostError } from '@durable-rx/runtime';
import { StoreUnreachableError } from '../src/errors/store-unreachable-error.js';
import { mapCommitFailure } from '../src/map-driver-error.js';
import {
  COMMIT_BACKOFF, commitsWithin, TRANSACTION_BACKOFF, TRANSACTION_END_GRACE_MS, TRANSACTION_RETRY_MS, transactionEndWaitMs, transactionRanOut,
  transactionRetryStep, unansweredCommit, type FailedAttempt,
} from '../src/transaction-deadline.js';

// Real driver error objects, labelled as the server and the driver label them.
const labelled = (error: MongoServerError | MongoNetworkError, ...labels: string[]) => {
  for (const label of labels) error.addErrorLabel(label);
  return error;
};
/** A commit refused by a primary stepping down, after the driver's own second try: its outcome is unknown. */
const steppedDown = () => labelled(
  new MongoServerError({ ok: 0, code: 189, codeName: 'PrimarySteppedDown', errmsg: 'stepping down' }), 'RetryableWriteError', 'UnknownTransactionCommitResult',
);
const writeConflict = () => labelled(new MongoServerError({ ok: 0, code: 112, codeName: 'WriteConflict', errmsg: 'conflict' }), 'TransientTransactionError');
const commitTimedOut = () => labelled(
  new MongoServerError({ ok: 0, code: 50, codeName: 'MaxTimeMSExpired', errmsg: 'operation exceeded time limit' }), 'UnknownTransactionCommitResult',
);
const majorityTimedOut = () => labelled(
  new MongoWriteConcernError({ ok: 1, writeConcernError: { code: 50, codeName: 'MaxTimeMSExpired', errmsg: 'operation exceeded time limit' } }),
  'UnknownTransactionCommitResult',
);

const commitFailed = (overrides: Partial<FailedAttempt> = {}): FailedAttempt => ({
  error: steppedDown(), attempt: 1, commits: 1, elapsedMs: 100, random: 0.5, ...overrides,
});

describe('the store\u2019s transaction loop: what follows a failed attempt', () => {
  it('sends a commit whose outcome is unknown again after a jittered back-off that doubles to its bound', () => {
    const delays = [1, 2, 3, 4, 5, 6, 7].map((commits) => transactionRetryStep(commitFailed({ commits, random: 0 })));
    expect(delays).toEqual([25, 50, 100, 200, 400, 500, 500].map((delayMs) => ({ kind: 'retry-commit', delayMs })));
    // The upper half of the jitter: up to the doubling bound.
    expect(transactionRetryStep(commitFailed({ commits: 1, random: 0.999_999 }))).toMatchObject({ kind: 'retry-commit' });
    const top = transactionRetryStep(commitFailed({ commits: 10, random: 0.999_999 }));
    expect(top.kind === 'retry-commit' && top.delayMs).toBeLessThanOrEqual(COMMIT_BACKOFF.maxMs);
    expect(top.kind === 'retry-commit' && top.delayMs).toBeGreaterThan(COMMIT_BACKOFF.maxMs * 0.99);
  });

  it('stops sending the commit once the back-off would end past TRANSACTION_RETRY_MS: the caller reports the unknown outcome', () => {
    // The driver's withTransaction sent it again at once, for 120 s, far past the client's 30 s bound.
    expect(transactionRetryStep(commitFailed({ commits: 20, elapsedMs: TRANSACTION_RETRY_MS - 1_001, random: 0 }))).toEqual({ kind: 'retry-commit', delayMs: 500 });
    expect(transactionRetryStep(commitFailed({ commits: 20, elapsedMs: TRANSACTION_RETRY_MS - 500, random: 0 }))).toEqual({ kind: 'throw' });
    expect(transactionRetryStep(commitFailed({ elapsedMs: TRANSACTION_RETRY_MS }))).toEqual({ kind: 'throw' });
    expect(transactionRetryStep(commitFailed({ elapsedMs: 100, limitMs: 100 }))).toEqual({ kind: 'throw' });
    expect(TRANSACTION_RETRY_MS).toBeLessThan(30_000);
  });

  it('bounds the commits one call sends: a few dozen within the deadline, not thousands', () => {
    const calls = commitsWithin();
    expect(calls).toBe(44);
    // Simulated against the rule itself: commits that fail at once, each waiting the shortest back-off.
    let elapsedMs = 0;
    let commits = 1;
    for (;;) {
      const step = transactionRetryStep(commitFailed({ commits, elapsedMs, random: 0 }));
      if (step.kind !== 'retry-commit') break;
      elapsedMs += step.delayMs;
      commits++;
    }
    expect(commits).toBe(calls);
  });

  it('does not send again a commit that ran out of its maxCommitTimeMS: another would wait as long', () => {
    expect(transactionRetryStep(commitFailed({ error: commitTimedOut() }))).toEqual({ kind: 'throw' });
    expect(transactionRetryStep(commitFailed({ error: majorityTimedOut() }))).toEqual({ kind: 'throw' });
  });

  it('runs an aborted transaction again (a write conflict, from its operations or its commit) with the driver\u2019s back-off', () => {
    expect(transactionRetryStep({ error: writeConflict(), attempt: 1, commits: 0, elapsedMs: 10, random: 0.5 }))
      .toEqual({ kind: 'retry-transaction', delayMs: 0.5 * TRANSACTION_BACKOFF.firstMs * TRANSACTION_BACKOFF.growth });
    expect(transactionRetryStep({ error: writeConflict(), attempt: 40, commits: 1, elapsedMs: 10, random: 1 }))
      .toEqual({ kind: 'retry-transaction', delayMs: TRANSACTION_BACKOFF.maxMs });
    // Past the deadline: nothing of it was written, the call fails as "did not run" (transactionRanOut).
    expect(transactionRetryStep({ error: writeConflict(), attempt: 3, commits: 0, elapsedMs: TRANSACTION_RETRY_MS, random: 0 })).toEqual({ kind: 'ran-out' });
  });

  it('never runs again a transaction whose commit may have applied, whatever other label its error carries', () => {
    // A commit error labelled both ways (a fail point sets labels at will): its outcome is open, so running the
    // transaction again could apply it twice (an unkeyed raiseEvent delivered twice). The transactions specification
    // and withTransaction look at UnknownTransactionCommitResult first, as classifyDriverError does.
    const both = () => labelled(
      new MongoServerError({ ok: 0, code: 189, codeName: 'PrimarySteppedDown', errmsg: 'stepping down' }),
      'RetryableWriteError', 'UnknownTransactionCommitResult', 'TransientTransactionError',
    );
    expect(transactionRetryStep(commitFailed({ error: both(), random: 0 }))).toEqual({ kind: 'retry-commit', delayMs: 25 });
    // Out of time: the caller reports the unknown outcome (mapCommitFailure), not "nothing written" (ran-out).
    expect(transactionRetryStep(commitFailed({ error: both(), elapsedMs: TRANSACTION_RETRY_MS }))).toEqual({ kind: 'throw' });
    expect(transactionRetryStep(commitFailed({ error: both(), closing: true }))).toEqual({ kind: 'throw' });
    // A commit out of its maxCommitTimeMS is not sent again, and not run again either.
    expect(transactionRetryStep(commitFailed({ error: labelled(commitTimedOut(), 'TransientTransactionError') }))).toEqual({ kind: 'throw' });
    // The label on an error of the operations (no commit sent) tells nothing of a commit: the transaction runs again.
    expect(transactionRetryStep({ error: both(), attempt: 1, commits: 0, elapsedMs: 0, random: 0 })).toMatchObject({ kind: 'retry-transaction' });
  });

  it('gives up at once on anything else, and on every failure once the store is closing', () => {
    expect(transactionRetryStep({ error: new LeaseLostError('lease lost'), attempt: 1, commits: 0, elapsedMs: 0, random: 0 })).toEqual({ kind: 'throw' });
    expect(transactionRetryStep({ error: new Error('bug'), attempt: 1, commits: 0, elapsedMs: 0, random: 0 })).toEqual({ kind: 'throw' });
    // An unknown outcome is a commit's: the label on an error of the operations changes nothing.
    expect(transactionRetryStep({ error: steppedDown(), attempt: 1, commits: 0, elapsedMs: 0, random: 0 })).toEqual({ kind: 'throw' });
    // A commit whose retry found no primary carries no label (driver 7.8): mapped as an unknown outcome by the caller.
    expect(transactionRetryStep(commitFailed({ error: new MongoNetworkError('reset') }))).toEqual({ kind: 'throw' });
    expect(transactionRetryStep(commitFailed({ closing: true }))).toEqual({ kind: 'throw' });
    expect(transactionRetryStep({ error: writeConflict(), attempt: 1, commits: 0, elapsedMs: 0, random: 0, closing: true })).toEqual({ kind: 'ran-out' });
  });

  it('fails a transaction no attempt got through as "did not run" (store-unreachable, 503), the last attempt\u2019s error kept', () => {
    const last = Object.assign(new Error('WriteConflict'), { code: 112 });
    const error = transactionRanOut('committing a step', last);
    expect(error).toBeInstanceOf(StoreUnreachableError);
    expect(error).toMatchObject({ code: 'store-unreachable', status: 503, cause: last });
    expect(error.message).toContain('committing a step');
    expect(transactionRanOut('committing a step', undefined).cause).toBeUndefined();
  });

  it('waits for an abort or a commit until the loop\u2019s bound, never less than the grace, so no call outlives the bound by more', () => {
    // Sent at the first attempt: the whole bound; later: what is left of it.
    expect(transactionEndWaitMs(0)).toBe(TRANSACTION_RETRY_MS);
    expect(transactionEndWaitMs(15_000)).toBe(5_000);
    // Sent at or past the end of the bound (a resend whose back-off just fit, a long attempt): the grace.
    expect(transactionEndWaitMs(TRANSACTION_RETRY_MS - 1)).toBe(TRANSACTION_END_GRACE_MS);
    expect(transactionEndWaitMs(TRANSACTION_RETRY_MS + 5_000)).toBe(TRANSACTION_END_GRACE_MS);
    // Whenever it is sent, the wait ends by the bound plus the grace: an abort or commit that waits for a server
    // (each selection up to serverSelectionTimeoutMS, 30 s by the driver's default) no longer holds the call past it.
    for (let sentAt = 0; sentAt <= TRANSACTION_RETRY_MS + 1_000; sentAt += 250) {
      expect(sentAt + transactionEndWaitMs(sentAt)).toBeLessThanOrEqual(Math.max(TRANSACTION_RETRY_MS, sentAt + TRANSACTION_END_GRACE_MS));
      expect(transactionEndWaitMs(sentAt)).toBeGreaterThanOrEqual(TRANSACTION_END_GRACE_MS);
    }
    expect(transactionEndWaitMs(1_000, 5_000)).toBe(4_000);
  });

  it('reports a commit left unanswered as of unknown outcome when the transaction wrote, as nothing written otherwise', () => {
    const late = unansweredCommit(2_000);
    expect(late.message).toContain('2000 ms');
    expect(mapCommitFailure(late, 'committing a step', 'wrote')).toMatchObject({ code: 'commit-outcome-unknown', status: 503, cause: late });
    expect(mapCommitFailure(late, 'resuming "a"', 'wrote-nothing')).toMatchObject({ code: 'store-unreachable', status: 503 });
    expect(mapCommitFailure(late, 'reading the history', 'read')).toMatchObject({ code: 'unavailable', status: 503 });
  });
});
