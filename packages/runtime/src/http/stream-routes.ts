import type { Context, Hono } from 'hono';
import type { DurableClient } from '../client/durable-client.js';
import { jsonResponse } from '../client/json-response.js';
import type { GuardedClock } from '../env/guarded-clock.js';
import type { Logger } from '../env/logger.js';
import { DurableError } from '../model/errors/durable-error.js';
import { InvalidArgumentError } from '../model/errors/invalid-argument-error.js';
import { readHistoryPosition } from '../model/history-position.js';
import { errorResponse, type ErrorBody } from './error-response.js';
import { parseInstanceFilter } from './instance-filter-params.js';
import { parseInstanceIdSegment, QueryParams } from './query-params.js';
import { assertEscapesDecode } from './route-literal-path.js';
import { readJsonBody } from './read-json-body.js';
import { HeartbeatQueue } from './heartbeat-queue.js';
import { SESSION, SessionHub, type SessionMode, type StreamSession } from './session-hub.js';
import { MAX_SUBSCRIPTIONS_PER_SESSION } from './session-limits.js';
import { SSE_HEADERS, SseConnection, sseResponse, type SseConnectionOptions } from './sse-connection.js';
import { feedOf, historySpec, STREAM_KINDS, streamKey, type StreamSpec } from './stream-source.js';
import { FallbackTimer, fallbackText } from '../env/fallback-timer.js';
import { webhookPaths } from './webhook-paths.js';
import type { WireSanitiser } from './wire-sanitiser.js';

/** What {@link registerStreamRoutes} needs from the handler. */
export interface StreamRoutesOptions {
  readonly client: DurableClient;
  /** Puts statuses and history events on the wire (the handler's one sanitiser). */
  readonly wire: WireSanitiser;
  readonly resumeWindowMs: number;
  readonly resumeBufferBytes: number;
  readonly heartbeatMs: number;
  readonly reconnectDelayMs: number;
  /** Unread bytes past which a session writes nothing more to its connection until the reader has taken them. */
  readonly maxBacklogBytes: number;
  readonly maxStreams: number;
  /** Readers one commit is written to per turn of the event loop. */
  readonly fanOutSlice: number;
  /** Largest subscription change body (413 beyond). */
  readonly maxBodyBytes: number;
  readonly retryAfterSeconds: number;
  readonly errorBody: (error: unknown) => ErrorBody;
  /** Times resume windows, heartbeats and read tokens' expiries: the handler's clock, guarded. */
  readonly clock: GuardedClock;
  /**
   * Told of a clock that gives no time to the heartbeats, and of a stream closed because writing its event threw (the
   * handler's guarded logger).
   */
  readonly logger: Logger;
  /**
   * The stream a subscription of request `c` may have: `spec`, or `spec` narrowed (a read token's list within its
   * prefix); throws a `DurableError` (403 `forbidden`) for one it may not, which refuses that subscription alone.
   */
  readonly authorize: (c: Context, spec: StreamSpec) => StreamSpec;
  /** When the credential of request `c` expires (a read token's `expiresAt`, ms), or `undefined` for none (the key). */
  readonly expiryOf: (c: Context) => number | undefined;
  /**
   * Whose the sessions request `c` opens are, and which it may resume, change and delete (see `SessionMode`):
   * `undefined` for the key, one string per read token scope.
   */
  readonly ownerOf: (c: Context) => string | undefined;
}

/** The stream routes' single-stream response, and their `close()` (for the handler's). */
export interface StreamRoutes {
  /** Ends every stream and drops every session (see `SessionHub.close`), and stops the heartbeats. */
  readonly close: () => void;
  /** The SSE response of a single stream (`GET /instances/{id}/stream` …). */
  readonly singleStream: (c: Context, spec: StreamSpec) => Response;
}

/** Longest subscription id a client may choose. */
const MAX_SUB_ID_LENGTH = 64;

/**
 * Registers the multiplexed stream routes (see `SessionHub`) under `{base}/streams`, for each webhook base path:
 *
 * | route | answer |
 * |---|---|
 * | `GET /streams` (`Last-Event-ID` to resume) | SSE: `session` first (`{ session }`), then `status` / `history` / `instances` events `{ sub, data }` and `close` events `{ sub, error? }` of the session's subscriptions |
 * | `POST /streams/{session}/subscriptions` (body `{ subscribe?: [{ sub, kind, instanceId?, query?, untilTerminal?, positions?, after? }], unsubscribe?: [sub] }`) | 200 `{ session, subscriptions }` (the unsubscribes applied, then the subscribes in order; each one past the session's room gets its `close` event with an `invalid-argument` error, and each one a read token does not reach its `close` event with a 403 `forbidden` error); 400 malformed (an `after` too, either list longer than `MAX_SUBSCRIPTIONS_PER_SESSION`) or `sub` active with another stream (nothing changes), 403 not declared JSON from another origin (see `assertNotCrossSitePost`), 404 unknown session (or one opened with another credential: see `SessionMode`) |
 * | `DELETE /streams/{session}` | 204: the session and its subscriptions are released at once; 404 unknown (or another credential's) |
 *
 * `kind` is `status` or `history` (with `instanceId`) or `instances` (with `query`, the list filters as a query
 * string, e.g. `runtimeStatus=Running&instanceIdPrefix=order-`). What each sends is `streamSource`'s contract. A
 * history subscription with `positions: true` (or an `after`) sends a `position` event (`{ execution, events }`)
 * before each history's events (one without gets events only, as older clients expect); `after`, the last position
 * the client got with the count of history events it got since (`{ execution, events }`), makes a subscription to a
 * new session (the old one could not be resumed) skip the events the client has (`historyEventsHeld`); it is not part
 * of the stream (a subscription sent again with another `after` is the same), `positions` is.
 * Single streams (one URL per stream) are served by the same hub through {@link StreamRoutes.singleStream}.
 *
 * Subscribing is idempotent: a `sub` that is already active with the same stream (a request sent again because its
 * answer was lost, after the server applied it) is left as it is and answered as a success. Its events are not sent
 * again: the snapshot it started with went out on the session once, and a client that missed it gets it when it
 * resumes the session with `Last-Event-ID`. An active `sub` asked for another stream is refused (400).
 */
export function registerStreamRoutes(app: Hono, options: StreamRoutesOptions): StreamRoutes {
  // The streams' timers (resume windows, heartbeats, read tokens' expiries) are on the handler's guarded clock: what a
  // custom clock throws is reported, not thrown into a connection's close, which a feed's fan-out, a client that left
  // or `close()` runs (its session never released, the feed's other readers served no more). A timer that fires after
  // all finds itself no longer armed and does nothing.
  const { clock } = options;
  const hub = new SessionHub({
    resumeWindowMs: options.resumeWindowMs,
    bufferBytes: options.resumeBufferBytes,
    maxSubscriptions: MAX_SUBSCRIPTIONS_PER_SESSION,
    maxSessions: options.maxStreams,
    sliceSize: options.fanOutSlice,
    errorBody: options.errorBody,
    clock,
    logger: options.logger,
  }, nextTurn);
  const heartbeats = new HeartbeatQueue(clock, options.heartbeatMs, options.logger);
  const connectionOptions: SseConnectionOptions = {
    heartbeats, retryMs: options.reconnectDelayMs, maxBacklogBytes: options.maxBacklogBytes,
  };

  const respond = (c: Context, mode: SessionMode): Response => {
    if (c.req.method === 'HEAD') {
      // Hono answers HEAD with the GET handler and drops the body unread: never open a stream for it.
      return new Response(null, { status: 200, headers: SSE_HEADERS });
    }
    const lastEventId = c.req.header('last-event-id');
    // The reconnect of a single stream that finished, after its last event (an `EventSource` reconnects by itself when
    // the response ends): there is nothing more to send, and 204 is what makes an `EventSource` stop.
    if (hub.finished(mode, lastEventId)) return new Response(null, { status: 204, headers: { 'cache-control': 'no-store' } });
    // A reconnect that resumes its session is served however many streams are open: it adds none.
    const refusal = hub.refusal(mode, lastEventId);
    // A full server says when to come back (a client that honours it does not ask again meanwhile). A closing one does
    // not: it will serve nothing more, and the replica that replaces it (a rolling deploy, behind the same address) can
    // serve the client's next attempt, made after its own short delay.
    if (refusal === 'full') {
      return errorResponse(503, 'unavailable', 'Too many open streams', { 'Retry-After': String(options.retryAfterSeconds) });
    }
    if (refusal) return errorResponse(503, 'unavailable', 'The server is closing');
    const expiresAt = options.expiryOf(c);
    return sseResponse({
      open: (writer) => {
        const connection = new SseConnection(writer, connectionOptions);
        if (expiresAt !== undefined) {
          // Opened with a read token: the connection ends when the token expires (its stream stays resumable), so the
          // reconnect, which needs a token still valid, decides whether it goes on. The timer goes when the connection
          // closes, however: a web-stream response the server ended (its session deleted, its stream finished, the
          // handler closed) is never reported gone, and would hold it, and the connection, until the token expired.
          // The expiry is waited out in steps of at most one heartbeat interval, each checking the wall clock: a timer
          // counts only the time the machine is awake (a sleep, a VM paused, a wall clock set forward do not move it),
          // so one timer for the whole wait let a stream outlive its token by as long as the machine slept.
          // A clock that fails to arm a step has it set on the platform's timer instead (`FallbackTimer`), which asks
          // the clock again as it fires: reported, never thrown out of the timer's callback or into the stream's open.
          // With the platform's failing too, the step is tried again at the next turns (`retries`); once those fail,
          // the stream ends now rather than outlive its token: its reconnect, which checks the token, goes on or not.
          // A writer that throws as it ends (a socket broken as the response finishes) has the connection aborted:
          // reported, never thrown out of the timer's callback or the retry's turn (on a Node server, uncaught).
          const end = (): void => {
            try {
              connection.end();
            } catch (error) {
              options.logger.error("HTTP API: ending a stream as its read token expired failed; it is aborted", error);
              connection.cut();
            }
          };
          const expire = (): void => {
            if (!connection.open) return;
            const left = expiresAt - clock.nowMs();
            if (left > 0) arm(left);
            else end();
          };
          const timer = new FallbackTimer(clock, expire, { unref: true, retries: true });
          // Reported once for the stream, until the clock arms a step again; the end of the tries, always.
          const arm = (left: number): void => void timer.arm(Math.min(Math.max(0, left), options.heartbeatMs), (error, fallback, first) => {
            if (fallback === 'none') {
              options.logger.error("HTTP API: no timer could be armed for a read token's expiry; the stream ends now", error);
              end();
            } else if (first) options.logger.error(`HTTP API: the clock failed to arm a read token's expiry; ${fallbackText(fallback)}`, error);
          }, options.heartbeatMs);
          connection.onClose = () => timer.clear();
          arm(expiresAt - clock.nowMs());
        }
        hub.open(mode, lastEventId, connection);
        return connection.gone.bind(connection);
      },
    }, c.req.raw, {});
  };

  /** The session request `c` names, when it is the request's own. */
  const sessionOf = (c: Context): StreamSession => existing(hub, c.req.param('session')!, options.ownerOf(c));

  app.on('GET', webhookPaths('/streams'), (c) => {
    const owner = options.ownerOf(c);
    return respond(c, owner === undefined ? SESSION : { kind: 'session', owner });
  });

  app.on('POST', webhookPaths('/streams/:session/subscriptions'), async (c) => {
    sessionOf(c); // an unknown session is refused before its body is read
    const body = await readJsonBody(c.req.raw, options.maxBodyBytes);
    // Looked up again: the session may have ended (deleted, expired, handler closed) while the body arrived, and a
    // change to it would do nothing while answering 200.
    const session = sessionOf(c);
    const change = parseSubscriptionChange(body.present ? body.value : undefined, session, (spec) => options.authorize(c, spec));
    for (const sub of change.unsubscribe) session.unsubscribe(sub);
    for (const entry of change.subscribe) {
      if ('refused' in entry) {
        session.refuse(entry.sub, entry.refused);
        continue;
      }
      const { feed, untilTerminal } = feedOf(options.client, entry.spec, options.wire);
      session.subscribe(entry.sub, feed, untilTerminal, entry.key);
    }
    return jsonResponse({ session: session.id, subscriptions: session.subscriptionCount }, { headers: { 'cache-control': 'no-store' } });
  });

  app.on('DELETE', webhookPaths('/streams/:session'), (c) => {
    hub.delete(sessionOf(c).id, options.ownerOf(c));
    return new Response(null, { status: 204 });
  });

  const singleStream = (c: Context, spec: StreamSpec): Response => {
    const { feed, untilTerminal } = feedOf(options.client, spec, options.wire);
    return respond(c, { kind: 'single', key: streamKey(spec), spec: feed, untilTerminal });
  };

  const close = (): void => {
    hub.close();
    heartbeats.clear();
  };
  return { close, singleStream };
}

/** A later turn of the event loop, after pending I/O (`setImmediate` where there is one). */
function nextTurn(callback: () => void): void {
  const immediate = (globalThis as { setImmediate?: (callback: () => void) => unknown }).setImmediate;
  if (immediate) immediate(callback);
  else setTimeout(callback, 0);
}

/** The session `id` of `owner` (another owner's is answered as unknown: see `SessionMode`). */
function existing(hub: SessionHub, id: string, owner: string | undefined): StreamSession {
  const session = hub.get(id, owner);
  if (!session) throw new SessionNotFound(id);
  return session;
}

/** 404 for a session that expired, was deleted or never existed (the client opens a new one). */
class SessionNotFound extends DurableError {
  override readonly name = 'SessionNotFound';
  readonly code = 'session-not-found' as const;
  readonly status = 404 as const;

  constructor(id: string) {
    super(`No stream session ${JSON.stringify(id)} (it expired or the server restarted): open a new one`);
  }
}

/** A subscription to add, or one refused (by its `close` event) because the request may not have its stream. */
type Subscribe =
  | { readonly sub: string; readonly spec: StreamSpec; readonly key: string }
  | { readonly sub: string; readonly refused: unknown };

interface SubscriptionChange {
  /** The subscriptions to add: not active yet (those active with the same stream are left out), and those refused. */
  readonly subscribe: readonly Subscribe[];
  readonly unsubscribe: readonly string[];
}

/**
 * Validates a whole change before anything is applied, so a bad request changes nothing. Room is not checked here: the
 * route applies the unsubscribes, then the subscribes in order, and the session refuses each one it has no room for
 * (see `StreamSession.subscribe`).
 */
function parseSubscriptionChange(body: unknown, session: StreamSession, authorize: (spec: StreamSpec) => StreamSpec): SubscriptionChange {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new InvalidArgumentError('The body must be an object { subscribe?: [...], unsubscribe?: [...] }');
  }
  const { subscribe = [], unsubscribe = [] } = body as { subscribe?: unknown; unsubscribe?: unknown };
  if (!Array.isArray(subscribe) || !Array.isArray(unsubscribe)) {
    throw new InvalidArgumentError('subscribe and unsubscribe must be arrays');
  }
  // A session never holds more, so a longer list is a mistake; bounding both keeps a change's cost bounded too.
  if (subscribe.length > MAX_SUBSCRIPTIONS_PER_SESSION || unsubscribe.length > MAX_SUBSCRIPTIONS_PER_SESSION) {
    throw new InvalidArgumentError(`subscribe and unsubscribe list at most ${MAX_SUBSCRIPTIONS_PER_SESSION} subscriptions each`);
  }
  const removed = new Set(unsubscribe.map((sub) => subId(sub)));
  // Each one checked as it is given first (a malformed one refuses the whole request), then authorized: one the request
  // may not have is refused alone.
  const added = subscribe.map((entry) => subscriptionSpec(entry)).map(({ sub, spec }): Subscribe => {
    try {
      const allowed = authorize(spec);
      return { sub, spec: allowed, key: streamKey(allowed) };
    } catch (error) {
      return { sub, refused: error };
    }
  });
  const ids = new Set<string>();
  const fresh: Subscribe[] = [];
  for (const entry of added) {
    const { sub } = entry;
    if (ids.has(sub)) throw new InvalidArgumentError(`Subscription ${JSON.stringify(sub)} is listed twice`);
    ids.add(sub);
    if ('refused' in entry) {
      fresh.push(entry);
      continue;
    }
    const { key } = entry;
    const active = removed.has(sub) ? undefined : session.streamOf(sub);
    // The same stream again: a resend of a change already applied, which changes nothing.
    if (active === undefined) fresh.push(entry);
    else if (active !== key) throw new InvalidArgumentError(`Subscription ${JSON.stringify(sub)} is already active with another stream`);
  }
  return { subscribe: fresh, unsubscribe: [...removed] };
}

function subId(value: unknown): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_SUB_ID_LENGTH) {
    throw new InvalidArgumentError(`A subscription id must be a string of 1 to ${MAX_SUB_ID_LENGTH} characters`);
  }
  return value;
}

function subscriptionSpec(entry: unknown): { sub: string; spec: StreamSpec } {
  if (entry === null || typeof entry !== 'object') throw new InvalidArgumentError('Each subscription must be an object');
  const { sub, kind, instanceId, query, untilTerminal, after, positions } = entry as Record<string, unknown>;
  const id = subId(sub);
  if (typeof kind !== 'string' || !(STREAM_KINDS as readonly string[]).includes(kind)) {
    throw new InvalidArgumentError(`kind must be one of ${STREAM_KINDS.join(', ')}`);
  }
  if (untilTerminal !== undefined && typeof untilTerminal !== 'boolean') throw new InvalidArgumentError('untilTerminal must be a boolean');
  if (positions !== undefined && typeof positions !== 'boolean') throw new InvalidArgumentError('positions must be a boolean');
  if ((after !== undefined || positions !== undefined) && kind !== 'history') {
    throw new InvalidArgumentError('after and positions are about history positions: only a history subscription takes them');
  }
  if (kind === 'instances') {
    if (query !== undefined && typeof query !== 'string') throw new InvalidArgumentError('query must be a query string');
    // As in a request's URL (the handler's check before every route): read leniently, an escape that is no UTF-8 text
    // would be U+FFFD, a filter value no one asked for or a parameter name no filter reads, leaving the list unfiltered.
    if (query?.includes('%')) assertEscapesDecode(query, 'subscription query');
    return { sub: id, spec: { kind, filter: parseInstanceFilter(new QueryParams(new URLSearchParams(query ?? ''))) } };
  }
  if (typeof instanceId !== 'string') throw new InvalidArgumentError('instanceId must be a string');
  const watched = { instanceId: parseInstanceIdSegment(instanceId), untilTerminal: untilTerminal === true };
  if (kind === 'status') return { sub: id, spec: { kind, ...watched } };
  return { sub: id, spec: historySpec(watched.instanceId, watched.untilTerminal, readHistoryPosition(after, 'after'), positions) };
}
