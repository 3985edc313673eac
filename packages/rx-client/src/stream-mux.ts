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

/** Options of {@link createStreamMux}. */
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
  /** Told when the watch ends: `complete` when the server ends it, `error` with the typed error when it fails. */
  readonly subscriber: Subscriber<never>;
  /** Each value; a throw errors the watch. */
  readonly next: (value: WatchedValue) => void;
}

/** A remote client's streams over one connection (see {@link createStreamMux}). */
export interface StreamMux {
  /**
   * The connection's state; emits the current state at once, then every change. (What a `BehaviorSubject` does; this
   * keeps rxjs's `Subject` out of the page.)
   */
  readonly state$: Observable<ConnectionState>;
  /**
   * Watches `spec` over the shared session for the subscriber of an Observable: `next` gets each value the server
   * sends for it (a throw errors the subscriber); the subscriber completes when the server ends the subscription and
   * errors with the typed error when it fails or the connection is refused. Returns the teardown that stops watching.
   * (No Observable of its own: the client's observable is the only subscriber, so it is told directly.)
   */
  watch(spec: WatchSpec, subscriber: Subscriber<never>, next: (value: WatchedValue) => void): () => void;
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
 *
 * A closure rather than a class: its state is local variables, which a minifier shortens (private fields it cannot).
 */
export function createStreamMux(options: StreamMuxOptions): StreamMux {
  const { root, headers, fetch } = options;
  const entries = new Map<string, Entry>();
  let state: ConnectionState = { state: 'idle' };
  const stateWatchers = new Set<Subscriber<ConnectionState>>();
  let nextId = 0;
  /** Stops the open event stream. */
  let connection: (() => void) | undefined;
  let session: string | undefined;
  /** Subscription ids to send (added) or to cancel (removed) on the next flush. */
  let toAdd = new Set<string>();
  const toRemove = new Set<string>();
  let flushing = false;
  let flushScheduled = false;
  let closeTimer: ReturnType<typeof setTimeout> | undefined;

  const open = (): void => {
    if (connection) return;
    setState({ state: 'connecting' });
    connection = openEventStream({ ...options, url: `${root}/streams` }, {
      event: onEvent,
      retrying: (error) => setState({ state: 'reconnecting', ...(error instanceof Error ? { error } : {}) }),
      end: (error) => fail(error ?? badResponse('The stream session ended')),
    });
  };

  const onEvent = ({ event, data }: StreamedEvent): void => {
    if (!isRecord(data)) return;
    if (event === 'session') {
      const next = data.session;
      if (typeof next !== 'string') return;
      if (next !== session) {
        // A new session (the first, or the server could not resume): (re)send every active subscription.
        session = next;
        toRemove.clear();
        toAdd = new Set(entries.keys());
      }
      setState({ state: 'live' });
      scheduleFlush();
      return;
    }
    const sub = data.sub as string;
    if (session === undefined) return;
    if (event === 'close') return end(sub, data.error === undefined ? undefined : errorFromBody(500, data.error));
    const entry = entries.get(sub);
    if (!entry) return; // unsubscribed meanwhile (or not a subscription's event)
    try {
      // Every connection starts with its `session` event, so `session` is the one these events came in.
      entry.next({ data: data.data, session: session! });
    } catch (error) {
      entry.subscriber.error(error);
    }
  };

  const setState = (next: ConnectionState): void => {
    state = next;
    // A copy: a watcher that subscribes while being told gets the new state from the subscription, not twice.
    for (const watcher of [...stateWatchers]) watcher.next(next);
  };

  const scheduleFlush = (): void => {
    if (flushScheduled) return;
    flushScheduled = true;
    queueMicrotask(() => {
      flushScheduled = false;
      void flush();
    });
  };

  /** Sends the pending changes of the current session, one request at a time. */
  const flush = async (): Promise<void> => {
    const sent = session;
    if (flushing || sent === undefined || (toAdd.size === 0 && toRemove.size === 0)) return;
    const added = [...toAdd].filter((id) => entries.has(id));
    const removed = [...toRemove];
    toAdd.clear();
    toRemove.clear();
    const subscribe = added.map((sub) => ({ sub, ...entries.get(sub)!.spec }));
    flushing = true;
    try {
      const response = await fetch(`${root}/streams/${encodeURIComponent(sent)}/subscriptions`, {
        method: 'POST',
        headers: { ...headers, accept: 'application/json', 'content-type': 'application/json' },
        body: JSON.stringify({ subscribe, unsubscribe: removed }),
        cache: 'no-store',
      });
      if (!response.ok) {
        const error = await errorFromResponse(response);
        if (sent !== session) {
          // Sent to a session that has been replaced meanwhile: the new one got every subscription.
        } else if (response.status === 404 || isRetryable(response.status)) {
          // The session is gone (or the server is struggling): start over with a new session.
          restart();
        } else {
          // The server refused the subscriptions themselves (401, 400): they fail with its error.
          for (const sub of added) end(sub, error);
        }
      }
    } catch {
      // Network failure: the connection notices too; a new session resends everything, a resumed one the rest.
      if (sent === session) {
        for (const sub of added) if (entries.has(sub)) toAdd.add(sub);
        for (const sub of removed) toRemove.add(sub);
      }
    } finally {
      flushing = false;
    }
    if (toAdd.size > 0 || toRemove.size > 0) scheduleFlush();
  };

  /** Drops the connection and opens a new one without `Last-Event-ID`, so the server starts a new session. */
  const restart = (): void => {
    drop();
    if (entries.size > 0) open();
  };

  /** Stops the connection, if any, and forgets its session and pending changes; returns the session it had. */
  const drop = (): string | undefined => {
    connection?.();
    connection = undefined;
    const had = session;
    session = undefined;
    toAdd.clear();
    toRemove.clear();
    return had;
  };

  /** Ends watch `sub` if it is still watched: errors it with `error`, or completes it without one. */
  const end = (sub: string, error?: Error): void => {
    const entry = entries.get(sub);
    if (!entry) return;
    forget(sub);
    if (error) entry.subscriber.error(error);
    else entry.subscriber.complete();
  };

  /** The connection was refused for good: every watcher gets the error. */
  const fail = (error: Error): void => {
    drop();
    const failed = [...entries.values()];
    entries.clear();
    setState({ state: 'failed', error });
    for (const entry of failed) entry.subscriber.error(error);
  };

  /**
   * Forgets watch `id`, however it ended (unsubscribed, or ended or failed by the server); returns whether it was
   * watched. When it was the last, the connection closes after a tick: a view that re-subscribes at once (a
   * re-render) keeps it.
   */
  const forget = (id: string): boolean => {
    if (!entries.delete(id)) return false;
    if (entries.size === 0) closeTimer = setTimeout(closeIfUnused, 0);
    return true;
  };

  const closeIfUnused = (): void => {
    if (entries.size > 0 || !connection) return;
    const had = drop();
    setState({ state: 'idle' });
    if (had !== undefined) {
      // Release the server's session now rather than after its resume window. Best effort: it expires anyway.
      fetch(`${root}/streams/${encodeURIComponent(had)}`, {
        method: 'DELETE', headers, cache: 'no-store', keepalive: true,
      }).then((response) => response.body?.cancel(), () => undefined);
    }
  };

  return {
    state$: new Observable((subscriber) => {
      subscriber.next(state);
      stateWatchers.add(subscriber);
      return () => stateWatchers.delete(subscriber);
    }),
    watch: (spec, subscriber, next) => {
      const id = (++nextId).toString(36);
      entries.set(id, { spec, subscriber, next });
      clearTimeout(closeTimer);
      open();
      if (session !== undefined) {
        toAdd.add(id);
        scheduleFlush();
      }
      return () => {
        if (!forget(id)) return;
        if (!toAdd.delete(id) && session !== undefined) {
          toRemove.add(id);
          scheduleFlush();
        }
      };
    },
  };
}
