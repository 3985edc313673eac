import { Observable, type Subscriber } from 'rxjs';
import type { Clock } from '@durable-rx/runtime';
import { isRetryable, openEventStream, type ReconnectOptions, type StreamedEvent } from './event-stream.js';
import { badResponse, errorFromBody, errorFromResponse, isRecord } from './remote-error.js';

/**
 * The state of a remote client's streaming connection, for UIs that show whether they are live:
 *
 * - `idle`: nothing is watched, no connection is open;
 * - `connecting`: the first connection is being opened;
 * - `live`: connected; every committed change is pushed as it happens;
 * - `reconnecting`: the connection was lost (`error` says why when known: network error, 5xx); it is retried with
 *   backoff, and resumes without losing anything;
 * - `failed`: the server refused the connection for a reason retrying cannot fix (`error`: e.g. 401, a wrong key);
 *   every observable watching through it errored with that error. The next subscription tries again.
 */
export type ConnectionState =
  | { readonly state: 'idle' }
  | { readonly state: 'connecting' }
  | { readonly state: 'live' }
  | { readonly state: 'reconnecting'; readonly error?: Error }
  | { readonly state: 'failed'; readonly error: Error };

/** What one subscription watches (see the server's `POST /streams/{session}/subscriptions`). */
export type WatchSpec =
  | { readonly kind: 'status' | 'history'; readonly instanceId: string }
  | { readonly kind: 'instances'; readonly query: string };

/** One value of a watched stream, and the server session it came in (a new session replays from a snapshot). */
export interface WatchedValue {
  readonly data: unknown;
  readonly session: string;
}

/** Options of {@link StreamMux}. */
export interface StreamMuxOptions {
  /** The webhook root, e.g. `http://127.0.0.1:7071/runtime/webhooks/durabletask`. */
  readonly root: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly fetch: typeof fetch;
  readonly reconnect?: ReconnectOptions | undefined;
  /** Times the reconnect delays. */
  readonly clock?: Clock | undefined;
}

interface Entry {
  readonly spec: WatchSpec;
  readonly subscriber: Subscriber<WatchedValue>;
}

/**
 * All streams of one remote client over one Server-Sent Events session (`GET /streams`), however many instances,
 * lists and histories are watched.
 *
 * The connection opens with the first subscription and closes (deleting the server session) when the last one ends.
 * Subscriptions and unsubscriptions made in the same tick go to the server in one request. The connection reconnects
 * with `Last-Event-ID`: the server resumes the session, so every subscription continues exactly after the last event
 * received. When the server cannot resume (it restarted, the resume window passed), it opens a new session and every
 * active subscription is sent again; each then restarts from the current snapshot, which the client's observables
 * de-duplicate.
 */
export class StreamMux {
  readonly #options: StreamMuxOptions;
  readonly #entries = new Map<string, Entry>();
  #state: ConnectionState = { state: 'idle' };
  readonly #stateWatchers = new Set<Subscriber<ConnectionState>>();
  #nextId = 0;
  /** Stops the open event stream. */
  #connection: (() => void) | undefined;
  #session: string | undefined;
  /** Subscription ids to send (added) or to cancel (removed) on the next flush. */
  #toAdd = new Set<string>();
  #toRemove = new Set<string>();
  #flushing = false;
  #flushScheduled = false;
  #closeTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(options: StreamMuxOptions) {
    this.#options = options;
  }

  /**
   * The connection's state; emits the current state at once, then every change. (What a `BehaviorSubject` does; this
   * keeps rxjs's `Subject` out of the page.)
   */
  readonly state$: Observable<ConnectionState> = new Observable((subscriber) => {
    subscriber.next(this.#state);
    this.#stateWatchers.add(subscriber);
    return () => this.#stateWatchers.delete(subscriber);
  });

  /**
   * Watches `spec` over the shared session: emits each value the server sends for it; completes when the server
   * ends the subscription; errors with the typed error when it fails or the connection is refused.
   */
  watch(spec: WatchSpec): Observable<WatchedValue> {
    return new Observable<WatchedValue>((subscriber) => {
      const id = (++this.#nextId).toString(36);
      this.#entries.set(id, { spec, subscriber });
      clearTimeout(this.#closeTimer);
      this.#open();
      if (this.#session !== undefined) {
        this.#toAdd.add(id);
        this.#scheduleFlush();
      }
      return () => {
        if (!this.#entries.delete(id)) return;
        if (!this.#toAdd.delete(id) && this.#session !== undefined) {
          this.#toRemove.add(id);
          this.#scheduleFlush();
        }
        if (this.#entries.size === 0) {
          // Linger for a tick: a view that re-subscribes at once (a re-render) keeps the connection.
          this.#closeTimer = setTimeout(() => this.#closeIfUnused(), 0);
        }
      };
    });
  }

  #open(): void {
    if (this.#connection) return;
    this.#setState({ state: 'connecting' });
    this.#connection = openEventStream({ ...this.#options, url: `${this.#options.root}/streams` }, {
      event: (event) => this.#onEvent(event),
      retrying: (error) => this.#setState({ state: 'reconnecting', ...(error instanceof Error ? { error } : {}) }),
      end: (error) => this.#fail(error ?? badResponse('The server ended the stream session')),
    });
  }

  #onEvent(event: StreamedEvent): void {
    const data = event.data;
    if (event.event === 'session') {
      const session = isRecord(data) && typeof data.session === 'string' ? data.session : undefined;
      if (session === undefined) return;
      if (session !== this.#session) {
        // A new session (the first, or the server could not resume): (re)send every active subscription.
        this.#session = session;
        this.#toRemove.clear();
        this.#toAdd = new Set(this.#entries.keys());
      }
      this.#setState({ state: 'live' });
      this.#scheduleFlush();
      return;
    }
    if (!isRecord(data) || typeof data.sub !== 'string' || this.#session === undefined) return;
    const entry = this.#entries.get(data.sub);
    if (!entry) return; // unsubscribed meanwhile
    if (event.event === 'close') {
      this.#entries.delete(data.sub);
      if (data.error !== undefined) entry.subscriber.error(errorFromBody(500, data.error));
      else entry.subscriber.complete();
      return;
    }
    entry.subscriber.next({ data: data.data, session: event.session ?? this.#session });
  }

  #setState(state: ConnectionState): void {
    this.#state = state;
    // A copy: a watcher that subscribes while being told gets the new state from the subscription, not twice.
    for (const watcher of [...this.#stateWatchers]) watcher.next(state);
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    queueMicrotask(() => {
      this.#flushScheduled = false;
      void this.#flush();
    });
  }

  /** Sends the pending changes of the current session, one request at a time. */
  async #flush(): Promise<void> {
    const session = this.#session;
    if (this.#flushing || session === undefined || (this.#toAdd.size === 0 && this.#toRemove.size === 0)) return;
    const added = [...this.#toAdd].filter((id) => this.#entries.has(id));
    const removed = [...this.#toRemove];
    this.#toAdd.clear();
    this.#toRemove.clear();
    const subscribe = added.map((sub) => ({ sub, ...this.#entries.get(sub)!.spec }));
    this.#flushing = true;
    try {
      const response = await this.#options.fetch(`${this.#options.root}/streams/${encodeURIComponent(session)}/subscriptions`, {
        method: 'POST',
        headers: { ...this.#options.headers, accept: 'application/json', 'content-type': 'application/json' },
        body: JSON.stringify({ subscribe, unsubscribe: removed }),
        cache: 'no-store',
      });
      if (!response.ok) {
        const error = await errorFromResponse(response);
        if (session !== this.#session) {
          // Sent to a session that has been replaced meanwhile: the new one got every subscription.
        } else if (response.status === 404 || isRetryable(response.status)) {
          // The session is gone (or the server is struggling): start over with a new session.
          this.#restart();
        } else {
          // The server refused the subscriptions themselves (401, 400): they fail with its error.
          for (const sub of added) this.#failEntry(sub, error);
        }
      }
    } catch {
      // Network failure: the connection notices too; a new session resends everything, a resumed one the rest.
      if (session === this.#session) {
        for (const sub of added) if (this.#entries.has(sub)) this.#toAdd.add(sub);
        for (const sub of removed) this.#toRemove.add(sub);
      }
    } finally {
      this.#flushing = false;
    }
    if (this.#toAdd.size > 0 || this.#toRemove.size > 0) this.#scheduleFlush();
  }

  /** Drops the connection and opens a new one without `Last-Event-ID`, so the server starts a new session. */
  #restart(): void {
    this.#drop();
    if (this.#entries.size > 0) this.#open();
  }

  /** Stops the connection, if any, and forgets its session and pending changes; returns the session it had. */
  #drop(): string | undefined {
    this.#connection?.();
    this.#connection = undefined;
    const session = this.#session;
    this.#session = undefined;
    this.#toAdd.clear();
    this.#toRemove.clear();
    return session;
  }

  #failEntry(sub: string, error: Error): void {
    const entry = this.#entries.get(sub);
    if (!entry) return;
    this.#entries.delete(sub);
    entry.subscriber.error(error);
  }

  /** The connection was refused for good: every watcher gets the error. */
  #fail(error: Error): void {
    this.#drop();
    const entries = [...this.#entries.values()];
    this.#entries.clear();
    this.#setState({ state: 'failed', error });
    for (const entry of entries) entry.subscriber.error(error);
  }

  #closeIfUnused(): void {
    if (this.#entries.size > 0 || !this.#connection) return;
    const session = this.#drop();
    this.#setState({ state: 'idle' });
    if (session !== undefined) {
      // Release the server's session now rather than after its resume window. Best effort: it expires anyway.
      this.#options.fetch(`${this.#options.root}/streams/${encodeURIComponent(session)}`, {
        method: 'DELETE', headers: this.#options.headers, cache: 'no-store', keepalive: true,
      }).then((response) => response.body?.cancel(), () => undefined);
    }
  }
}
