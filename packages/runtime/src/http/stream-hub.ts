import type { Observable, Subscription } from 'rxjs';
import type { Clock, ClockTimer } from '../env/clock.js';

/** A message a stream source produces: an SSE `event` name and its `data` (one line of JSON). */
export interface StreamMessage {
  readonly event: string;
  readonly data: string;
  /** The last message of the stream (an error, or the source completed): the connection ends after it. */
  readonly final?: boolean;
}

/** A message numbered by its session; `id` (`<session>.<seq>`) is the SSE event id. */
export interface StreamEvent extends StreamMessage {
  readonly id: string;
  readonly seq: number;
}

/** Where a session delivers its events: one HTTP response (see `SseConnection`). */
export interface StreamSink {
  /** Queues an event; events are written in the order they are sent. */
  send(event: StreamEvent): void;
  /** Ends the response once the queued events are written. */
  end(): void;
}

/** Options of {@link StreamHub}. */
export interface StreamHubOptions {
  /** How long a session outlives its connection, waiting for the client to resume it. */
  readonly resumeWindowMs: number;
  /** How many of the latest events a session keeps for replay. */
  readonly bufferSize: number;
  /** Most sessions (connected or waiting to be resumed) at once. */
  readonly maxSessions: number;
  /** Turns a source error into the final message of the stream. */
  readonly errorMessage: (error: unknown) => StreamMessage;
  /** Where the resume windows are timed (the handler's injected clock). */
  readonly clock: Clock;
}

/** Why {@link StreamHub.connect} refused a stream. */
export type StreamRefusal = 'closed' | 'full';

/**
 * Resumable Server-Sent Event streams over observables.
 *
 * ## Event ids and `Last-Event-ID`
 *
 * `InstanceStatus` carries no commit version, and the store keeps only the latest status, so a snapshot that a
 * client missed cannot be re-read later. The hub therefore numbers what a stream delivers: every stream is a
 * **session** that owns the subscription to its source (e.g. `client.status$(id)`), numbers each emission
 * (`<sessionId>.<seq>`, `seq` = 1, 2, 3 …, monotonic per session) and keeps the last `bufferSize` events.
 *
 * When a connection goes away (the client left, a proxy or the server dropped it) the session stays subscribed
 * for `resumeWindowMs`, still numbering and buffering what its source emits. A reconnect whose `Last-Event-ID` names
 * the session (and the same stream) gets exactly the events after `seq`, then the live ones: nothing is lost and
 * nothing is sent twice. A reconnect that arrives while the old connection still looks open takes the session over.
 *
 * When the session cannot be resumed — unknown id (the server restarted), the window passed, or more than
 * `bufferSize` events happened meanwhile — the client gets a new session that starts, like any subscription, with
 * the current snapshot. A client sees the session part of the ids change and can de-duplicate (the remote client
 * drops a snapshot equal to the last one it delivered, and skips the replayed prefix of a history stream); values
 * committed and overwritten during such a gap cannot be recovered from the store and are not delivered.
 */
export class StreamHub {
  readonly #options: StreamHubOptions;
  readonly #sessions = new Map<string, Session>();
  #closed = false;

  constructor(options: StreamHubOptions) {
    this.#options = options;
  }

  /** Number of live sessions (connected or resumable). */
  get size(): number {
    return this.#sessions.size;
  }

  /** Why a new stream would be refused now, if it would. */
  refusal(): StreamRefusal | undefined {
    if (this.#closed) return 'closed';
    return this.#sessions.size >= this.#options.maxSessions ? 'full' : undefined;
  }

  /**
   * Delivers the stream `key` to `sink`: resumes the session named by `lastEventId` when it is the same stream and
   * has every event after it, otherwise starts a new session subscribed to `source()`. Returns the function to call
   * when the sink's connection is gone.
   */
  connect(key: string, source: () => Observable<StreamMessage>, lastEventId: string | undefined, sink: StreamSink): () => void {
    if (this.#closed) {
      sink.end();
      return () => {};
    }
    const session = this.#resume(key, lastEventId, sink) ?? this.#start(key, source, sink);
    return () => this.#detach(session, sink);
  }

  /** Ends every connection and drops every session. */
  close(): void {
    this.#closed = true;
    for (const session of [...this.#sessions.values()]) {
      session.sink?.end();
      this.#dispose(session);
    }
  }

  #resume(key: string, lastEventId: string | undefined, sink: StreamSink): Session | undefined {
    const position = parseEventId(lastEventId);
    if (!position) return undefined;
    const session = this.#sessions.get(position.sessionId);
    if (!session || session.key !== key) return undefined;
    if (!session.canResumeAfter(position.seq)) {
      if (!session.sink) this.#dispose(session); // nobody can resume it any more
      return undefined;
    }
    this.#clearExpiry(session);
    const previous = session.sink;
    session.sink = sink;
    previous?.end();
    for (const event of session.buffer) if (event.seq > position.seq) sink.send(event);
    if (session.ended) sink.end();
    return session;
  }

  #start(key: string, source: () => Observable<StreamMessage>, sink: StreamSink): Session {
    const session = new Session(key, this.#options.bufferSize);
    session.sink = sink;
    this.#sessions.set(session.id, session);
    const push = (message: StreamMessage) => {
      if (!session.ended) session.push(message);
    };
    session.subscription = source().subscribe({
      next: push,
      error: (error: unknown) => push({ ...this.#options.errorMessage(error), final: true }),
      complete: () => push({ event: 'end', data: 'null', final: true }),
    });
    if (session.ended) session.subscription.unsubscribe();
    return session;
  }

  #detach(session: Session, sink: StreamSink): void {
    if (session.sink !== sink) return; // taken over by a newer connection
    session.sink = undefined;
    if (!this.#sessions.has(session.id)) return;
    session.expiry = this.#options.clock.setTimeout(() => this.#dispose(session), this.#options.resumeWindowMs);
    unref(session.expiry);
  }

  #clearExpiry(session: Session): void {
    if (session.expiry !== undefined) this.#options.clock.clearTimeout(session.expiry);
    session.expiry = undefined;
  }

  #dispose(session: Session): void {
    this.#clearExpiry(session);
    session.subscription?.unsubscribe();
    session.sink = undefined;
    this.#sessions.delete(session.id);
  }
}

class Session {
  readonly id = crypto.randomUUID();
  readonly buffer: StreamEvent[] = [];
  sink: StreamSink | undefined;
  subscription: Subscription | undefined;
  expiry: ClockTimer | undefined;
  ended = false;
  #seq = 0;

  constructor(
    readonly key: string,
    readonly bufferSize: number,
  ) {}

  push(message: StreamMessage): void {
    const seq = ++this.#seq;
    const event: StreamEvent = { ...message, seq, id: `${this.id}.${seq}` };
    this.buffer.push(event);
    if (this.buffer.length > this.bufferSize) this.buffer.shift();
    this.sink?.send(event);
    if (message.final) {
      this.ended = true;
      this.subscription?.unsubscribe();
      this.sink?.end();
    }
  }

  /** True when every event after `seq` is still buffered. */
  canResumeAfter(seq: number): boolean {
    if (seq > this.#seq) return false;
    const oldest = this.buffer[0];
    return oldest === undefined ? seq === this.#seq : seq >= oldest.seq - 1;
  }
}

const EVENT_ID = /^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\.(\d{1,15})$/;

function parseEventId(value: string | undefined): { sessionId: string; seq: number } | undefined {
  const match = value === undefined ? null : EVENT_ID.exec(value.trim());
  return match ? { sessionId: match[1]!, seq: Number(match[2]) } : undefined;
}

/**
 * Lets a process exit while a timer is pending, where the platform's timer handle supports it (Node, Deno); a no-op
 * for other handles (a browser's numbers, a `VirtualClock`'s ids).
 */
export function unref(timer: ClockTimer): void {
  const handle = timer as unknown as { unref?: () => void };
  if (typeof handle === 'object' && handle !== null && typeof handle.unref === 'function') handle.unref();
}
