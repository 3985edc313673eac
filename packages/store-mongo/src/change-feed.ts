import type { Logger } from '@durable-rx/runtime';
import type { ChangeStream, Document } from 'mongodb';
import { Observable, Subject } from 'rxjs';
import { isInvalidation, type ChangeEventLike } from './change-events.js';
import { decideResume, resumePointFor, type ResumePoint, type ResumePolicy, type StreamFailure } from './resume-policy.js';

/** Settings of a {@link ChangeFeed}. */
export interface ChangeFeedOptions<E extends ChangeEventLike, T> {
  /** Names the feed in log messages. */
  readonly name: string;
  /** Opens a change stream at `point` (none = from now). */
  readonly watch: (point: ResumePoint) => ChangeStream<Document, E>;
  /** Maps an event to what subscribers get; `undefined` drops it. May throw for a corrupt event (logged, skipped). */
  readonly map: (event: E) => T | undefined;
  readonly logger: Logger;
  readonly policy: ResumePolicy;
  /** Longest time {@link ChangeFeed.ready} waits for a stream to open. */
  readonly readyTimeoutMs: number;
}

interface Gate {
  readonly promise: Promise<void>;
  readonly open: () => void;
  readonly timer: ReturnType<typeof setTimeout>;
}

/**
 * One change stream shared by every subscriber of {@link ChangeFeed.events$}: opened by the first subscription,
 * closed by the last unsubscription (or `close`). When the stream fails it is reopened after its last resume token
 * (see `resume-policy.ts`); after an invalidation it starts after the invalidate event.
 *
 * {@link ChangeFeed.ready} resolves once a freshly opened stream has its starting position on the server. Store
 * operations wait for it, so a change committed after `subscribe()` returned is never missed by that subscriber.
 */
export class ChangeFeed<E extends ChangeEventLike, T> {
  /** The mapped events; hot, shared, lazy. Completes on `close`. */
  readonly events$: Observable<T>;

  readonly #o: ChangeFeedOptions<E, T>;
  readonly #subject = new Subject<T>();
  #subscribers = 0;
  #stream: ChangeStream<Document, E> | undefined;
  #token: unknown;
  #failures = 0;
  #reopenTimer: ReturnType<typeof setTimeout> | undefined;
  #gate: Gate | undefined;
  #closed = false;

  constructor(options: ChangeFeedOptions<E, T>) {
    this.#o = options;
    this.events$ = new Observable<T>((subscriber) => {
      if (this.#closed) {
        subscriber.complete();
        return undefined;
      }
      const subscription = this.#subject.subscribe(subscriber);
      if (this.#subscribers++ === 0) this.#open();
      return () => {
        subscription.unsubscribe();
        if (--this.#subscribers === 0 && !this.#closed) void this.#stop();
      };
    });
  }

  /** True while a change stream is open or about to be reopened. */
  get isActive(): boolean {
    return this.#stream !== undefined || this.#reopenTimer !== undefined;
  }

  /** Resolves when no freshly opened stream is still waiting for its starting position. */
  ready(): Promise<void> {
    return this.#gate?.promise ?? Promise.resolve();
  }

  /** Closes the stream and completes `events$`. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#stop();
    this.#subject.complete();
  }

  #open(): void {
    this.#token = undefined;
    this.#failures = 0;
    this.#closeGate();
    this.#start(undefined);
  }

  #start(point: ResumePoint): void {
    let stream: ChangeStream<Document, E>;
    try {
      stream = this.#o.watch(point);
    } catch (error) {
      this.#fail(undefined, { kind: 'error', error });
      return;
    }
    this.#stream = stream;
    stream.on('resumeTokenChanged', (token) => {
      if (this.#stream !== stream) return;
      this.#token = token;
      this.#healthy();
    });
    stream.on('error', (error) => {
      if (this.#stream === stream) this.#fail(stream, { kind: 'error', error });
    });
    // No 'close' listener: a ChangeStream re-emits its cursor's 'close', which the cursor emits while cleaning up
    // after any failed aggregate/getMore (before the error is known) and while the driver resumes by itself.
    // Reacting to it classified every failure as resumable (a lost resume position then looped forever) and defeated
    // the driver's own resume. A stream the driver gives up on always emits 'error'.
    // Attaching the `change` listener starts the stream (the driver opens the cursor in flowing mode).
    stream.on('change', (event: E) => this.#onChange(stream, event));
  }

  #onChange(stream: ChangeStream<Document, E>, event: E): void {
    if (this.#stream !== stream) return;
    this.#token = event._id;
    this.#healthy();
    if (isInvalidation(event)) {
      // The collection/database was dropped or renamed: the server ends this stream. Start a new one right after
      // the invalidate event so changes to a re-created collection are not missed.
      this.#reopen(stream, { startAfter: event._id }, 0);
      return;
    }
    let value: T | undefined;
    try {
      value = this.#o.map(event);
    } catch (error) {
      this.#o.logger.error(`${this.#o.name}: a change event could not be read and was not delivered`, error);
      return;
    }
    if (value !== undefined) this.#subject.next(value);
  }

  #healthy(): void {
    this.#failures = 0;
    this.#openGate();
  }

  #fail(stream: ChangeStream<Document, E> | undefined, failure: StreamFailure): void {
    const decision = decideResume(failure, this.#failures++, this.#o.policy);
    const token: unknown = stream?.resumeToken ?? this.#token;
    const point = resumePointFor(decision, token);
    const how = point ? 'resuming from its last resume token' : 'restarting from now; changes committed meanwhile may be missed';
    const message = `${this.#o.name}: change stream failed (${decision.failure}); ${how} in ${decision.delayMs} ms`;
    const details = failure.error;
    if (decision.severity === 'error') this.#o.logger.error(message, details);
    else this.#o.logger.warn(message, details);
    // Operations waiting for the first position must not hang on a failing server; they fail on their own.
    this.#openGate();
    this.#reopen(stream, point, decision.delayMs);
  }

  #reopen(stream: ChangeStream<Document, E> | undefined, point: ResumePoint, delayMs: number): void {
    this.#stream = undefined;
    if (stream) void stream.close().catch(() => undefined);
    if (this.#closed || this.#subscribers === 0) return;
    this.#reopenTimer = setTimeout(() => {
      this.#reopenTimer = undefined;
      if (!this.#closed && this.#subscribers > 0) this.#start(point);
    }, delayMs);
  }

  async #stop(): Promise<void> {
    if (this.#reopenTimer !== undefined) clearTimeout(this.#reopenTimer);
    this.#reopenTimer = undefined;
    this.#openGate();
    const stream = this.#stream;
    this.#stream = undefined;
    if (stream) await stream.close().catch(() => undefined);
  }

  #closeGate(): void {
    this.#openGate();
    let open!: () => void;
    const promise = new Promise<void>((resolve) => (open = resolve));
    const timer = setTimeout(() => this.#openGate(), this.#o.readyTimeoutMs);
    this.#gate = { promise, open, timer };
  }

  #openGate(): void {
    const gate = this.#gate;
    if (!gate) return;
    this.#gate = undefined;
    clearTimeout(gate.timer);
    gate.open();
  }
}
