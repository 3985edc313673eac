import type { Clock, ClockTimer, Logger } from '@durable-rx/runtime';
import { markShared, timeoutAfter } from '@durable-rx/runtime/store-kit';
import type { ChangeStream, Document, Timestamp } from 'mongodb';
import { Observable, Subject, retry, type Subscription } from 'rxjs';
import { isInvalidation, type ChangeEventLike } from './change-events.js';
import {
  decideResume, failuresBefore, givesUp, refreshAt, refusedStart, reopenAt, startFromNow, type ResumePoint, type ResumePolicy, type StreamFailure,
} from './resume-policy.js';
import { SerialDelivery } from './serial-delivery.js';

/** Settings of a {@link ChangeFeed}. */
export interface ChangeFeedOptions<E extends ChangeEventLike, T> {
  /** Names the feed in log messages. */
  readonly name: string;
  /**
   * Opens a change stream at `point` (none = the server's present). `resumeEvent` is the event whose own resume token
   * `point` resumes after, when it is one (not a high-water token from a drained batch, nor a time): the pipeline must
   * still let that event through. From MongoDB 6.0 the server applies the `$match` to the oplog before it looks for
   * the token, so a `$match` that no longer matches the event cannot find it and fails with ChangeStreamFatalError
   * (280, "the resume token was not found"): a lost position, for no reason.
   */
  readonly watch: (point: ResumePoint | undefined, resumeEvent?: E) => ChangeStream<Document, E>;
  /**
   * Maps an event to what subscribers get; `undefined` drops it. May throw (or reject) for a corrupt event (logged,
   * skipped). May be asynchronous (a lookup): events are still delivered in stream order. Rejects with
   * {@link FeedReadError} when a lookup the event needs kept failing: then neither that event nor any after it is
   * delivered, and the feed ends (see `FeedReadError`).
   */
  readonly map: (event: E) => T | undefined | Promise<T | undefined>;
  /**
   * The latest majority-committed operation time this process knows (from heartbeats, periodic majority reads on a
   * `mongos`, and its own commits; see `ClusterClock`), read synchronously when the first subscriber arrives: the stream starts there, so every change
   * that a read after `subscribe()` returned cannot see yet is delivered, without making any operation wait for the
   * stream to open.
   */
  readonly startTime: () => Timestamp | undefined;
  /**
   * What to emit after the stream had to be reopened "from now" (its position was lost, so changes in between may be
   * missed): for example a re-read of everything changed since `since`, the last moment the feed was known healthy.
   */
  readonly resync: (since: Date) => Observable<T>;
  /**
   * Also emit `resync` at each reopen after a failure that keeps the position (resuming from the token). Such a
   * stream loses nothing once it is back, but while it keeps failing it delivers nothing: the wake-up feed sets this so
   * that workers rescan at every attempt instead of waiting, idle, for a stream that may stay broken for long.
   */
  readonly resyncOnResume?: boolean;
  readonly logger: Logger;
  readonly policy: ResumePolicy;
  /** How long the stream stays open after the last subscriber left (a quick re-subscribe reuses it). */
  readonly lingerMs: number;
  /** Times the linger, the reopen back-off and resync retries, and tells when the feed was last healthy. */
  readonly clock: Clock;
  /**
   * Present on a feed that may end: after `policy.maxPersistentFailures` consecutive failures, the latest of them
   * persistent, the feed stops retrying and its subscribers get `giveUp(error)` as their error (a later subscriber
   * opens a new stream). Absent: the feed retries for as long as it has subscribers.
   */
  readonly giveUp?: (error: unknown) => unknown;
  /**
   * The owner of every stream close the feed starts (a `killCursors`, which driver 7.8 sends with no signal or time
   * limit, held by a server that stopped answering until the pool's monitor interrupts it): the feed waits for none
   * but its own `close()`'s, and MongoStore's `close()` ends or waits for them all (`UnboundedCalls`, 5 s at most). Before, a
   * reopen's, an end's or a last unsubscribe's close went on with no owner, past the store's `close()`.
   */
  readonly hold: (closing: Promise<void>) => void;
}

/**
 * What a feed's `map` rejects with when it could not read what an event needs (a status change's input: its read
 * failed again and again) and must not deliver the event without it: subscribers would see wrong data (an instance
 * whose input vanished). The feed skips no event silently and delivers nothing out of order, so it delivers neither
 * that event nor the events after it, and fails as a feed that fails persistently does: one that may end gives its
 * subscribers `giveUp(cause)` as their error (a new subscriber opens a new stream and reads the current state); one
 * that never ends reopens from now after `policy.maxDelayMs` and emits its `resync` (what changed since it was last
 * healthy, read again).
 */
export class FeedReadError extends Error {
  override readonly name = 'FeedReadError';
}

/**
 * One change stream shared by every subscriber of {@link ChangeFeed.events$}: opened by the first subscription (at the
 * operation time known then), closed `lingerMs` after the last unsubscription (or on `close`). When the stream fails
 * it is reopened after its last resume token, or at its opening time when no token came yet (see
 * `resume-policy.ts`); after an invalidation it starts after the invalidate event. Only when the position is lost is
 * it reopened from now, and then the feed emits the values of `resync`.
 */
export class ChangeFeed<E extends ChangeEventLike, T> {
  /** The mapped events; hot, shared, lazy. Completes on `close`. */
  readonly events$: Observable<T>;

  readonly #o: ChangeFeedOptions<E, T>;
  /** The current subscribers' subject; replaced when the feed gives up (the old one errors). */
  #subject = new Subject<T>();
  #subscribers = 0;
  #stream: ChangeStream<Document, E> | undefined;
  #token: unknown;
  /** The delivered event whose own resume token `#token` is (see `ChangeFeedOptions.watch`); else undefined. */
  #tokenEvent: E | undefined;
  /** The stream started after an invalidate event and delivered no change since: `#token` may be that event's. */
  #afterInvalidate = false;
  #openedAt: Timestamp | undefined;
  /** The latest start time the server refused (`refusedStart`): a stream "from now" never opens at or before it again. */
  #refusedAt: Timestamp | undefined;
  #healthyAt: Date;
  #failures = 0;
  /** When the current stream was started, and whether it delivered a change since (see `failuresBefore`). */
  #startedAtMs = 0;
  #delivered = false;
  #reopenTimer: ClockTimer | undefined;
  #lingerTimer: ClockTimer | undefined;
  #resync: Subscription | undefined;
  /** Maps and emits events in stream order, also when a mapping is asynchronous. */
  readonly #delivery: SerialDelivery<E, T>;
  #refreshQueued = false;
  #closed = false;

  constructor(options: ChangeFeedOptions<E, T>) {
    this.#o = options;
    this.#healthyAt = options.clock.now();
    this.#delivery = new SerialDelivery<E, T>(
      (event) => options.map(event),
      (value) => {
        if (!this.#closed) this.#emit(value);
      },
      (error) => {
        // A read refused because the store is closing is no failure: the closed feed delivers nothing more anyway.
        if (this.#closed) return;
        if (error instanceof FeedReadError) this.#failRead(error);
        else options.logger.error(`${options.name}: a change event could not be read and was not delivered`, error);
      },
    );
    this.events$ = new Observable<T>((subscriber) => {
      if (this.#closed) {
        subscriber.complete();
        return undefined;
      }
      const subject = this.#subject;
      const subscription = subject.subscribe(subscriber);
      if (this.#subscribers++ === 0) {
        if (this.#lingerTimer !== undefined) {
          // Still open from the previous subscribers: keep it.
          this.#o.clock.clearTimeout(this.#lingerTimer);
          this.#lingerTimer = undefined;
        } else {
          this.#open();
        }
      }
      return () => {
        subscription.unsubscribe();
        // A subscriber of a feed that gave up since no longer counts: the feed started over without it.
        if (subject !== this.#subject) return;
        if (--this.#subscribers === 0 && !this.#closed) this.#linger();
      };
    });
  }

  /** True while a change stream is open, lingering or about to be reopened. */
  get isActive(): boolean {
    return this.#stream !== undefined || this.#reopenTimer !== undefined;
  }

  /**
   * Reopens the open stream where it is (after its last resume token, or at its opening time), so that `watch` builds
   * it again — with a changed pipeline, for example. Calls in one tick reopen once; nothing is missed, delivered twice
   * or resynced. A stream that knows no position yet (opened at the server's present, its first reply still awaited)
   * is reopened as after a lost position instead: from the operation time known now (or the present), followed by a
   * `resync` (see `refreshAt`), never from the present alone. That is logged as a warning only when no operation time
   * is known yet: a stream opened at the present may then still miss a commit the resync's majority read did not see.
   */
  refresh(): void {
    if (this.#refreshQueued || this.#stream === undefined) return; // a pending (re)open builds the new pipeline anyway
    this.#refreshQueued = true;
    queueMicrotask(() => {
      this.#refreshQueued = false;
      const stream = this.#stream;
      if (this.#closed || stream === undefined) return;
      // The position as of now, not of the refresh() call: an event the old stream delivered in between (its
      // cursor's own microtask may run first) must not be delivered again after a newer one.
      const reopen = refreshAt(this.#token, this.#openedAt, this.#afterInvalidate);
      if (reopen.point === 'now') {
        // No token and no opening time: the old stream started at the server's present and has not answered. Changes
        // committed since it started could fall between it and a new stream opened at the present; re-read instead.
        // Opened at a majority-committed time known by now, the new stream and the re-read leave no gap (what changed
        // before that time is re-read, what changes after it is delivered): a routine reopen, not worth a warning.
        // Opened at the present, a commit the majority re-read does not see yet can still be missed: warned of.
        if (this.#o.startTime() === undefined) {
          this.#o.logger.warn(
            `${this.#o.name}: reopening a stream that knows no position yet at the present; re-reading what it watches, a commit the re-read does not see yet may be missed`,
          );
        }
        this.#reopen(stream, 'now', 0, true);
        return;
      }
      this.#stream = undefined;
      void this.#closeStream(stream);
      this.#start(reopen.point, this.#resumeEventOf(reopen.point));
    });
  }

  /**
   * Completes `events$` and closes the stream; resolves once the stream's close (a `killCursors`) settled. Idempotent.
   * The subscribers complete at once, not after that close: a server that holds the `killCursors` held them open, past
   * a `MongoStore.close()` that stopped waiting for it.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const stopping = this.#stop(); // timers cleared, the stream detached and its close begun, before its first await
    // A microtask later, as when it followed the stop: a subscriber's complete handler runs once the caller's own
    // synchronous part is over (MongoStore.close has marked itself closed, so a call it makes is refused).
    await Promise.resolve();
    this.#subject.complete();
    await stopping;
  }

  #open(): void {
    this.#token = undefined;
    this.#tokenEvent = undefined;
    this.#afterInvalidate = false;
    this.#failures = 0;
    this.#healthyAt = this.#o.clock.now();
    this.#startFresh();
  }

  /**
   * Opens a stream with no resume token: at the latest operation time known here, or at the server's present when a
   * stream could not start there ({@link startFromNow}).
   */
  #startFresh(): void {
    this.#openedAt = startFromNow(this.#o.startTime(), this.#refusedAt);
    this.#start(this.#openedAt ? { startAtOperationTime: this.#openedAt } : undefined);
  }

  #linger(): void {
    if (this.#o.lingerMs <= 0) {
      void this.#stop();
      return;
    }
    this.#lingerTimer = this.#o.clock.setTimeout(() => {
      this.#lingerTimer = undefined;
      if (this.#subscribers === 0) void this.#stop();
    }, this.#o.lingerMs);
    // A lingering feed never keeps the process alive by itself (Node's timer handles can say so).
    (this.#lingerTimer as { unref?: () => void }).unref?.();
  }

  #start(point: ResumePoint | undefined, resumeEvent?: E): void {
    this.#startedAtMs = this.#o.clock.now().getTime();
    this.#delivered = false;
    let stream: ChangeStream<Document, E>;
    try {
      stream = this.#o.watch(point, resumeEvent);
    } catch (error) {
      this.#fail(undefined, { kind: 'error', error });
      return;
    }
    this.#stream = stream;
    stream.on('resumeTokenChanged', (token) => {
      if (this.#stream !== stream) return;
      this.#token = token;
      // A later position (the next event's token, or a batch's high-water token): the last event no longer anchors it.
      if (this.#tokenEvent !== undefined && !sameToken(token, this.#tokenEvent._id)) this.#tokenEvent = undefined;
      this.#healthy();
    });
    // The driver emits 'error' only in emitter mode, which the feed does not use (see #pump): this listener keeps a
    // stray one from being thrown as an unhandled 'error' event.
    stream.on('error', (error) => {
      if (this.#stream === stream) this.#fail(stream, { kind: 'error', error });
    });
    // No 'close' listener: a ChangeStream re-emits its cursor's 'close', which the cursor emits while cleaning up
    // after any failed aggregate/getMore (before the error is known) and while the driver resumes by itself. A stream
    // the driver gives up on rejects the pump's next().
    this.#pump(stream).catch((error: unknown) => this.#o.logger.error(`${this.#o.name}: the change stream reader stopped`, error));
  }

  /**
   * Reads `stream` with the driver's iterator (`next()`, which resumes by itself after a resumable error, as the
   * emitter does, and rejects when the driver gives up) until it is no longer the feed's stream. Each event is handed
   * to the delivery as it comes; once the batch the driver holds is drained (`bufferedCount()` 0), the pump waits
   * until every event handed over is mapped and delivered before it asks for more, which is what sends the next
   * `getMore`. So at most one batch is being mapped at a time, however slow the mapping's reads (a status event's input
   * look-up) are, and the events of one batch still share their look-ups (`BatchLoader`). In emitter mode (a 'change'
   * listener) the driver reads the cursor as a flowing stream and sends the next `getMore` whatever the listener has
   * done with the previous events, so a burst of commits faster than the look-ups piled up in memory without bound.
   * A stream the feed closed (stop, reopen, refresh) rejects or ends the pending `next()`; that outcome is ignored.
   */
  async #pump(stream: ChangeStream<Document, E>): Promise<void> {
    try {
      while (this.#stream === stream) {
        const event = await stream.next();
        if (this.#stream !== stream) return;
        this.#onChange(stream, event);
        if (stream.bufferedCount() === 0) await this.#delivery.idle();
      }
    } catch (error) {
      if (this.#stream === stream) this.#fail(stream, { kind: 'error', error });
    }
  }

  #onChange(stream: ChangeStream<Document, E>, event: E): void {
    if (this.#stream !== stream) return;
    // The driver's position after this event (it emits resumeTokenChanged first): the batch's high-water token once
    // the batch is drained, which names no event, else the event's own token, which a reopen must be able to find.
    this.#token = stream.resumeToken ?? event._id;
    this.#tokenEvent = sameToken(this.#token, event._id) ? event : undefined;
    this.#delivered = true;
    this.#healthy();
    if (isInvalidation(event)) {
      // The collection/database was dropped or renamed: the server ends this stream. Start a new one right after
      // the invalidate event so changes to a re-created collection are not missed.
      this.#afterInvalidate = true;
      this.#reopen(stream, { startAfter: event._id }, 0, false);
      return;
    }
    this.#afterInvalidate = false;
    this.#delivery.push(event);
  }

  /** The feed's position is current (a token arrived): a resync after a later loss re-reads from here. */
  #healthy(): void {
    this.#healthyAt = this.#o.clock.now();
  }

  #fail(stream: ChangeStream<Document, E> | undefined, failure: StreamFailure): void {
    const run = { livedMs: this.#o.clock.now().getTime() - this.#startedAtMs, delivered: this.#delivered };
    this.#failures = failuresBefore(this.#failures, run, this.#o.policy);
    const decision = decideResume(failure, this.#failures, this.#o.policy);
    if (this.#o.giveUp && givesUp(decision, this.#failures, this.#o.policy)) {
      this.#o.logger.error(
        `${this.#o.name}: change stream failed ${this.#failures + 1} times in a row (${decision.failure}); giving up, its subscribers get the error`,
        failure.error,
      );
      this.#end(stream, this.#o.giveUp(failure.error));
      return;
    }
    this.#failures++;
    const token: unknown = stream?.resumeToken ?? this.#token;
    const reopen = reopenAt(decision, token, this.#openedAt, this.#afterInvalidate);
    const refused = refusedStart(decision, token, this.#openedAt);
    if (refused !== undefined) this.#refusedAt = refused;
    const startsAt = startFromNow(this.#o.startTime(), this.#refusedAt) === undefined && this.#refusedAt !== undefined
      ? ' at the server\u2019s present (the latest operation time known here is one it could not start at)'
      : '';
    const how = reopen.resync
      ? `restarting from now${startsAt} and re-reading what changed since it was last healthy`
      : 'resuming where it stopped';
    const message = `${this.#o.name}: change stream failed (${decision.failure}); ${how} in ${decision.delayMs} ms`;
    if (decision.severity === 'error') this.#o.logger.error(message, failure.error);
    else this.#o.logger.warn(message, failure.error);
    this.#reopen(stream, reopen.point, decision.delayMs, reopen.resync || this.#o.resyncOnResume === true);
  }

  /** A mapping could not read what its event needs (see {@link FeedReadError}): the feed fails without delivering it. */
  #failRead(error: FeedReadError): void {
    this.#delivery.discard(); // the events after it: delivered, they would come before the one that failed
    const stream = this.#stream;
    if (this.#o.giveUp) {
      this.#o.logger.error(`${this.#o.name}: ${error.message}; giving up, its subscribers get the error`, error.cause);
      this.#end(stream, this.#o.giveUp(error.cause));
      return;
    }
    const delayMs = this.#o.policy.maxDelayMs;
    this.#o.logger.error(
      `${this.#o.name}: ${error.message}; restarting from now and re-reading what changed since it was last healthy in ${delayMs} ms`, error.cause,
    );
    if (this.#reopenTimer !== undefined) this.#o.clock.clearTimeout(this.#reopenTimer); // one reopen, this one
    this.#reopenTimer = undefined;
    this.#reopen(stream, 'now', delayMs, true);
  }

  /** The event `point` resumes after by that event's own token (see `ChangeFeedOptions.watch`), if any. */
  #resumeEventOf(point: ResumePoint | 'now' | undefined): E | undefined {
    if (point === undefined || point === 'now' || 'startAtOperationTime' in point) return undefined;
    const token = 'resumeAfter' in point ? point.resumeAfter : point.startAfter;
    return this.#tokenEvent !== undefined && sameToken(token, this.#tokenEvent._id) ? this.#tokenEvent : undefined;
  }

  /**
   * Hands `value` to every subscriber: the same object to each, so a change's state is marked shared first when there
   * are several (`markShared`: each client then copies what its users may change).
   */
  #emit(value: T): void {
    if (this.#subscribers > 1) markShared(value);
    this.#subject.next(value);
  }

  /** Gives up: the current subscribers get `error`; the next subscriber opens a new stream from scratch. */
  #end(stream: ChangeStream<Document, E> | undefined, error: unknown): void {
    this.#stream = undefined;
    if (stream) void this.#closeStream(stream);
    const failed = this.#subject;
    this.#subject = new Subject<T>();
    this.#subscribers = 0;
    void this.#stop(); // clears the timers and the resync at once
    failed.error(error);
  }

  #reopen(stream: ChangeStream<Document, E> | undefined, point: ResumePoint | 'now', delayMs: number, resync: boolean): void {
    this.#stream = undefined;
    if (stream) void this.#closeStream(stream);
    if (this.#closed || (this.#subscribers === 0 && this.#lingerTimer === undefined)) return;
    const since = this.#healthyAt;
    this.#reopenTimer = this.#o.clock.setTimeout(() => {
      this.#reopenTimer = undefined;
      if (this.#closed || (this.#subscribers === 0 && this.#lingerTimer === undefined)) return;
      if (point === 'now') {
        this.#token = undefined;
        this.#tokenEvent = undefined;
        this.#afterInvalidate = false;
        this.#startFresh();
      } else {
        this.#start(point, this.#resumeEventOf(point));
      }
      if (resync) this.#runResync(since);
    }, delayMs);
  }

  /** Emits the feed's resync values; retried after `maxDelayMs` while it fails, until the feed stops. */
  #runResync(since: Date): void {
    this.#resync?.unsubscribe();
    this.#resync = this.#o.resync(since).pipe(
      retry({
        delay: (error: unknown) => {
          this.#o.logger.error(`${this.#o.name}: re-reading after a lost position failed; retrying in ${this.#o.policy.maxDelayMs} ms`, error);
          return timeoutAfter(this.#o.policy.maxDelayMs, this.#o.clock);
        },
      }),
    ).subscribe({
      next: (value) => this.#emit(value),
      error: (error: unknown) => this.#o.logger.error(`${this.#o.name}: re-reading after a lost position failed`, error),
    });
  }

  async #stop(): Promise<void> {
    if (this.#reopenTimer !== undefined) this.#o.clock.clearTimeout(this.#reopenTimer);
    if (this.#lingerTimer !== undefined) this.#o.clock.clearTimeout(this.#lingerTimer);
    this.#reopenTimer = undefined;
    this.#lingerTimer = undefined;
    this.#resync?.unsubscribe();
    this.#resync = undefined;
    const stream = this.#stream;
    this.#stream = undefined;
    if (stream) await this.#closeStream(stream);
  }

  /** Closes `stream`, its failure dropped, and hands the close to its owner (`hold`). */
  #closeStream(stream: ChangeStream<Document, E>): Promise<void> {
    const closing = stream.close().catch(() => undefined);
    this.#o.hold(closing);
    return closing;
  }
}


/** Whether two resume tokens are the same position: the same object, or the same `_data` (the driver's own copies). */
function sameToken(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  const dataOf = (token: unknown) => (typeof token === 'object' && token !== null ? (token as { _data?: unknown })._data : undefined);
  const data = dataOf(a);
  return typeof data === 'string' && data === dataOf(b);
}
