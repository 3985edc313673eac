import { Observable, type Subscriber } from 'rxjs';
import { isDurableError, StoreClosedError, systemClock, UnavailableError, type Clock } from '@durable-rx/runtime';
import {
  armTimeout, CLOCK_METHODS, guardClock, hasMethods, isCount, isDelayMs, isFunction, isTimeoutMs, MAX_SUBSCRIPTIONS_PER_SESSION, readChecked,
} from '@durable-rx/runtime/client-kit';
import { badResponse, errorFromBody, errorStatusOf, isRetryable, jsonOf, readBody, RemoteError, tooLong } from './remote-error.js';
import { retryAfterMs } from './retry-after.js';
import { sseParser } from './sse-parser.js';

/**
 * How the event stream reconnects. Each delay is spread at random over its upper half (between half of it and all of
 * it), so that the clients a server restart cut off do not all come back at the same moment. A value that is not a
 * number in range (NaN, a negative, a `timeoutMs` or `maxDelayMs` of 0) is refused with `InvalidArgumentError` when the
 * client is created.
 */
export interface ReconnectOptions {
  /** Delay before the first reconnect when the server sent no `retry` hint (at least 1 ms; >= 0). Default 1000 ms. */
  readonly initialDelayMs?: number;
  /**
   * Upper bound of the delay, which doubles on each consecutive failure (> 0). Default 30 s. A stream refused with
   * `Retry-After` (a server at its `maxStreams`) waits that long, up to this bound, whatever delay was drawn.
   */
  readonly maxDelayMs?: number;
  /**
   * When a connection counts as lost (and is reconnected, resuming, as after any loss): nothing arrived on it (no
   * event, no heartbeat comment), or a subscription request sent over it got no answer (it is sent again after the
   * reconnect delay, as after a 5xx), for between this and twice this; or it did not go live (no `session` event
   * arrived, though other chunks did: `bad-response`) within this. Keep it above the server's heartbeat
   * interval (the runtime's `heartbeatMs`, 15 s by default). Default 20 s (> 0); `Infinity`: never. A connection that
   * stayed live for this long (or for `maxDelayMs`, when that is shorter) ends the count of consecutive failures (as one
   * that delivered a value does), also when this is `Infinity`; when both are `Infinity`, one that stayed live for 20 s
   * does.
   */
  readonly timeoutMs?: number;
}

/**
 * The state of a remote client's streaming connection, for UIs that show whether they are live:
 *
 * - `idle`: nothing is watched, no connection is open;
 * - `connecting`: the first connection is being opened;
 * - `live`: connected; every committed change is pushed as it happens;
 * - `reconnecting`: the connection was lost (`error` says why when known: a network error or one that timed out,
 *   `RemoteError` `unreachable`; a 5xx; or an event stream that ended before its `session` event or sent none within
 *   `reconnect.timeoutMs`: `bad-response`); it is retried with backoff, and resumes without losing anything;
 * - `failed`: the server refused the connection for a reason retrying cannot fix (`error`: e.g. 401, a wrong key);
 *   every observable watching through it errored with that error. The next subscription tries again (the React
 *   hooks subscribe again by themselves when the error is worth retrying: `isRetryableForHooks`).
 */
export type ConnectionState =
  | { readonly state: 'idle' }
  | { readonly state: 'connecting' }
  | { readonly state: 'live' }
  | { readonly state: 'reconnecting'; readonly error?: Error }
  | { readonly state: 'failed'; readonly error: Error };

/**
 * What one subscription watches (see the server's `POST /streams/{session}/subscriptions`). A history asks for
 * positions; its `after` is where its watch stands (the last position the server sent and the events since, see
 * `history$`), sent with the subscription each time it is sent: a new session skips what the watch has.
 */
export type WatchSpec =
  | { readonly kind: 'status'; readonly instanceId: string }
  | HistoryWatch
  | { readonly kind: 'instances'; readonly query: string };

/** A history's {@link WatchSpec}: `after` as the runtime's `HistoryPosition`, counted on in place. */
export interface HistoryWatch {
  readonly kind: 'history';
  readonly instanceId: string;
  readonly positions: true;
  after?: { readonly execution: string; events: number } | undefined;
}

/**
 * Told each value of a watched stream (`data`, parsed JSON); `first` when it is the subscription's first value in
 * the current session: the subscription was sent to a new session (the first, or one the server opened because it
 * could not resume the last), whose stream of it starts over.
 */
export type WatchedValue = (data: unknown, first: boolean) => void;

/** Options of {@link createStreamMux}. */
export interface StreamMuxOptions {
  /** The webhook root, e.g. `http://127.0.0.1:7071/runtime/webhooks/durabletask`. */
  readonly root: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly fetch: typeof fetch;
  readonly reconnect?: ReconnectOptions | undefined;
  /** Times the reconnect delays and the requests' timeout. */
  readonly clock?: Clock | undefined;
  /**
   * How long a request (`send`) waits for its whole answer before it fails `unreachable` (> 0; `Infinity`: for ever).
   * Default {@link DEFAULT_TIMEOUT_MS}, whatever `reconnect.timeoutMs` is.
   */
  readonly timeoutMs?: number | undefined;
  /** Where the reconnect delays are spread from: a number in [0, 1). Default `Math.random`. */
  readonly random?: (() => number) | undefined;
  /**
   * The longest answer body and stream event read, in bytes as they arrive (a positive integer; a longer event fails
   * only the watch it names, for good, and its rest is skipped for up to as many bytes again: one longer than twice
   * this also fails the stream, retried, see {@link sseParser}). Default {@link DEFAULT_MAX_RESPONSE_BYTES}.
   */
  readonly maxResponseBytes?: number | undefined;
}

/**
 * Default `maxResponseBytes` of a remote client: 32 MiB, 32 times the server's default request body limit (1 MiB, its
 * `maxBodyBytes`: the largest input or event payload a client may send it) and 2048 times its default custom status
 * limit (16 KiB). A server sends no frame larger than the value it carries; an `instances` value holds every
 * matching status, unpaged: raise it for larger values, or lists of many instances.
 */
export const DEFAULT_MAX_RESPONSE_BYTES = 2 ** 25;

/**
 * The default `timeoutMs` of a request (a command, a read): 20 s. Its own, not `reconnect.timeoutMs`: a watchdog set
 * short to notice a dead stream soon would give every command as short a deadline, and `Infinity` (no watchdog) none.
 */
const DEFAULT_TIMEOUT_MS = 20_000;

/**
 * How long a stream stays live to end the count of consecutive failures when `reconnect.timeoutMs` and
 * `reconnect.maxDelayMs` are both `Infinity`: 20 s, the default `timeoutMs`.
 */
const WORKED_MS_UNBOUNDED = 20_000;

/**
 * The deadline of the DELETE of a session that a close (or the end of the last watch) sends, or `timeoutMs` when
 * shorter: nobody waits for its answer (the session expires anyway), so it holds a socket and a timer no longer.
 * Counted in {@link DELETE_STEPS} timers, each set when the one before fired (see `send`).
 */
const DELETE_DEADLINE_MS = 2000;

/**
 * The timers the DELETE's deadline is counted in: a loop stalled past the whole deadline before the request went out
 * (a loaded machine) makes one of them late, not the deadline, so the request still has three quarters of it once the
 * loop runs again.
 */
const DELETE_STEPS = 4;

/** One subscriber of a watch: told when the watch ends, and what is told each value (a throw errors the subscriber). */
type Watcher = [subscriber: Subscriber<unknown>, next: WatchedValue];

/** What one subscription on the server serves: a history to its one watcher, a status or list to all of its watchers. */
interface Entry {
  readonly spec: WatchSpec;
  /** The id of its subscription on the server. */
  readonly id: string;
  /** Its spec's JSON while watches may join it (a status or list whose subscription was not sent yet); else `''`. */
  key: string;
  readonly watchers: Set<Watcher>;
  /** The session the server sent its latest value in; none before its first. */
  seen?: string;
}

/** A remote client's streams over one connection (see {@link createStreamMux}). */
export interface StreamMux {
  /**
   * The connection's state; emits the current state at once, then every change. (What a `BehaviorSubject` does; this
   * keeps rxjs's `Subject` out of the page.)
   */
  readonly state$: Observable<ConnectionState>;
  /**
   * An Observable that watches `spec` over the shared session while subscribed. `emitter(subscriber, own)` is called
   * once per subscription, with the copy of `spec` sent for it (a history's own: the emitter may update it), and
   * returns what is told each value the server sends for it, and whether it is the first in a session (it emits what
   * it makes of the value to `subscriber`; a throw errors that subscriber alone); the subscriber completes when the
   * server ends the subscription and errors with the typed error when it fails or the connection is refused.
   * Unsubscribing stops watching.
   *
   * The watches of one status or list (the same `spec`) made before its request leaves (synchronously together:
   * the hooks of one render, a `Promise.all` of watches) share one subscription on the server, which the last of them
   * to end unsubscribes; each is told every value of it. One made after it was sent takes a subscription of its own
   * (which later watches may share in turn): its first value is read by the server after it subscribed, and the
   * watches already there keep theirs, untouched.
   */
  watch<T, S extends WatchSpec = WatchSpec>(spec: S, emitter: (subscriber: Subscriber<T>, own: S) => WatchedValue): Observable<T>;
  /**
   * Sends a request to `root` + `path` with the client's headers (plus `extra`), with `body` as JSON unless it is
   * `undefined`: resolves with the answer's JSON body (`NaN` when it has none, see `jsonOf`) and headers when it is
   * 2xx; rejects with the typed error the server answered with (see `errorFromBody`), with `RemoteError` `unreachable`
   * (503) when the request fails on the way, `until` aborts it or, unless `until` is the signal of the current attempt of
   * the event stream (a subscription change, which its watchdog times), the answer is not all there within the
   * `timeoutMs` option (a connection that went silent without closing), or with `StoreClosedError` once the mux is
   * closed (also a request on its way then, which is aborted; a request with an `until` of its own is not aborted, but
   * its answer is refused so). The one path of the client's commands, of the subscription changes (which pass their
   * stream's signal as `until`: aborted when that stream ends, and by `close()`) and of the session's deletion (an
   * `until` that nothing aborts: it waits for no subscription, and is sent after the close too).
   *
   * A command (a request other than a GET, without an `until`) made while a watch made before it has a subscription
   * the server has not answered yet leaves only once it has (or the watch ended, or an attempt of the event stream
   * failed, or `timeoutMs` passed: then it goes anyway, its own `timeoutMs` counting from there), so that the watch sees
   * what the command commits; with none such, at once. The same holds for a watch made in the same tick as the command
   * (its subscription request leaves later, on a microtask), and for every watch once the stream is live in a new session
   * (the server could not resume the last: each is subscribed again, and starts over in it). From a failed attempt until
   * the next session starts (the reconnect delay, the next attempt), a command does not wait at all: no subscription can
   * be answered before then. A read (GET) never waits.
   */
  send(method: string, path: string, body?: unknown, extra?: Readonly<Record<string, string>>, until?: AbortSignal): Promise<[unknown, Headers]>;
  /**
   * Releases everything: aborts the stream and every request on its way, clears the reconnect timer, completes every
   * watch and every `state$` subscriber (after `idle`; a later one gets `idle` and completes at once), and deletes
   * the server session (best effort: it expires anyway; a request given up after 2 s of the clock, or `timeoutMs` when
   * shorter, since nobody waits for its answer; counted in steps, so that a stalled loop does not give it up unsent). Later watches error and later requests reject with
   * `StoreClosedError`. Idempotent.
   */
  close(): void;
  /** Aborted by `close()`, with the `StoreClosedError` later calls get as its reason. */
  readonly signal: AbortSignal;
  /** Calls `onTimeout` after `ms` on the mux's clock (see `armTimeout`); returns the function that clears it. */
  arm(ms: number, onTimeout: () => void): () => void;
}

/**
 * All streams of one remote client over one Server-Sent Events session (`GET /streams`), however many instances,
 * lists and histories are watched; the watches of one instance status or list made together share one subscription
 * (see `watch`).
 *
 * The connection opens with the first subscription and closes (deleting the server session) when the last one ends,
 * once the task that ended it has run (a 0 ms timer): awaiting one watch after another keeps it.
 * Subscriptions and unsubscriptions made in the same tick go to the server in one request; those made while the
 * connection is not live go once it is (to the session it resumed, or with every watch to a new one). The connection
 * reconnects with `Last-Event-ID`: the server resumes the session, so every subscription continues exactly after the
 * last event received. When the server cannot resume (it restarted, the resume window passed), it opens a new session and every
 * active subscription is sent again; each then restarts from the current snapshot, which the client's observables
 * de-duplicate (a history's subscription carries where it stands, and the server skips what it has).
 *
 * The stream is read over `fetch` (so it can send `Authorization` headers, which `EventSource` cannot) and parsed
 * with {@link sseParser}. When it ends or fails, it reconnects (after the server's `retry` hint, doubling on
 * consecutive failures up to `maxDelayMs`; a stream that ends before its `session` event, or sends none within
 * `timeoutMs`, is a failure, and so is one that ends before it delivered a value or stayed live for `timeoutMs` (or
 * `maxDelayMs`, when shorter; 20 s when both are `Infinity`): only those end the count, not a connect nor a
 * subscription request that succeeds; one
 * on which nothing arrives, heartbeats included, or whose subscription request goes unanswered, for `timeoutMs` is a
 * failure too); an answer that retrying cannot fix (4xx other than 408/429, not an event stream, an event that is not
 * JSON, a `session` event that names no session) fails every watch instead (a session sends no `error` or `end` event:
 * those end single streams only; a stream that ends is reconnected). A subscription request goes with the stream it was sent
 * for (aborted when it ends). One that fails breaks the connection off, so it is sent again after the same delay,
 * never at once, to the resumed session (or with every watch to the new one the server opens instead) when it failed
 * on the network or with its stream or the server answered 404, 408, 429 or 5xx; another 4xx answer (a refusal, which
 * changed nothing) fails the watches it added and deletes the session, which still holds those it would have removed:
 * a new session gets every watch still active. A status or list watch the server ends before its first value fails
 * with `UnavailableError` (`unavailable`, 503: it says nothing of the instance); a history may have no events, and
 * completes.
 *
 * A command waits for the subscriptions of the watches made before it (see `send`), those sent again to a new session
 * too: the server subscribes a watch before it answers the request that carried it, so what the command commits
 * reaches the watch, as with the local client.
 *
 * Every subscription the client sent is unsubscribed by the client when its watch ends, however it ends (unsubscribed,
 * or closed or refused by the server): a subscribe sent again after its answer was lost may have reached the server
 * after the server closed the first one, and would otherwise stay there with nobody to end it. `close()` releases the
 * whole session.
 *
 * A closure rather than a class: its state is local variables, which a minifier shortens (private fields it cannot).
 */
export function createStreamMux(options: StreamMuxOptions): StreamMux {
  const { root, headers, random = Math.random, reconnect, ...checked } = options;
  const { fetch } = options;
  // Checked here, once: a delay that is NaN, negative or 0 would reconnect without pause, or never go live.
  const { initialDelayMs = 1000, maxDelayMs = 30_000, timeoutMs = 20_000 } = readChecked(reconnect, 'reconnect', {
    initialDelayMs: isTimeoutMs, maxDelayMs: isDelayMs, timeoutMs: isDelayMs,
  });
  // The rule of each kind, before anything is made: a `fetch` that is no function, a `clock` that is no Clock.
  const { timeoutMs: requestTimeoutMs = DEFAULT_TIMEOUT_MS, clock = systemClock, maxResponseBytes = DEFAULT_MAX_RESPONSE_BYTES } = readChecked(checked, 'options', {
    timeoutMs: isDelayMs, fetch: isFunction, clock: hasMethods<Clock>(CLOCK_METHODS), maxResponseBytes: isCount,
  });
  // Guarded once (reports to the console): a clock that fails to clear a deadline is reported, not thrown into a
  // request's end (its answer lost) or a stream's teardown.
  const guarded = guardClock(clock, undefined, "the remote client's clock");
  const arm: StreamMux['arm'] = (ms, onTimeout) => armTimeout(ms, guarded, onTimeout);
  /**
   * How long an attempt stays live to prove that the connection works (see `failures`): `timeoutMs`, or the longest
   * reconnect delay when that is shorter (or `timeoutMs` is `Infinity`), or {@link WORKED_MS_UNBOUNDED} when both are
   * `Infinity` (never would keep every failure counted, and the delay doubling without end, while a stream that
   * delivers nothing is cut time after time). A stream cut after that long (a proxy's or a platform's cap on a
   * response's duration) reconnects after the server's hint, at most about once per this.
   */
  const workedMs = timeoutMs === Infinity && maxDelayMs === Infinity ? WORKED_MS_UNBOUNDED : Math.min(timeoutMs, maxDelayMs);
  /** The watched entries by the id of their subscription. */
  const entries = new Map<string, Entry>();
  /** The entries of statuses and lists whose subscription was not sent yet (see `watch`), by their spec's JSON. */
  const shared = new Map<string, Entry>();
  let state: ConnectionState = { state: 'idle' };
  const stateWatchers = new Set<Subscriber<ConnectionState>>();
  let nextId = 0;
  /**
   * Consecutive failures of the connection, which double the reconnect delay. Only an attempt that proved the
   * connection works ends the count: it told a subscription a value while none of its changes was on its way or
   * waiting, or it stayed live for `workedMs` (`timeoutMs`, or `maxDelayMs` when shorter, or 20 s when both are
   * `Infinity`). Not a connect, nor a subscription request that succeeds: a stream that ends just after its `session`
   * event, or whose subscription request the server fails every time, backs off.
   */
  let failures = 0;
  /** The body of the subscription request on its way, if any. */
  let asking: object | undefined;
  /**
   * Stops the open event stream; with an `error` (why), breaks it off instead, to reconnect after the reconnect delay,
   * in a new session (no `Last-Event-ID`) when `fresh`.
   */
  let connection: ((error?: Error, fresh?: boolean) => void) | undefined;
  /**
   * Aborts the current attempt of the event stream: when it is stopped or broken off, and once it has ended. A
   * subscription request goes with the stream it was sent for, so none outlives its connection.
   */
  let controller: AbortController | undefined;
  let session: string | undefined;
  /**
   * Subscription ids to send on the next flush: those still watched are subscribed, the others (ended, so never
   * watched again: ids are not reused) unsubscribed.
   */
  let pending = new Set<string>();
  /** A flush is scheduled or on its way: changes made meanwhile wait for its end. */
  let flushing = false;
  /** Clears the timer that closes the connection after the last watch ended, if any. */
  let linger = (): void => {};
  /** Aborted by `close()`: the mux itself, and (see `send`) every request on its way. */
  const closer = new AbortController();
  const { signal } = closer;
  /** The requests on their way that only the close aborts (see `send`). */
  const requests = new Set<AbortController>();
  /**
   * The watches (by id) whose subscription the server has not acknowledged yet: no answer to a subscription request
   * that carried it has come from its session (a new session gets every watch again: all of them, then). A command
   * waits for those made before it (see `send`). In the order they were made (ids only grow, and none is added twice;
   * `entries` is in that order too), so the first is the oldest.
   */
  let unacked = new Set<string>();
  /**
   * The commands waiting for them, in the order they were made: what lets each go (once), and the id of the last
   * watch made before it (so those ids never decrease down the map).
   */
  const waiting = new Map<() => void, number>();
  /**
   * Opens the event stream (`GET /streams`) unless it is open. The id of the last event received goes out as
   * `Last-Event-ID` on each reconnect, so the server resumes right after it.
   */
  const open = (): void => {
    if (connection) return;
    setState('connecting');
    // A watcher of that state may have closed the client: then nothing is opened.
    if (signal.aborted) return;
    /** The last event id, which each reconnect sends as `Last-Event-ID`; `''`: none. */
    let lastEventId = '';
    let retryMs = initialDelayMs;
    /** What the last refusal's `Retry-After` asked to wait (ms; 0: nothing), for the next reconnect only. */
    let refusedMs = 0;
    failures = 0;
    let stopped = false;
    /** When the current attempt had its `session` event, in ms of the clock; `undefined` before it. */
    let liveSince: number | undefined;
    /**
     * The current attempt told a subscription a value while none of its changes was on its way or waiting: it proved
     * that the connection works (see `failures`), as it does by staying live for `workedMs`.
     */
    let delivered = false;
    /**
     * Clears the connection's one timer: the current attempt's watchdog while it runs, the pending reconnect after
     * it ended.
     */
    let unarm!: () => void;
    // Aborts the request: nothing this connection receives is acted on after it. A stop also clears the timer (the
    // pending reconnect); a break (with an error) leaves the reconnect to the failure it causes (or to the one pending).
    connection = (error, fresh) => {
      if (fresh) lastEventId = '';
      if ((stopped = !error)) unarm();
      controller?.abort(error);
    };

    /** Acts on one event of the stream: a session's start, a subscription's value or end, or the stream's failure. */
    const onMessage = (event: string | undefined, text: string, _id?: string, over?: number): void => {
      if (stopped) return; // stopped by an event before it in the same chunk
      if (over) {
        // Too long to hold (a list of many statuses, say): the subscription it belongs to, named at the start of its
        // data, fails alone, and the parser skips the rest of it (held no more), up to another maxResponseBytes. One
        // that names none (a broken server or proxy: a line never ended, data never closed) fails the stream, as an
        // event that is not JSON; so does one whose rest passes that bound too (`over` 2, no data: a server that
        // never ends it would keep the stream reading, and discarding, for ever).
        const sub = /^\{"sub":"(\w*)"/.exec(text)?.[1];
        // Final for the hooks (see tooLong) only as a watch's own error: its value would come again as long. The
        // stream's failure is retried, by an event that names none or at `over` 2: that event's watch has failed for
        // good already (`over` 2 follows an `over` 1 that named one; one that named none failed the stream), so the
        // other watches, subscribed again on a new stream, do not get it again; each such failure ends one more watch.
        const error = tooLong('An event', maxResponseBytes, sub !== undefined);
        return sub === undefined ? fail(error) : end(entries.get(sub), error);
      }
      // JSON that is no object has no members to read (`undefined` each); `null` would throw.
      let data: Record<string, unknown> | null;
      try {
        data = JSON.parse(text);
      } catch {
        return fail(badResponse('An event is not JSON'));
      }
      if (event === 'session') {
        const next = data?.session;
        // A server of another protocol (or a proxy's rewrite): it names no session that this client could resume.
        if (typeof next !== 'string') return fail(badResponse('The event stream sent no session'));
        liveSince ??= guarded.nowMs();
        // Live again (below): commands made from here on wait for the subscriptions this session has not answered yet.
        if (next !== session) {
          // A new session (the first, or the server could not resume): (re)send every active subscription, which it
          // has not answered, then: each watch starts over in it, and a command the server applied first would be lost
          // to it.
          session = next;
          pending = new Set(unacked = new Set(entries.keys()));
        }
        setState('live');
        return scheduleFlush();
      }
      // Every connection starts with its `session` event, so `session` is the one these events came in.
      if (!data || !session) return;
      const sub = data.sub as string;
      const entry = entries.get(sub);
      if (!entry) return; // unsubscribed meanwhile (or not a subscription's event)
      // The connection works: it ends the failure count (not while a subscription change is on its way or waiting: a
      // request the server fails every time backs off however busy the other watches are).
      if (!asking && !pending.size) delivered = true;
      if (event === 'close') {
        // A status or list watch starts with the current value, so one ended before it says nothing of what it
        // watches (not that the instance does not exist): a watcher not told one yet fails, as a stream the server
        // cut. A history may have none.
        // With the server's status of the error (500 from a server that sends none, or one that is no error status).
        const error = data.error ? errorFromBody(errorStatusOf((data.error as { status?: unknown }).status), data.error) : undefined;
        return end(entry, error, error ?? (entry.spec.kind === 'history' ? undefined : new UnavailableError('no status arrived')));
      }
      const first = entry.seen !== session;
      entry.seen = session;
      // Each watcher gets a value of its own (the others' parsed again): one that changes what it got (a status's
      // input, say) changes nothing another watcher sees, as with the local client.
      let n = 0;
      for (const watcher of entry.watchers) {
        try {
          watcher[1](n++ ? (JSON.parse(text) as { data: unknown }).data : data.data, first);
        } catch (error) {
          watcher[0].error(error);
        }
      }
    };

    const connect = async (): Promise<void> => {
      const attempt = (controller = new AbortController());
      const { signal } = attempt;
      let failure: unknown;
      /** What to cancel if the attempt fails or is stopped before its body is read (`readBody` lets go of it then). */
      let body: ReadableStream | null | undefined;
      // The watchdog, one timer per attempt: a tick that finds no chunk arrived since the one before (a half-open
      // connection, a proxy that stopped forwarding), or the same subscription request still on its way, breaks the
      // stream off (which aborts the request), to reconnect; so does one that finds the stream not live yet (chunks
      // came, heartbeats say, but no `session` event: a server of another protocol would hold it `connecting` for ever).
      let heard = false;
      let seen: object | undefined;
      liveSince = undefined;
      delivered = false;
      const watch = (): void => {
        unarm = arm(timeoutMs, () => !heard || asking && asking === seen
          ? attempt.abort(new RemoteError('unreachable', 503, 'timed out'))
          : liveSince !== undefined
            ? (heard = false, seen = asking, watch())
            : attempt.abort(badResponse('The event stream sent no session')));
      };
      watch();
      try {
        const response = await fetch(`${root}/streams`, {
          headers: { ...headers, accept: 'text/event-stream', ...(lastEventId && { 'last-event-id': lastEventId }) }, cache: 'no-store', signal,
        });
        body = response.body;
        // Stopped or broken off meanwhile (a fetch that ignores its signal resolves anyway): nothing to act on, and the
        // body, which no abort reaches then, is cancelled below, or the HTTP connection stays open with it unread.
        signal.throwIfAborted();
        if (!response.ok) {
          // A body too long reads as an error body: `bad-response` with its message, and the answer's status.
          const error = errorFromBody(response.status, await jsonOf(response, maxResponseBytes));
          // Reading the refusal ends when a stop aborts it, with an error from the aborted body or none at all.
          signal.throwIfAborted();
          if (!isRetryable(response.status)) return fail(error);
          // A server at its `maxStreams` (or a proxy shedding load) says when to come back: not sooner.
          refusedMs = retryAfterMs(response.headers.get('retry-after'), guarded.nowMs());
          throw error;
        }
        if (!response.headers.get('content-type')?.includes('text/event-stream')) return fail(badResponse('Not an event stream'));
        // Given the bytes as they come (it decodes them, counting them for maxResponseBytes first) rather than through a
        // TextDecoderStream: a piped stream costs several promises and objects per chunk, and every chunk is an event
        // to deliver now. What is left undecoded at the end could only belong to an event never ended, never dispatched.
        const feed = sseParser(onMessage, (ms) => (retryMs = ms), (id) => (lastEventId = id), maxResponseBytes);
        await readBody(response, (chunk) => {
          // A read that resolved before the abort is not acted on either.
          signal.throwIfAborted();
          heard = true;
          feed(chunk);
        });
        // Nor its end.
        signal.throwIfAborted();
        // One that ended before its `session` event (no body, an empty one: a proxy's answer, say) never went live: a
        // failure, so that the delay backs off rather than polling the server for ever, and the state says why.
        if (liveSince === undefined) throw badResponse('The event stream ended before its session');
      } catch (error) {
        if (stopped) return;
        // Typed, as `send` rejects: a network failure (fetch's bare TypeError) is `unreachable`.
        failure = isDurableError(error) ? error : cannotReach(`${root}/streams`, error);
      } finally {
        unarm();
        // However the attempt ended (a read or a handler threw, it was stopped or broken off, the answer was refused or
        // is no event stream, or the stream ended), the response goes before anything else, or it stays open (and
        // locked), one HTTP connection leaked each time. (An abort reaches it too, unless the fetch ignores its
        // signal; a body read to its end has nothing left to let go.) Not awaited: a cancel that never settles must not
        // hold back the reconnect; its rejection (an errored or locked body) says nothing new.
        void body?.cancel().catch(noop);
      }
      // The stream is over: a subscription request still on its way goes with it (it is sent again once live again).
      attempt.abort();
      // A failure, unless it ended after it proved the connection works (see `failures`): one that ends just after its
      // `session` event (a proxy that cuts every response, a server that closes each stream at once) backs off too,
      // rather than reconnecting after the server's `retry` hint for ever. One that failed after that counts as the
      // first failure; a long-lived stream that just ended reconnects after the hint.
      const worked = delivered || liveSince !== undefined && guarded.nowMs() - liveSince >= workedMs;
      failures = worked ? +!!failure : failures + 1;
      // The commands waiting for subscriptions go now rather than wait for the next attempt (as long as the reconnect
      // delay and then some): a failing stream must not hold every command back. So do those made until the next
      // session starts (while `reconnecting`): each would otherwise wait for a subscription that cannot be answered
      // before then. Those watches start from the value the server reads when their subscription reaches it.
      // Why, when it failed (none when a live stream just ended): what fetch, a read or the abort threw, an Error.
      setState('reconnecting', failure as Error | undefined);
      settle(true);
      // A watcher of that state may have closed the client: then nothing is armed again.
      if (stopped) return;
      // The stream ended or failed: reconnect, resuming after the last event received. The delay is at least 1 ms, so
      // that doubling it on consecutive failures means something also after a `retry: 0` hint (or a delay of 0); each is
      // spread over its upper half (a product, so that `Infinity` stays never), so that the clients one restart cut off
      // come back spread out rather than all at once; in whole milliseconds, as clocks count.
      // A refusal's `Retry-After` is waited out whole (up to `maxDelayMs`, the client's own bound), however short the
      // delay drawn.
      const delayMs = Math.ceil(Math.min(maxDelayMs, Math.max(retryMs, 1) * 2 ** Math.max(0, failures - 1)) * (1 - random() / 2));
      unarm = arm(Math.max(delayMs, Math.min(maxDelayMs, refusedMs)), connect);
      refusedMs = 0;
    };

    void connect();
  };

  /** Makes `name` (with `error`, why, when known) the connection's state and tells every watcher. */
  const setState = (name: ConnectionState['state'], error?: Error): void => {
    const next = (state = (error ? { state: name, error } : { state: name }) as ConnectionState);
    // A copy: a watcher that subscribes while being told gets the new state from the subscription, not twice. A state
    // set by a watcher while being told (it watched from its `idle` handler) was told to all: the rest skip the old one.
    for (const watcher of [...stateWatchers]) if (state === next) watcher.next(next);
  };

  const scheduleFlush = (): void => {
    if (!flushing) queueMicrotask(flush);
    flushing = true;
  };

  // The request's deadline: `steps` timers of `stepMs`, each set when the one before fired; one of `timeoutMs` unless
  // given (the session's DELETE has one of its own, see `drop`).
  const send = async (
    method: string, path: string, body?: unknown, extra?: Readonly<Record<string, string>>, until = signal,
    stepMs = requestTimeoutMs, steps = 1,
  ): Promise<[unknown, Headers]> => {
    // A command (any request but a GET, except the subscription changes, which have an `until` of their own) goes once
    // the server holds every watch made before it (see `settle`): what the command commits, the watch sees. Nothing
    // to wait for (the common case), or the event stream down (`reconnecting`: no session could answer one before the
    // next, whose `session` event makes it `live`): sent at once. (Every watch not acknowledged yet was made before it:
    // ids are taken in order.)
    if (unacked.size && state.state !== 'reconnecting' && method !== 'GET' && until === signal) {
      await new Promise<void>((resolve) => {
        // Bounded: a subscription that the server neither answers nor refuses (and no stream failure either) holds it
        // for `timeoutMs` at most; then it goes anyway, with a deadline of its own. (A timer never fires at once.)
        const go = (): void => {
          waiting.delete(go);
          unarm();
          resolve();
        };
        const unarm = arm(requestTimeoutMs, go);
        waiting.set(go, nextId);
      });
    }
    const url = `${root}${path}`;
    let response: Response;
    let json: unknown;
    // The request's deadline: a connection that went silent without closing (a network switch, a sleep, a NAT that forgot
    // the flow) answers never, and a command must fail rather than hang. Cleared however the request ends.
    // (A subscription change, on the signal of its stream's current attempt, is timed by that stream's watchdog instead.)
    /** The deadline's error once it passed: the request's answer then, whatever the aborted fetch threw. */
    let late: RemoteError | undefined;
    // The request's own signal, aborted by `until` or the deadline: not AbortSignal.any, whose signals that follow a
    // long-lived one (the close) have leaked in Node. A stream's `until` (one request at a time) is followed by a
    // listener, removed when the request ends; the close aborts the requests of its own signal from `requests`: a
    // listener each on it would make Node warn of a leak with more than ten commands on their way.
    const request = new AbortController();
    const follow = () => request.abort(until.reason);
    let unarm = noop;
    const tick = (): unknown => steps-- ? (unarm = arm(stepMs, tick)) : request.abort(late = new RemoteError('unreachable', 503, 'timed out'));
    if (until !== controller?.signal) tick();
    if (until.aborted) follow();
    else if (until === signal) requests.add(request);
    else until.addEventListener('abort', follow);
    try {
      // Rejects at once, with the close's error, once closed.
      response = await fetch(url, {
        method,
        // The content type also without a body: the server reads a body only when it has bytes.
        headers: { accept: 'application/json', 'content-type': 'application/json', ...headers, ...extra },
        body: JSON.stringify(body), // undefined (no body) for undefined
        cache: 'no-store',
        signal: request.signal,
      });
      json = await jsonOf(response, maxResponseBytes);
      // A body cut by the close (or the deadline) reads as no body: the close (the deadline) is the answer.
      signal.throwIfAborted();
      if (late) throw late;
    } catch (error) {
      throw signal.reason ?? late ?? cannotReach(url, error);
    } finally {
      requests.delete(request);
      until.removeEventListener('abort', follow);
      unarm();
    }
    // Too long: refused whatever the status (as an error body it would read as `bad-response` with the answer's status).
    if (json instanceof RemoteError) throw json;
    if (response.ok) return [json, response.headers];
    throw errorFromBody(response.status, json);
  };

  /**
   * Sends the pending changes of the current session, one request at a time. A request that fails is not sent again
   * at once: the connection is broken off, and the changes go out when it is live again after its reconnect delay.
   */
  const flush = async (): Promise<void> => {
    const sent = session;
    // Not live (the stream was lost and the next is being opened): the changes wait for its `session` event, which
    // sends them to the session it resumes (or every watch to a new one). Sent now, they would go with a stream that is
    // over, or to a session the server has forgotten (a restart), whose 404 would break off the stream being opened.
    if (state.state !== 'live') return void (flushing = false);
    const ids = [...pending];
    pending.clear();
    if (!sent || !ids.length) return void (flushing = false);
    const added = ids.filter((id) => entries.has(id));
    const removed = ids.filter((id) => !entries.has(id));
    // A request lists at most MAX_SUBSCRIPTIONS_PER_SESSION unsubscribes and as many subscribes (the server refuses a
    // longer list as a whole); it applies the unsubscribes first, then the subscribes the session has room for, and
    // closes each one beyond that with its own error. So the unsubscribes past that many, and the subscribes after
    // them all, which the session may have room for only then, go in the next request (watches ended while a request
    // was on its way or the connection was down pile up here); of more watches made at once than a session holds (a
    // list rendered), the session's fill is served and only the rest are refused.
    const later = removed.splice(MAX_SUBSCRIPTIONS_PER_SESSION);
    for (const id of [...later, ...added.splice(later.length ? 0 : MAX_SUBSCRIPTIONS_PER_SESSION)]) pending.add(id);
    // Sent now: a watch made from here on may come after the server read its value, so it takes a subscription of its own.
    const subscribe = added.map((sub) => {
      const entry = entries.get(sub)!;
      unshare(entry);
      return { sub, ...entry.spec };
    });
    try {
      // One that gets no answer in time breaks its stream off (the watchdog): sent again as after a 5xx.
      await send('POST', `/streams/${encodeURIComponent(sent)}/subscriptions`, asking = { subscribe, unsubscribe: removed }, undefined, controller!.signal);
      // The server subscribed them before it answered (to a session replaced meanwhile, the new one's answer counts).
      if (sent === session) for (const id of added) unacked.delete(id);
      settle();
    } catch (error) {
      const { status } = error as RemoteError;
      if (sent !== session) {
        // Sent to a session that has been replaced meanwhile: the new one got every subscription.
      } else if (status === 404 || isRetryable(status)) {
        // Failed on the way or with its stream (`unreachable`: it may or may not have arrived), or the server is
        // struggling (5xx, part of it may be applied) or lost the session (404): sent again, after the reconnect delay,
        // to the same session once the connection has resumed it (subscribing and unsubscribing again change
        // nothing), or with every watch to the new session the server opens instead. No session is left behind.
        for (const sub of ids) pending.add(sub);
        return connection!(error as Error);
      } else {
        // The server refused the request (401, 403, 400: a malformed or too long list) and applied none of it: the
        // watches it added fail with its error, and the session, which still holds those it would have unsubscribed,
        // is deleted; a new one, after the reconnect delay, gets every watch still active.
        for (const sub of added) end(entries.get(sub), error as Error);
        return drop(error as Error);
      }
    } finally {
      asking = undefined;
      flushing = false;
    }
    // Changes made while this request was on its way. (After a failure, the `return`s above leave them to the
    // connection's next `session` event: sending them again at once would repeat the failure without end.)
    if (pending.size) scheduleFlush();
  };

  /**
   * Stops the connection, if any (with an `error`, breaks it off instead, to reconnect into a new session after the
   * reconnect delay), and forgets its session and pending changes; deletes the session it had on the server now
   * rather than after its resume window (best effort: it expires anyway).
   */
  const drop = (error?: Error): void => {
    connection?.(error, true);
    if (!error) connection = undefined;
    const had = session;
    session = undefined;
    pending.clear();
    // Sent at once, with a deadline (over a connection gone silent without closing it would wait for an answer for
    // ever, holding that connection, and a Node process), on a signal of its own that nothing aborts: no close refuses
    // it and it waits for no subscription. Nobody waits for its answer, so its deadline is short (DELETE_DEADLINE_MS,
    // or `timeoutMs` when shorter): nothing of a closed client, or of one whose last watch ended, holds a Node process
    // longer. Counted in DELETE_STEPS timers, each set when the one before fired: a loop stalled for longer than that
    // before the request left (a close() followed by seconds of work, a loaded machine) fires one late and the others
    // after it, so the request goes out and is given time to be answered, rather than being given up before it was
    // sent (the server would then hold the session, serving its watches, until its resume window passed). Bounded
    // all the same: by DELETE_STEPS timers. Its failure, and its rejection once closed, are let go (`send` turns a
    // fetch that throws into its rejection: close() must not throw half done).
    if (had) {
      send('DELETE', `/streams/${encodeURIComponent(had)}`, undefined, undefined, new AbortController().signal,
        Math.min(requestTimeoutMs, DELETE_DEADLINE_MS) / DELETE_STEPS, DELETE_STEPS).catch(noop);
    }
  };

  /**
   * Ends `entry` if it is still watched: errors its watchers with `error` (with `unseen` if none was told a value: they
   * all joined before its first), or completes them without one.
   */
  const end = (entry: Entry | undefined, error?: Error, unseen = error): void => {
    if (!entry || !forget(entry)) return;
    const failure = entry.seen ? error : unseen;
    for (const [subscriber] of entry.watchers) {
      if (failure) subscriber.error(failure);
      else subscriber.complete();
    }
  };

  /** The connection was refused for good (with `error`) or the mux closed (without): every watcher is ended. */
  const fail = (error?: Error): void => {
    linger();
    drop();
    // The watches of now: one a state watcher starts on hearing the new state belongs to the next connection.
    const ended = new Set(entries.values());
    setState(error ? 'failed' : 'idle', error);
    for (const entry of ended) end(entry, error);
  };

  /**
   * Forgets `entry`, however it ended (its last watcher unsubscribed, or the server ended or failed it), and
   * unsubscribes it on the server: always, so that no subscription is left there without an owner. (One the server
   * closed may have been subscribed anew by a request sent again after its answer was lost; one not sent yet, or
   * refused, is unknown there, and unsubscribing it changes nothing.) When it was the last, the connection closes once
   * the task that ended it has run (a 0 ms timer on the mux's clock, which `close()` clears): a view that re-subscribes
   * at once (a re-render), or code that awaits one watch after another (`for (…) await client.waitForCompletion(id)`),
   * keeps it. False when it was forgotten already.
   */
  const forget = (entry: Entry): boolean => {
    if (!entries.delete(entry.id)) return false;
    unshare(entry);
    // An ended watch holds no command back.
    if (unacked.delete(entry.id)) settle();
    // Without a session there is nothing to undo: the flush drops the change (a new session gets only what is watched).
    subscribe(entry.id);
    // (Only with a connection: the watches `fail` ends have none left, and close() must leave no timer.)
    if (entries.size === 0 && connection) linger(), linger = arm(0, closeIfUnused);
    return true;
  };

  /** Lets no more watches join `entry`. */
  const unshare = (entry: Entry): void => {
    if (entry.key) shared.delete(entry.key), entry.key = '';
  };

  /** Sends the change of subscription `id` with the next flush: subscribed while it is an entry's, else unsubscribed. */
  const subscribe = (id: string): void => {
    pending.add(id);
    scheduleFlush();
  };

  /**
   * Lets go the commands that no longer wait for anything: every watch made before them was acknowledged or has ended,
   * i.e. the oldest watch not acknowledged is younger than each. They are the first ones of `waiting` (both come in
   * order), so this costs one step per command let go, plus one. With `all`, every command (the stream failed).
   */
  const settle = (all?: boolean): void => {
    const oldest = all ? Infinity : +(unacked.values().next().value ?? Infinity);
    for (const [go, upTo] of waiting) {
      if (upTo >= oldest) return;
      go();
    }
  };

  const closeIfUnused = (): void => {
    if (entries.size === 0 && connection) fail();
  };

  return {
    state$: new Observable((subscriber) => {
      subscriber.next(state);
      // Once closed, the state stays `idle`: it is told at once and complete.
      if (signal.aborted) subscriber.complete();
      else stateWatchers.add(subscriber);
      return () => stateWatchers.delete(subscriber);
    }),
    send,
    signal,
    arm,
    close: () => {
      if (signal.aborted) return;
      closer.abort(new StoreClosedError('closed'));
      for (const request of requests) request.abort(signal.reason);
      fail();
      for (const watcher of stateWatchers) watcher.complete();
    },
    watch: (spec, emitter) => new Observable((subscriber) => {
      if (signal.aborted) return subscriber.error(signal.reason);
      // A history is a watch of its own (it stands where its watcher does); a status or list is joined while its
      // subscription was not sent (see `watch`). Without a session yet, the flush drops the change: the session's start
      // sends every watch.
      const key = spec.kind === 'history' ? '' : JSON.stringify(spec);
      const entry = shared.get(key) ?? { spec: { ...spec }, id: String(++nextId), key, watchers: new Set<Watcher>() };
      if (!entries.has(entry.id)) {
        entries.set(entry.id, entry);
        unacked.add(entry.id);
        if (key) shared.set(key, entry);
        subscribe(entry.id);
      }
      const watcher: Watcher = [subscriber, emitter(subscriber as Subscriber<never>, entry.spec as never)];
      entry.watchers.add(watcher);
      open();
      return () => {
        entry.watchers.delete(watcher);
        if (!entry.watchers.size) forget(entry);
      };
    }),
  };
}

function noop(): void {}

/** `RemoteError` `unreachable` (503) for `error`, what a request to `url` threw on the way. */
function cannotReach(url: string, error: unknown): RemoteError {
  return new RemoteError('unreachable', 503, `Cannot reach ${url}: ${error}`, { cause: error });
}
