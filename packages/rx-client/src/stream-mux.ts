import { Observable, type Subscriber } from 'rxjs';
import { systemClock, type Clock } from '@durable-rx/runtime';
import { armTimeout } from '@durable-rx/runtime/client-kit';
import { badResponse, errorFromBody, errorFromResponse, isRecord } from './remote-error.js';
import { sseParser, type SseMessage } from './sse-parser.js';

/** How the event stream reconnects. */
export interface ReconnectOptions {
  /** Delay before the first reconnect when the server sent no `retry` hint. Default 1000 ms. */
  readonly initialDelayMs?: number;
  /** Upper bound of the delay, which doubles on each consecutive failure. Default 30 s. */
  readonly maxDelayMs?: number;
}

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
 * The stream is read over `fetch` (so it can send `Authorization` headers, which `EventSource` cannot) and parsed
 * with {@link sseParser}. When it ends or fails, it reconnects (after the server's `retry` hint, doubling on
 * consecutive failures up to `maxDelayMs`); an answer that retrying cannot fix (4xx other than 408/429, not an event
 * stream), an `error` event or an `end` event fails every watch instead.
 *
 * A closure rather than a class: its state is local variables, which a minifier shortens (private fields it cannot).
 */
export function createStreamMux(options: StreamMuxOptions): StreamMux {
  const { root, headers, fetch, reconnect } = options;
  const clock = options.clock ?? systemClock;
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

  /**
   * Opens the event stream (`GET /streams`) unless it is open. The id of the last event received goes out as
   * `Last-Event-ID` on each reconnect, so the server resumes right after it.
   */
  const open = (): void => {
    if (connection) return;
    setState({ state: 'connecting' });
    // Each reconnect sends the id of the last event received as `Last-Event-ID`.
    const streamHeaders: Record<string, string> = { ...headers, accept: 'text/event-stream' };
    let retryMs = reconnect?.initialDelayMs ?? 1000;
    let failures = 0;
    let stopped = false;
    let controller: AbortController | undefined;
    /** Cancels the pending reconnect, if any. */
    let cancelReconnect: (() => void) | undefined;
    // Aborts the request and cancels the pending reconnect; nothing this connection receives is acted on after it.
    connection = () => {
      stopped = true;
      controller?.abort();
      cancelReconnect?.();
    };

    const onMessage = (message: SseMessage): void => {
      if (stopped) return;
      if (message.id) streamHeaders['last-event-id'] = message.id;
      let data: unknown;
      try {
        data = message.data === '' ? null : JSON.parse(message.data);
      } catch {
        return fail(badResponse('An event is not JSON'));
      }
      const { event } = message;
      if (event === 'error') return fail(errorFromBody(500, data));
      if (event === 'end') return fail(badResponse('The stream session ended'));
      onEvent(event, data);
    };

    const connect = async (): Promise<void> => {
      controller = new AbortController();
      let failure: unknown;
      let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
      try {
        const response = await fetch(`${root}/streams`, {
          headers: streamHeaders,
          cache: 'no-store',
          signal: controller.signal,
        });
        if (!response.ok) {
          const error = await errorFromResponse(response);
          // Stopped meanwhile (the watchers left; those now watching have a connection of their own): nothing to tell.
          // Checked after this await only: a stop's abort fails any later read, so only a 200 that is not an event
          // stream (which the runtime's server never sends) is acted on after a stop that came during the fetch.
          if (stopped) return;
          if (isRetryable(response.status)) throw error;
          return fail(error);
        }
        if (!(response.headers.get('content-type') ?? '').includes('text/event-stream') || !response.body) {
          return fail(badResponse('The stream is not text/event-stream'));
        }
        failures = 0;
        const feed = sseParser(onMessage, (ms) => (retryMs = ms));
        // Bytes decoded here rather than through a TextDecoderStream: a piped stream costs several promises and
        // objects per chunk, and every chunk is an event to deliver now. `stream` keeps a character split between two
        // chunks; what is left undecoded at the end could only belong to an event never ended, which is not dispatched.
        const decoder = new TextDecoder();
        reader = response.body.getReader();
        for (;;) {
          const { done, value } = await reader.read();
          if (done || stopped) break;
          feed(decoder.decode(value, { stream: true }));
        }
        if (stopped) return;
      } catch (error) {
        // A read or a handler threw: let the response go before reconnecting, or it stays open and locked, one HTTP
        // connection leaked per failure. (Stopping aborts it already.) Not awaited: a cancel that never settles must
        // not hold back the reconnect; its rejection (an errored body) says nothing new.
        void reader?.cancel().catch(() => undefined);
        if (stopped) return;
        failures++;
        failure = error;
      }
      setState({ state: 'reconnecting', ...(failure instanceof Error ? { error: failure } : {}) });
      // The stream ended or failed: reconnect, resuming after the last event received.
      cancelReconnect = armTimeout(Math.min(reconnect?.maxDelayMs ?? 30_000, retryMs * 2 ** Math.max(0, failures - 1)), clock, connect);
    };

    void connect();
  };

  const onEvent = (event: string | undefined, data: unknown): void => {
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
      // Network failure: the connection notices too; a new session resends everything, a resumed one the rest (the
      // next flush leaves out what is no longer watched).
      if (sent === session) {
        for (const sub of added) toAdd.add(sub);
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
        method: 'DELETE', headers, keepalive: true,
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
      const id = String(++nextId);
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

/** Statuses worth retrying: server errors, timeouts, rate limits. Other 4xx answers would not change. */
function isRetryable(status: number): boolean {
  return status >= 500 || status === 408 || status === 429;
}
