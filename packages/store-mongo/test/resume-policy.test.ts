import { describe, expect, it } from 'vitest';
import { createRequire } from 'node:module';
import { MongoNetworkError, MongoServerClosedError, MongoServerError, Timestamp } from 'mongodb';
import { classifyStreamFailure, currentPoint, decideResume, DEFAULT_RESUME_POLICY, failuresBefore, givesUp, refreshAt, refusedStart, reopenAt, startFromNow } from '../src/resume-policy.js';

const serverError = (code: number, codeName: string, labels: string[] = []) => {
  const error = new MongoServerError({ message: codeName, code, codeName, errorLabels: labels });
  return error;
};

/** The driver's connection-pool errors, which it does not export. */
const driverCmap = createRequire(import.meta.url)('mongodb/lib/cmap/errors.js') as {
  readonly PoolClosedError: new (pool: { readonly address: string }) => Error;
};

/** A transient failure the driver could not resume by itself. */
const networkFailure = { kind: 'error', error: new MongoNetworkError('connection reset') } as const;

describe('change stream resume policy', () => {
  it('resumes from the token after transient failures: network, elections, killed cursors, labelled errors', () => {
    const transient = [
      new MongoNetworkError('connection reset'),
      serverError(10107, 'NotWritablePrimary'),
      serverError(11602, 'InterruptedDueToReplStateChange'),
      serverError(189, 'PrimarySteppedDown'),
      serverError(43, 'CursorNotFound'),
      serverError(1, 'Whatever', ['ResumableChangeStreamError']),
      // The pool stayed busy for waitQueueTimeoutMS (the driver's own class name): load, not a refusal.
      Object.assign(new Error('Timed out while checking out a connection from connection pool'), { name: 'MongoWaitQueueTimeoutError' }),
      // The selected server left the topology and the driver closed it (and its pool): another server is selected.
      new MongoServerClosedError(),
      new driverCmap.PoolClosedError({ address: 'old-member:27017' }),
      // An overloaded server shed the getMore (it did not run), after the driver's own retries.
      serverError(463, 'IngressOperationRateLimitExceeded', ['SystemOverloadedError', 'RetryableError', 'NoWritesPerformed']),
    ];
    for (const error of transient) expect(classifyStreamFailure({ kind: 'error', error }), error.message).toBe('resumable');
    expect(decideResume({ kind: 'error', error: transient[0] }, 0)).toEqual({ from: 'resume-token', delayMs: 100, severity: 'warn', failure: 'resumable' });
  });

  it('restarts from now when the position is gone, loudly', () => {
    for (const [code, name] of [[286, 'ChangeStreamHistoryLost'], [260, 'InvalidResumeToken'], [280, 'ChangeStreamFatalError'], [10334, 'BSONObjectTooLarge']] as const) {
      const decision = decideResume({ kind: 'error', error: serverError(code, name) }, 0);
      expect(decision, name).toMatchObject({ from: 'now', severity: 'error', failure: 'position-lost' });
    }
  });

  it('keeps retrying slowly from the token after errors that do not heal by themselves', () => {
    const decision = decideResume({ kind: 'error', error: serverError(13, 'Unauthorized') }, 0);
    expect(decision).toEqual({ from: 'resume-token', delayMs: DEFAULT_RESUME_POLICY.maxDelayMs, severity: 'error', failure: 'persistent' });
    expect(decideResume({ kind: 'error', error: 'not even an error' }, 0).failure).toBe('persistent');
  });

  it('backs off exponentially up to the maximum', () => {
    const policy = { initialDelayMs: 50, maxDelayMs: 1000, maxPersistentFailures: 6 };
    const delays = [0, 1, 2, 3, 4, 5, 10, 1000].map((attempt) => decideResume(networkFailure, attempt, policy).delayMs);
    expect(delays).toEqual([50, 100, 200, 400, 800, 1000, 1000, 1000]);
  });

  it('keeps backing off while a stream opens and fails at once; starts over once one delivered or stayed up', () => {
    const policy = { initialDelayMs: 100, maxDelayMs: 10_000, maxPersistentFailures: 6 };
    // Each reopened stream gets its first (empty) batch, then fails within a second: the delay climbs to the cap
    // (before, the first batch counted as recovery and the feed reopened every 100 ms for good).
    let failures = 0;
    const delays: number[] = [];
    for (let i = 0; i < 9; i++) {
      failures = failuresBefore(failures, { livedMs: 500, delivered: false }, policy);
      delays.push(decideResume(networkFailure, failures++, policy).delayMs);
    }
    expect(delays).toEqual([100, 200, 400, 800, 1_600, 3_200, 6_400, 10_000, 10_000]);
    expect(failuresBefore(8, { livedMs: 500, delivered: true }, policy)).toBe(0);
    expect(failuresBefore(8, { livedMs: 10_000, delivered: false }, policy)).toBe(0);
    expect(failuresBefore(8, { livedMs: 9_999, delivered: false }, policy)).toBe(8);
  });

  it('gives up a status feed at the maxPersistentFailures-th consecutive failure, only when the latest is persistent', () => {
    const policy = { initialDelayMs: 100, maxDelayMs: 10_000, maxPersistentFailures: 3 };
    const unauthorized = decideResume({ kind: 'error', error: serverError(13, 'Unauthorized') }, 0, policy);
    expect([0, 1, 2, 3].map((attempt) => givesUp(unauthorized, attempt, policy))).toEqual([false, false, true, true]);
    // A network outage or a lost position never ends a feed, however long it lasts.
    expect(givesUp(decideResume(networkFailure, 99, policy), 99, policy)).toBe(false);
    expect(givesUp(decideResume({ kind: 'error', error: serverError(286, 'ChangeStreamHistoryLost') }, 99, policy), 99, policy)).toBe(false);
    expect(DEFAULT_RESUME_POLICY.maxPersistentFailures).toBeGreaterThan(1);
  });

  it('counts failures of every kind toward the end of a status feed: after five quick network failures, the first refusal ends it (docs/mongodb.md)', () => {
    const policy = DEFAULT_RESUME_POLICY;
    const refused = { kind: 'error', error: serverError(13, 'Unauthorized') } as const;
    const quick = { livedMs: 50, delivered: false };
    // The feed's own bookkeeping: the count before each failure, then whether that failure ends the feed.
    const run = (failures: readonly (typeof refused | typeof networkFailure)[], runs = failures.map(() => quick)) => {
      let count = 0;
      return failures.map((failure, n) => {
        count = failuresBefore(count, runs[n] ?? quick, policy);
        const ends = givesUp(decideResume(failure, count, policy), count, policy);
        count++;
        return ends;
      });
    };
    expect(run([networkFailure, networkFailure, networkFailure, networkFailure, networkFailure, refused]))
      .toEqual([false, false, false, false, false, true]);
    // Five refusals alone do not end it; neither does a sixth failure in a row that heals.
    expect(run([refused, refused, refused, refused, refused, networkFailure])).toEqual([false, false, false, false, false, false]);
    // A stream that delivered a change before failing starts the count over.
    const recovered = [quick, quick, quick, quick, { livedMs: 50, delivered: true }, quick];
    expect(run([refused, refused, refused, refused, refused, refused], recovered)).toEqual([false, false, false, false, false, false]);
  });

  it('reopens after the last token when it keeps the position, without a resync', () => {
    const token = { _data: '82abc' };
    const openedAt = new Timestamp({ t: 1_700_000_000, i: 3 });
    expect(reopenAt(decideResume(networkFailure, 0), token, openedAt)).toEqual({ point: { resumeAfter: token }, resync: false });
  });

  it('reopens at the captured opening time when it failed before the first token: nothing missed', () => {
    const openedAt = new Timestamp({ t: 1_700_000_000, i: 3 });
    for (const token of [undefined, null]) {
      expect(reopenAt(decideResume(networkFailure, 0), token, openedAt)).toEqual({ point: { startAtOperationTime: openedAt }, resync: false });
    }
    const unauthorized = decideResume({ kind: 'error', error: serverError(13, 'Unauthorized') }, 0);
    expect(reopenAt(unauthorized, undefined, openedAt)).toEqual({ point: { startAtOperationTime: openedAt }, resync: false });
  });

  it('reopens from now with a resync when the position is lost, or when no position was ever known', () => {
    const token = { _data: '82abc' };
    const openedAt = new Timestamp({ t: 1_700_000_000, i: 3 });
    for (const [code, name] of [[286, 'ChangeStreamHistoryLost'], [260, 'InvalidResumeToken'], [136, 'CappedPositionLost']] as const) {
      expect(reopenAt(decideResume({ kind: 'error', error: serverError(code, name) }, 0), token, openedAt), name).toEqual({ point: 'now', resync: true });
    }
    expect(reopenAt(decideResume(networkFailure, 0), undefined, undefined)).toEqual({ point: 'now', resync: true });
  });

  it('resumes with startAfter while the token may be an invalidate event\u2019s (resumeAfter is refused there)', () => {
    const invalidateToken = { _data: '82inv' };
    const openedAt = new Timestamp({ t: 1_700_000_000, i: 3 });
    // A transient failure of the stream started after an invalidate, before it delivered any change.
    expect(reopenAt(decideResume(networkFailure, 0), invalidateToken, openedAt, true)).toEqual({ point: { startAfter: invalidateToken }, resync: false });
    expect(currentPoint(invalidateToken, openedAt, true)).toEqual({ startAfter: invalidateToken });
    // Once it delivered a change, its token is an ordinary one again.
    expect(reopenAt(decideResume(networkFailure, 0), invalidateToken, openedAt, false)).toEqual({ point: { resumeAfter: invalidateToken }, resync: false });
    // A lost position still restarts from now.
    expect(reopenAt(decideResume({ kind: 'error', error: serverError(286, 'ChangeStreamHistoryLost') }, 0), invalidateToken, openedAt, true))
      .toEqual({ point: 'now', resync: true });
  });

  it('reopens a stream for a new pipeline where it is: after its token, else at its opening time', () => {
    const token = { _data: '82abc' };
    const openedAt = new Timestamp({ t: 1_700_000_000, i: 3 });
    expect(currentPoint(token, openedAt)).toEqual({ resumeAfter: token });
    expect(currentPoint(undefined, openedAt)).toEqual({ startAtOperationTime: openedAt });
    expect(currentPoint(null, undefined)).toBeUndefined();
  });

  it('reopens a stream that knows no position for a new pipeline from now with a resync, never from the present alone', () => {
    const token = { _data: '82abc' };
    const openedAt = new Timestamp({ t: 1_700_000_000, i: 3 });
    expect(refreshAt(token, openedAt)).toEqual({ point: { resumeAfter: token }, resync: false });
    expect(refreshAt(token, openedAt, true)).toEqual({ point: { startAfter: token }, resync: false });
    expect(refreshAt(undefined, openedAt)).toEqual({ point: { startAtOperationTime: openedAt }, resync: false });
    expect(refreshAt(undefined, undefined)).toEqual({ point: 'now', resync: true });
    expect(refreshAt(null, undefined)).toEqual({ point: 'now', resync: true });
  });
});

describe('where a stream "from now" starts after the server refused a start time', () => {
  const t = (i: number) => new Timestamp({ t: 1_700_000_000, i });
  const historyLost = decideResume({ kind: 'error', error: Object.assign(new Error('history lost'), { code: 286, codeName: 'ChangeStreamHistoryLost' }) }, 0);
  const network = decideResume({ kind: 'error', error: Object.assign(new Error('reset'), { name: 'MongoNetworkError' }) }, 0);

  it('learns the refused time from a lost position of a stream still at its start time (no token yet)', () => {
    expect(historyLost.failure).toBe('position-lost');
    expect(refusedStart(historyLost, undefined, t(5))).toEqual(t(5));
    expect(refusedStart(historyLost, null, t(5))).toEqual(t(5));
    // Past its start (a token came): the token was lost, not the start time.
    expect(refusedStart(historyLost, { _data: '82' }, t(5))).toBeUndefined();
    // Opened at the server's present: nothing to avoid.
    expect(refusedStart(historyLost, undefined, undefined)).toBeUndefined();
    // A failure that keeps the position says nothing against the start time.
    expect(refusedStart(network, undefined, t(5))).toBeUndefined();
  });

  it('starts at the latest known time unless the server refused one at or after it; then at the server\u2019s present', () => {
    expect(startFromNow(t(5), undefined)).toEqual(t(5));
    expect(startFromNow(t(5), t(5))).toBeUndefined();
    expect(startFromNow(t(4), t(5))).toBeUndefined();
    expect(startFromNow(t(6), t(5))).toEqual(t(6));
    expect(startFromNow(new Timestamp({ t: 1_700_000_001, i: 0 }), t(5))).toEqual(new Timestamp({ t: 1_700_000_001, i: 0 }));
    expect(startFromNow(undefined, t(5))).toBeUndefined();
  });
});
