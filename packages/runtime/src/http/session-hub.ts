import type { Observable, Subscription } from 'rxjs';
import type { Clock, ClockTimer } from '../env/clock.js';
import { InvalidArgumentError } from '../model/errors/invalid-argument-error.js';
import type { ErrorBody } from './error-response.js';
import { unref, type StreamEvent, type StreamSink } from './stream-hub.js';

/** Options of {@link SessionHub}. */
export interface SessionHubOptions {
  /** How long a session outlives its connection, waiting for the client to resume it. */
  readonly resumeWindowMs: number;
  /** How many of the latest events a session keeps for replay (all its subscriptions together). */
  readonly bufferSize: number;
  /** Most subscriptions one session may hold. */
  readonly maxSubscriptions: number;
  /** Turns a subscription's source error into the body of its `close` event. */
  readonly errorBody: (error: unknown) => ErrorBody;
  /** Where the resume windows are timed (the handler's injected clock). */
  readonly clock: Clock;
}

/** A session and the function to call when the connection it was opened on is gone. */
export interface OpenedSession {
  readonly session: StreamSession;
  readonly detach: () => void;
}

/** Most subscriptions one session holds by default. */
export const DEFAULT_MAX_SUBSCRIPTIONS_PER_SESSION = 1000;

/**
 * Multiplexed, resumable Server-Sent Event sessions: one connection carries any number of subscriptions.
 *
 * A client opens a session with `GET /streams`; the first event, `session`, names it. Subscriptions are added and
 * removed by separate requests that name the session (`POST /streams/{session}/subscriptions`); every value a
 * subscription's source emits becomes one event of the session, numbered `<session>.<seq>` (`seq` = 1, 2, 3 …
 * across all subscriptions of the session), its data `{ "sub": "<subscription>", "data": <value> }`. A subscription
 * whose source completes or fails gets a last `close` event (`{ "sub", "error"? }`).
 *
 * Like the single streams of `StreamHub`, a session outlives its connection for `resumeWindowMs`, still numbering and
 * buffering the last `bufferSize` events of all its subscriptions. A reconnect whose `Last-Event-ID` names the
 * session gets exactly the events after it, then the live ones: nothing lost, nothing repeated, for every
 * subscription at once. When that is impossible (the server restarted, the window passed, the buffer overflowed),
 * the reconnect gets a new, empty session (its `session` event names it), and the client subscribes again: each
 * subscription then starts, like any subscription, from the current snapshot.
 *
 * A session that loses its connection and is not resumed within the window is disposed: every subscription is
 * unsubscribed. `delete` does it at once (a client that stops watching says so).
 */
export class SessionHub {
  readonly #options: SessionHubOptions;
  readonly #sessions = new Map<string, StreamSession>();
  #closed = false;

  constructor(options: SessionHubOptions) {
    this.#options = options;
  }

  /** Number of live sessions (connected or resumable). */
  get size(): number {
    return this.#sessions.size;
  }

  /** Whether {@link SessionHub.close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** The session named `id`, if it is live. */
  get(id: string): StreamSession | undefined {
    return this.#sessions.get(id);
  }

  /**
   * Delivers a session to `sink`: the one named by `lastEventId` when it has every event after it, otherwise a new
   * one. The sink first gets the `session` event, then the events after `lastEventId`, then live events.
   */
  open(lastEventId: string | undefined, sink: StreamSink): OpenedSession {
    const position = parseEventId(lastEventId);
    let session = position ? this.#sessions.get(position.sessionId) : undefined;
    let after = 0;
    if (session && position && session.canResumeAfter(position.seq)) {
      after = position.seq;
    } else {
      if (session && !session.sink) this.#dispose(session); // nobody can resume it any more
      session = new StreamSession(this.#options);
      this.#sessions.set(session.id, session);
    }
    this.#clearExpiry(session);
    session.attach(sink, after);
    const opened = session;
    return { session: opened, detach: () => this.#detach(opened, sink) };
  }

  /** Disposes the session named `id` at once (its connection ends). Returns whether it existed. */
  delete(id: string): boolean {
    const session = this.#sessions.get(id);
    if (!session) return false;
    session.sink?.end();
    this.#dispose(session);
    return true;
  }

  /** Ends every connection and drops every session. */
  close(): void {
    this.#closed = true;
    for (const session of [...this.#sessions.values()]) {
      session.sink?.end();
      this.#dispose(session);
    }
  }

  #detach(session: StreamSession, sink: StreamSink): void {
    if (session.sink !== sink) return; // taken over by a newer connection
    session.sink = undefined;
    if (!this.#sessions.has(session.id)) return;
    session.expiry = this.#options.clock.setTimeout(() => this.#dispose(session), this.#options.resumeWindowMs);
    unref(session.expiry);
  }

  #clearExpiry(session: StreamSession): void {
    if (session.expiry !== undefined) this.#options.clock.clearTimeout(session.expiry);
    session.expiry = undefined;
  }

  #dispose(session: StreamSession): void {
    this.#clearExpiry(session);
    session.dispose();
    this.#sessions.delete(session.id);
  }
}

/** One session of a {@link SessionHub}: its subscriptions, its numbered events and the connection it writes to. */
export class StreamSession {
  readonly id = crypto.randomUUID();
  sink: StreamSink | undefined;
  expiry: ClockTimer | undefined;
  readonly #options: SessionHubOptions;
  readonly #buffer: StreamEvent[] = [];
  readonly #subscriptions = new Map<string, Subscription | undefined>();
  #seq = 0;
  #disposed = false;

  constructor(options: SessionHubOptions) {
    this.#options = options;
  }

  /** Whether subscription `sub` is active. */
  has(sub: string): boolean {
    return this.#subscriptions.has(sub);
  }

  /** Number of active subscriptions. */
  get subscriptionCount(): number {
    return this.#subscriptions.size;
  }

  /**
   * Subscribes to `source`; each value becomes an `event` of the session for subscription `sub`. Throws
   * `InvalidArgumentError` when `sub` is already active or the session holds `maxSubscriptions`.
   */
  subscribe(sub: string, event: string, source: Observable<unknown>): void {
    if (this.#disposed) return;
    if (this.#subscriptions.has(sub)) throw new InvalidArgumentError(`Subscription ${JSON.stringify(sub)} is already active`);
    if (this.#subscriptions.size >= this.#options.maxSubscriptions) {
      throw new InvalidArgumentError(`A session holds at most ${this.#options.maxSubscriptions} subscriptions`);
    }
    this.#subscriptions.set(sub, undefined);
    const close = (error?: ErrorBody) => {
      if (!this.#subscriptions.has(sub)) return;
      this.#subscriptions.delete(sub);
      this.#push('close', { sub, ...(error ? { error } : {}) });
    };
    const subscription = source.subscribe({
      next: (value) => {
        if (this.#subscriptions.has(sub)) this.#push(event, { sub, data: value });
      },
      error: (error: unknown) => close(this.#options.errorBody(error)),
      complete: () => close(),
    });
    if (this.#subscriptions.has(sub)) this.#subscriptions.set(sub, subscription);
  }

  /** Ends subscription `sub`, if active; no `close` event follows (the client asked). */
  unsubscribe(sub: string): void {
    const subscription = this.#subscriptions.get(sub);
    this.#subscriptions.delete(sub);
    subscription?.unsubscribe();
  }

  /** Makes `sink` the session's connection: the `session` event, the buffered events after `after`, then live ones. */
  attach(sink: StreamSink, after: number): void {
    const previous = this.sink;
    this.sink = sink;
    previous?.end();
    sink.send({ event: 'session', data: JSON.stringify({ session: this.id }), seq: after, id: `${this.id}.${after}` });
    for (const event of this.#buffer) if (event.seq > after) sink.send(event);
  }

  /** True when every event after `seq` is still buffered. */
  canResumeAfter(seq: number): boolean {
    if (seq > this.#seq) return false;
    const oldest = this.#buffer[0];
    return oldest === undefined ? seq === this.#seq : seq >= oldest.seq - 1;
  }

  dispose(): void {
    this.#disposed = true;
    this.sink = undefined;
    const subscriptions = [...this.#subscriptions.values()];
    this.#subscriptions.clear();
    for (const subscription of subscriptions) subscription?.unsubscribe();
  }

  #push(event: string, value: unknown): void {
    if (this.#disposed) return;
    const seq = ++this.#seq;
    const message: StreamEvent = { event, data: JSON.stringify(value), seq, id: `${this.id}.${seq}` };
    this.#buffer.push(message);
    if (this.#buffer.length > this.#options.bufferSize) this.#buffer.shift();
    this.sink?.send(message);
  }
}

const EVENT_ID = /^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\.(\d{1,15})$/;

function parseEventId(value: string | undefined): { sessionId: string; seq: number } | undefined {
  const match = value === undefined ? null : EVENT_ID.exec(value.trim());
  return match ? { sessionId: match[1]!, seq: Number(match[2]) } : undefined;
}
