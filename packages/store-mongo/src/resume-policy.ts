import type { Timestamp } from 'mongodb';
import { compareTimestamps } from './cluster-time.js';
import { isShedForOverload } from './map-driver-error.js';

/**
 * The pure part of the change feed: what to do when a change stream fails. The driver already resumes once by itself
 * after a resumable error (a dropped connection, a primary step-down); this policy decides what happens when that was
 * not enough and the stream reported an error.
 */

/** Delays of the resume back-off, and when a status feed stops retrying. */
export interface ResumePolicy {
  /** Delay before the first reopen after a failure. Default 100 ms. */
  readonly initialDelayMs: number;
  /** Largest delay; also the delay after errors that are not expected to heal quickly. Default 10 s. */
  readonly maxDelayMs: number;
  /**
   * Consecutive failures after which a status feed whose latest failure is persistent (refused privileges, a
   * configuration error) stops retrying and passes the error to its subscribers (`status$` errors instead of going
   * quiet for good; a new subscriber tries again). Default 6: about a minute at `maxDelayMs`. `Infinity`: a status feed
   * never stops retrying either. The wake-up feed never
   * stops (a worker cannot subscribe again); transient and lost-position failures never end a feed.
   */
  readonly maxPersistentFailures: number;
}

/** Default {@link ResumePolicy}. */
export const DEFAULT_RESUME_POLICY: ResumePolicy = { initialDelayMs: 100, maxDelayMs: 10_000, maxPersistentFailures: 6 };

/** Why a change stream stopped. */
export interface StreamFailure {
  readonly kind: 'error';
  readonly error: unknown;
}

/** How bad a failure is. */
export type FailureClass =
  /** Transient (network, election, cursor killed): reopen from the last resume token, nothing is missed. */
  | 'resumable'
  /** The position is gone (oplog rolled past the token, token invalid, an event too large to deliver): reopen from now; changes in between are missed. */
  | 'position-lost'
  /** Not expected to heal by itself (authorisation, configuration): keep retrying slowly from the token, loudly. */
  | 'persistent';

/** What the feed does next. */
export interface ResumeDecision {
  /** Reopen after the last resume token (nothing missed), or from the present (something may have been missed). */
  readonly from: 'resume-token' | 'now';
  readonly delayMs: number;
  /** How the failure is logged. */
  readonly severity: 'warn' | 'error';
  readonly failure: FailureClass;
}

/** Server error codes after which a change stream can be resumed from its token (the driver's list plus `CursorNotFound`). */
const RESUMABLE_CODES = new Set([
  6, 7, 43, 63, 89, 91, 133, 150, 189, 234, 262, 9001, 10107, 11600, 11602, 13388, 13435, 13436,
]);
/** ChangeStreamHistoryLost, ChangeStreamFatalError, InvalidResumeToken, CappedPositionLost, BSONObjectTooLarge. */
const POSITION_LOST_CODES = new Set([286, 280, 260, 136, 10334]);
const RESUMABLE_NAMES = new Set([
  'MongoNetworkError', 'MongoNetworkTimeoutError', 'MongoServerSelectionError', 'MongoOperationTimeoutError',
  'MongoPoolClearedError', 'PoolClearedOnNetworkError',
  // Every pooled connection was busy for waitQueueTimeoutMS: load, not a lasting refusal.
  'MongoWaitQueueTimeoutError',
  // The server the stream had selected left the topology (a member removed, a mongos gone from the SRV record), and the
  // driver closed it and its pool: the reopen selects another server (on a closed client it fails as persistent).
  'MongoServerClosedError', 'MongoPoolClosedError',
]);

/**
 * Classifies a change-stream failure (by driver class name, server code and error labels).
 *
 * @example
 * ```ts
 * classifyStreamFailure({ kind: 'error', error: Object.assign(new Error('history lost'), { code: 286 }) }); // 'position-lost'
 * ```
 */
export function classifyStreamFailure(failure: StreamFailure): FailureClass {
  const e = (typeof failure.error === 'object' && failure.error !== null ? failure.error : {}) as {
    name?: unknown; code?: unknown; errorLabels?: unknown;
  };
  if (typeof e.code === 'number' && POSITION_LOST_CODES.has(e.code)) return 'position-lost';
  if (Array.isArray(e.errorLabels) && e.errorLabels.includes('ResumableChangeStreamError')) return 'resumable';
  // An overloaded server shed the aggregate or getMore (it did not run): load, which passes.
  if (isShedForOverload(failure.error)) return 'resumable';
  if (typeof e.name === 'string' && RESUMABLE_NAMES.has(e.name)) return 'resumable';
  if (typeof e.code === 'number' && RESUMABLE_CODES.has(e.code)) return 'resumable';
  return 'persistent';
}

/**
 * Decides how to reopen a change stream after its `attempt`-th consecutive failure (0 for the first; see
 * {@link failuresBefore} for when the count starts over).
 *
 * - resumable: from the resume token after an exponential back-off (`initialDelayMs · 2^attempt`, at most `maxDelayMs`);
 * - position lost: from now, after the same back-off, logged as an error because changes may have been missed;
 * - persistent: from the resume token after `maxDelayMs`, logged as an error every time.
 *
 * @example
 * ```ts
 * decideResume({ kind: 'error', error: new MongoNetworkError('reset') }, 0); // { from: 'resume-token', delayMs: 100, ... }
 * ```
 */
export function decideResume(failure: StreamFailure, attempt: number, policy: ResumePolicy = DEFAULT_RESUME_POLICY): ResumeDecision {
  const failureClass = classifyStreamFailure(failure);
  const backoff = Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** Math.max(0, Math.min(attempt, 30)));
  switch (failureClass) {
    case 'resumable':
      return { from: 'resume-token', delayMs: backoff, severity: 'warn', failure: failureClass };
    case 'position-lost':
      return { from: 'now', delayMs: backoff, severity: 'error', failure: failureClass };
    case 'persistent':
      return { from: 'resume-token', delayMs: policy.maxDelayMs, severity: 'error', failure: failureClass };
  }
}

/** What a failed stream did between its start and its failure. */
export interface StreamRun {
  /** How long it was up, by the feed's clock. */
  readonly livedMs: number;
  /** Whether it delivered at least one change event. */
  readonly delivered: boolean;
}

/**
 * The number of consecutive failures before this one, which sets the back-off ({@link decideResume}'s `attempt`).
 * The count starts over only when the failed stream had recovered: it delivered a change, or stayed up for
 * `maxDelayMs`. A stream that opens (and receives its first, empty batch) but fails again at once keeps the count
 * climbing, so a flapping stream backs off to `maxDelayMs` instead of reopening every `initialDelayMs` for good.
 *
 * @example
 * ```ts
 * failuresBefore(3, { livedMs: 50, delivered: false });     // 3: back off further
 * failuresBefore(3, { livedMs: 60_000, delivered: false }); // 0: it had recovered
 * ```
 */
export function failuresBefore(previous: number, run: StreamRun, policy: ResumePolicy = DEFAULT_RESUME_POLICY): number {
  return run.delivered || run.livedMs >= policy.maxDelayMs ? 0 : previous;
}

/**
 * Whether a feed that may end (a status feed) stops retrying after this failure and passes it to its subscribers:
 * when the failure is persistent and it is the `maxPersistentFailures`-th consecutive one (`attempt` counts from 0,
 * see {@link failuresBefore}).
 *
 * @example
 * ```ts
 * givesUp({ failure: 'persistent', ... }, 5, DEFAULT_RESUME_POLICY); // true: the 6th consecutive failure
 * givesUp({ failure: 'resumable', ... }, 50, DEFAULT_RESUME_POLICY); // false: transient failures never end a feed
 * ```
 */
export function givesUp(decision: ResumeDecision, attempt: number, policy: ResumePolicy = DEFAULT_RESUME_POLICY): boolean {
  return decision.failure === 'persistent' && attempt + 1 >= policy.maxPersistentFailures;
}

/** Where a change stream starts: the `$changeStream` option to pass. */
export type ResumePoint =
  | { readonly resumeAfter: unknown }
  | { readonly startAfter: unknown }
  | { readonly startAtOperationTime: Timestamp };

/** How a failed change stream is reopened. */
export interface Reopen {
  /** The start point; `'now'` means at a freshly captured operation time. */
  readonly point: ResumePoint | 'now';
  /**
   * True when changes between the failure and the reopen may have been missed (the position was lost): the feed
   * then emits a resync, so workers rescan for work and status subscribers re-read what changed.
   */
  readonly resync: boolean;
}

/**
 * Where to reopen after a decision: after the last resume token when the decision keeps the position and a token
 * is known; at the operation time the feed was opened at when no token came yet (a failure before the first batch
 * loses nothing either); otherwise from now, with a resync.
 *
 * `afterInvalidate`: the stream was started after an invalidate event and has delivered no change since, so the
 * token may be the invalidate event's own. The server refuses `resumeAfter` such a token (it only accepts
 * `startAfter`); resuming with it would lose the position and force a resync for nothing. `startAfter` accepts any
 * token, so it is used then.
 *
 * @example
 * ```ts
 * reopenAt({ from: 'resume-token', ... }, token, openedAt);       // { point: { resumeAfter: token }, resync: false }
 * reopenAt({ from: 'resume-token', ... }, token, openedAt, true); // { point: { startAfter: token }, resync: false }
 * reopenAt({ from: 'resume-token', ... }, undefined, openedAt);   // { point: { startAtOperationTime: openedAt }, resync: false }
 * reopenAt({ from: 'now', ... }, token, openedAt);                // { point: 'now', resync: true }
 * ```
 */
export function reopenAt(decision: ResumeDecision, token: unknown, openedAt: Timestamp | undefined, afterInvalidate = false): Reopen {
  return decision.from === 'resume-token' ? refreshAt(token, openedAt, afterInvalidate) : { point: 'now', resync: true };
}

/**
 * Where a healthy stream is reopened to change its pipeline (a newly watched instance in its `$match`): at
 * {@link currentPoint}, so nothing is missed or delivered twice; when the stream knows no position at all, from now
 * with a resync.
 *
 * The stream knows no position only when it was opened at the server's present (the process knew no
 * majority-committed time) and its `aggregate` has not answered yet (the reply's `postBatchResumeToken` is its first
 * token). Reopening it at the present would skip every change committed between the old stream's start and the new
 * one's: the old stream delivered none of them (it has no token), the new one starts after them, and a watcher whose
 * first read did not see them (a majority read, behind the primary's present) would stay on a stale status for good.
 * Waiting for the old stream's first token would not do either: that token is the primary's present when the server
 * ran the `aggregate`, which can be after what a newly watched instance's first read saw. So the feed reopens as after
 * a lost position: at the operation time known by then (or the present) and re-reads the watched instances.
 *
 * @example
 * ```ts
 * refreshAt(token, openedAt);         // { point: { resumeAfter: token }, resync: false }
 * refreshAt(undefined, openedAt);     // { point: { startAtOperationTime: openedAt }, resync: false }
 * refreshAt(undefined, undefined);    // { point: 'now', resync: true }
 * ```
 */
export function refreshAt(token: unknown, openedAt: Timestamp | undefined, afterInvalidate = false): Reopen {
  const point = currentPoint(token, openedAt, afterInvalidate);
  return point ? { point, resync: false } : { point: 'now', resync: true };
}

/**
 * Where an open stream is now, for reopening it with another pipeline without missing or repeating anything: after
 * its last resume token (`startAfter` while the token may be an invalidate event's, see {@link reopenAt}), else at
 * the operation time it opened at, else (nothing known) the present.
 *
 * @example
 * ```ts
 * currentPoint(token, openedAt);       // { resumeAfter: token }
 * currentPoint(token, openedAt, true); // { startAfter: token }
 * currentPoint(undefined, openedAt);   // { startAtOperationTime: openedAt }
 * ```
 */
export function currentPoint(token: unknown, openedAt: Timestamp | undefined, afterInvalidate = false): ResumePoint | undefined {
  if (token !== undefined && token !== null) return afterInvalidate ? { startAfter: token } : { resumeAfter: token };
  return openedAt ? { startAtOperationTime: openedAt } : undefined;
}

/**
 * The operation time the server refused as a stream's start, learned from a failure, or `undefined`: a failure that
 * loses the position (`decision.failure === 'position-lost'`) of a stream that had no resume token yet, so that was
 * still at `openedAt`, the `startAtOperationTime` it was opened at. The server cannot start there: the oplog no longer
 * holds that time ("If the oplog entry for the time has rolled off, the stream cannot be resumed", MongoDB manual,
 * Change Streams, Resume a Change Stream: ChangeStreamHistoryLost, 286), or an event right after it is too large.
 * A stream opened there again fails the same way: see {@link startFromNow}.
 *
 * @example
 * ```ts
 * refusedStart({ failure: 'position-lost', ... }, undefined, openedAt); // openedAt
 * refusedStart({ failure: 'position-lost', ... }, token, openedAt);     // undefined: it was past its start (its token was lost)
 * refusedStart({ failure: 'resumable', ... }, undefined, openedAt);     // undefined: the start itself was fine
 * ```
 */
export function refusedStart(decision: ResumeDecision, token: unknown, openedAt: Timestamp | undefined): Timestamp | undefined {
  return decision.failure === 'position-lost' && (token === undefined || token === null) ? openedAt : undefined;
}

/**
 * Where a stream opened "from now" starts (after a lost position, or opened by its first subscriber): at `known`, the
 * latest majority-committed time the process knows (a majority read right after subscribing then misses nothing), or
 * at the server's present (`undefined`) when the server already refused a start at or after `known` ({@link
 * refusedStart}). "Now" is the last majority time this process learned, which after a suspension longer than the
 * oplog window, or while the majority reads that move it on a `mongos` keep failing, is older than the oplog: reopening
 * there would fail with ChangeStreamHistoryLost again at every attempt, for good. The resync that follows a lost
 * position (a re-read of what changed since the feed was last healthy) covers what the present start skips.
 *
 * @example
 * ```ts
 * startFromNow(t(100), undefined); // t(100)
 * startFromNow(t(100), t(100));    // undefined: refused there, start at the server's present
 * startFromNow(t(200), t(100));    // t(200): a newer time is known since
 * ```
 */
export function startFromNow(known: Timestamp | undefined, refused: Timestamp | undefined): Timestamp | undefined {
  return known !== undefined && refused !== undefined && compareTimestamps(known, refused) <= 0 ? undefined : known;
}
